"""The patient's waiting lists and offers; the mailed offer's page (accept or decline)."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from portal.access import PATIENT, portal_user_required
from portal.forms import WaitlistJoinForm
from portal.keyed import keyed_write, see_other
from portal.views.common import page, refusal
from scheduling import selectors
from scheduling.day import clinic_today
from scheduling.services.waitlist import waitlist_entry_cancel, waitlist_entry_create
from scheduling.services.waitlist_offers import waitlist_offer_accept, waitlist_offer_decline

OFFERS_SHOWN = 10
WAITLIST_DEFAULT_DAYS = 30


def _page(
    request: HttpRequest,
    *,
    error: str | None = None,
    status: int = 200,
    form: WaitlistJoinForm | None = None,
    doctor: User | None = None,
) -> HttpResponse:
    entries = selectors.waitlist_entry_list_visible_to(user=request.user).select_related(
        "doctor", "visit_type"
    )
    offers = selectors.waitlist_offer_list_visible_to(user=request.user).select_related(
        "time_block__doctor"
    )[:OFFERS_SHOWN]
    if form is None:
        today = clinic_today()
        form = WaitlistJoinForm(
            initial={
                "date_from": today,
                "date_to": today + datetime.timedelta(days=WAITLIST_DEFAULT_DAYS),
            }
        )
    context = {
        "entries": entries,
        "offers": offers,
        "error": error,
        "now": timezone.now(),
        "join_form": form,
        # A refused post of a doctor's page form comes back here: it stays that doctor's.
        "join_doctor": doctor,
    }
    return page(request, "portal/waitlist.html", context, status=status)


def _doctor(raw: str) -> User | None:
    """The public doctor named by the form's `doctor` (an unknown one is 404); None without."""
    if not raw:
        return None
    return get_object_or_404(
        selectors.doctor_list_public(ratings=False),
        user_id=int(raw) if raw.isdigit() and len(raw) <= 18 else 0,
    ).user


@require_http_methods(["GET", "POST"])
@portal_user_required(PATIENT)
def waitlist(request: HttpRequest) -> HttpResponse:
    """GET: the patient's entries and offers, and the form to wait for a specialty; POST
    `doctor` (the form on a doctor's page) or `specialty`, with `date_from`, `date_to` and the
    optional `visit_type` (a slug), `weekdays`, `time_from`, `time_to`: join
    (waitlist_entry_create: its rules, limits and 409s)."""
    if request.method == "GET":
        return _page(request)
    doctor = _doctor(request.POST.get("doctor", ""))
    form = WaitlistJoinForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, doctor=doctor, status=400)
    data = form.cleaned_data
    url = reverse("portal:waitlist")
    answer = keyed_write(
        request,
        lambda: (
            waitlist_entry_create(
                actor=request.user,
                patient=request.user,
                doctor=doctor,
                specialty=data["specialty"],
                date_from=data["date_from"],
                date_to=data["date_to"],
                weekdays=data["weekdays"],
                time_from=data["time_from"],
                time_to=data["time_to"],
                visit_type=data["visit_type"],
            )
            and url
        ),
        lambda record: url,
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    message, errors = refusal(answer.data)
    for name, messages in errors.items():
        form.add_error(name if name in form.fields else None, messages)
    return _page(request, error=message, form=form, doctor=doctor, status=answer.status_code)


@require_POST
@portal_user_required(PATIENT)
def waitlist_leave(request: HttpRequest, entry_id: int) -> HttpResponse:
    """waitlist_entry_cancel of one's own entry (another's is 404)."""
    entry = get_object_or_404(
        selectors.waitlist_entry_list_visible_to(user=request.user), pk=entry_id
    )
    url = reverse("portal:waitlist")
    answer = keyed_write(
        request,
        lambda: waitlist_entry_cancel(actor=request.user, entry=entry) and url,
        lambda record: url,
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    message, _ = refusal(answer.data)
    return _page(request, error=message, status=answer.status_code)


def _offer_page(request, offer, *, error=None, status=200) -> HttpResponse:
    context = {"offer": offer, "error": error, "now": timezone.now()}
    return page(request, "portal/waitlist_offer.html", context, status=status)


def _offer(request: HttpRequest, offer_id: int):
    return get_object_or_404(
        selectors.waitlist_offer_list_visible_to(user=request.user).select_related(
            "time_block__doctor__doctor_profile"
        ),
        pk=offer_id,
    )


@require_http_methods(["GET", "POST"])
@portal_user_required(PATIENT)
def waitlist_offer(request: HttpRequest, offer_id: int) -> HttpResponse:
    """The mailed link: GET shows the offered time (changes nothing); POST `answer=accept`
    books it (waitlist_offer_accept), `answer=decline` lets it go."""
    offer = _offer(request, offer_id)
    if request.method == "GET":
        return _offer_page(request, offer)
    accept = request.POST.get("answer") == "accept"
    waitlist_url = reverse("portal:waitlist")

    def write() -> str:
        if accept:
            appointment = waitlist_offer_accept(actor=request.user, offer=offer)
            return reverse("portal:appointment", args=[appointment.pk]) + "?booked=1"
        waitlist_offer_decline(actor=request.user, offer=offer)
        return waitlist_url

    def rebuild(record) -> str:
        if record.object_model == "scheduling.appointment":
            return reverse("portal:appointment", args=[record.object_id]) + "?booked=1"
        return waitlist_url

    answer = keyed_write(request, write, rebuild)
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    message, _ = refusal(answer.data)
    offer.refresh_from_db()
    return _offer_page(request, offer, error=message, status=answer.status_code)
