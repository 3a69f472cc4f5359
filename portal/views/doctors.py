"""The public pages: home (find a doctor), the search results, a doctor's page with a week
of bookable slots, ratings and reviews."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST, require_safe

from accounts.models import User
from portal.access import PATIENT, portal_user_required
from portal.forms import ReviewVoteForm, WaitlistJoinForm
from portal.keyed import keyed_write, see_other
from portal.search import DoctorSearchForm, doctor_search
from portal.views.common import doctor_week, page, refusal, week_monday
from scheduling import selectors, services
from scheduling.day import clinic_today
from scheduling.models import GENERAL_VISIT_TYPE, Review
from scheduling.selectors import (
    VisitTypeChoice,
    doctor_list_public,
    doctor_rating_histogram,
    review_list_public,
    visit_type_list_visible_to,
    visit_type_resolve,
    visit_types_offered_by,
)

PAGE_SIZE = 20
REVIEWS_SHOWN = 5
WAITLIST_DEFAULT_DAYS = 30


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return page(request, "portal/home.html", {"form": DoctorSearchForm()})


@require_safe
def doctor_list(request: HttpRequest) -> HttpResponse:
    """?q=, ?specialty= and ?visit_type= (portal.search); 20 a page, by name."""
    form = DoctorSearchForm(request.GET)
    criteria = form.cleaned_data if form.is_valid() else {}
    doctors = doctor_search(
        q=criteria.get("q", ""),
        specialty=criteria.get("specialty", ""),
        visit_type=criteria.get("visit_type", ""),
    )
    paginator = Paginator(doctors, PAGE_SIZE)
    results = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page(
        request,
        "portal/doctor_list.html",
        {"form": form, "results": results, "query": query.urlencode()},
    )


def _visit_type_filter(request: HttpRequest) -> VisitTypeChoice | None:
    """`?visit_type=<slug>` (or `general`): the week shows only its blocks; an unknown slug
    is 400."""
    raw = request.GET.get("visit_type", "").strip()
    if not raw:
        return None
    chosen = visit_type_resolve(raw[:100])
    if chosen is None or (chosen != GENERAL_VISIT_TYPE and not chosen.active):
        raise BadRequest(gettext("Unknown visit type."))
    return chosen


def week_context(request: HttpRequest, doctor_id: int) -> dict:
    """The asked week (of the asked visit type); without ?week=, the week of the doctor's next
    bookable slot (of that type)."""
    visit_type = _visit_type_filter(request)
    if request.GET.get("week"):
        monday = week_monday(request)
    else:
        monday = week_monday(request, first_free_of=doctor_id, visit_type=visit_type)
    slug = getattr(visit_type, "slug", visit_type) or ""
    return {
        "week": doctor_week(doctor_id=doctor_id, monday=monday, visit_type=visit_type),
        "visit_type_slug": slug,
        "week_query": f"&{urlencode({'visit_type': slug})}" if slug else "",
    }


def doctor_context(request: HttpRequest, doctor_id: int, *, viewer=None) -> dict:
    profile = get_object_or_404(doctor_list_public(), user_id=doctor_id)
    histogram = doctor_rating_histogram(doctor_id=doctor_id)
    reviews = list(review_list_public(doctor_id=doctor_id, viewer=viewer)[:REVIEWS_SHOWN])
    visit_types = list(visit_types_offered_by(visit_type_list_visible_to(user=None), doctor_id))
    return {
        "profile": profile,
        "histogram": [(stars, histogram[stars]) for stars in sorted(histogram, reverse=True)],
        "reviews": reviews,
        "visit_types": visit_types,
        "slot_action": reverse("portal:holds"),
        "week_url": reverse("portal:doctor", args=[doctor_id]),
        "waitlist_form": WaitlistJoinForm(
            initial={
                "date_from": clinic_today(),
                "date_to": clinic_today() + datetime.timedelta(days=WAITLIST_DEFAULT_DAYS),
            },
            visit_types=visit_types,
        ),
        **week_context(request, doctor_id),
    }


def _viewer(request: HttpRequest):
    """A signed-in patient sees their own votes on the reviews (and may vote)."""
    user = request.user
    return user if user.is_authenticated and user.role == User.Role.PATIENT else None


@require_safe
def doctor_detail(request: HttpRequest, doctor_id: int) -> HttpResponse:
    """A public doctor (else 404), the visit types they offer, and a week of their bookable
    slots (?week=, TIME_ZONE; ?visit_type=<slug>: of that type); an htmx request for the
    week gets just that fragment."""
    context = doctor_context(request, doctor_id, viewer=_viewer(request))
    if request.htmx and request.htmx.target == "week":
        return page(request, "portal/_week.html", context)
    return page(request, "portal/doctor_detail.html", context)


@require_POST
@portal_user_required(PATIENT)
def review_vote(request: HttpRequest, review_id: int) -> HttpResponse:
    """review_vote: helpful (+1) or not helpful (-1) on another patient's review; the same
    vote again takes it back. A review one cannot see is 404; one's own is 409."""
    review = get_object_or_404(selectors.review_list_visible_to(user=request.user), pk=review_id)
    form = ReviewVoteForm(request.POST)
    if not form.is_valid():
        raise BadRequest(gettext("Vote helpful or not helpful."))
    url = reverse("portal:doctor", args=[review.doctor_id]) + f"#review-{review.pk}"

    def write() -> str:
        try:
            services.review_vote(
                actor=request.user, review=review, value=form.cleaned_data["value"]
            )
        except Review.DoesNotExist as error:  # deleted meanwhile
            raise Http404 from error
        return url

    answer = keyed_write(request, write, lambda record: url)
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    message, _ = refusal(answer.data)
    context = doctor_context(request, review.doctor_id, viewer=request.user)
    context["error"] = message
    return page(request, "portal/doctor_detail.html", context, status=answer.status_code)
