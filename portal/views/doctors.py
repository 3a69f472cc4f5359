"""The public pages: home (find a doctor), the search results, a doctor's page with a week
of bookable slots, ratings and reviews."""

from __future__ import annotations

import datetime

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_safe

from portal.forms import WaitlistJoinForm
from portal.search import DoctorSearchForm, doctor_search
from portal.views.common import doctor_week, page, week_monday
from scheduling.day import clinic_today
from scheduling.selectors import doctor_list_public, doctor_rating_histogram, review_list_public

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


def week_context(request: HttpRequest, doctor_id: int) -> dict:
    """The asked week; without ?week=, the week of the doctor's next bookable slot."""
    if request.GET.get("week"):
        monday = week_monday(request)
    else:
        monday = week_monday(request, first_free_of=doctor_id)
    return {"week": doctor_week(doctor_id=doctor_id, monday=monday)}


def doctor_context(request: HttpRequest, doctor_id: int) -> dict:
    profile = get_object_or_404(doctor_list_public(), user_id=doctor_id)
    histogram = doctor_rating_histogram(doctor_id=doctor_id)
    reviews = list(review_list_public(doctor_id=doctor_id, viewer=None)[:REVIEWS_SHOWN])
    return {
        "profile": profile,
        "histogram": [(stars, histogram[stars]) for stars in sorted(histogram, reverse=True)],
        "reviews": reviews,
        "slot_action": reverse("portal:holds"),
        "week_url": reverse("portal:doctor", args=[doctor_id]),
        "waitlist_form": WaitlistJoinForm(
            initial={
                "date_from": clinic_today(),
                "date_to": clinic_today() + datetime.timedelta(days=WAITLIST_DEFAULT_DAYS),
            }
        ),
        **week_context(request, doctor_id),
    }


@require_safe
def doctor_detail(request: HttpRequest, doctor_id: int) -> HttpResponse:
    """A public doctor (else 404) and a week of their bookable slots (?week=, TIME_ZONE);
    an htmx request for the week gets just that fragment."""
    context = doctor_context(request, doctor_id)
    if request.htmx and request.htmx.target == "week":
        return page(request, "portal/_week.html", context)
    return page(request, "portal/doctor_detail.html", context)
