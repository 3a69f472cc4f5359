"""Hold a slot, then confirm it: slot_hold_create, then appointment_book with the hold."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.throttles import BookingRateThrottle, HoldRateThrottle
from portal.access import PATIENT, portal_user_required
from portal.forms import BookForm
from portal.keyed import keyed_write, see_other
from portal.views.auth import too_many
from portal.views.common import page, refusal
from portal.views.doctors import doctor_context
from scheduling import selectors, services
from scheduling.models import TimeBlock


def _block(request: HttpRequest) -> TimeBlock:
    raw = request.POST.get("time_block", "")
    return get_object_or_404(TimeBlock.objects.filter(withdrawn_at__isnull=True), pk=_id(raw))


def _id(raw: str) -> int:
    return int(raw) if raw.isdigit() and len(raw) <= 18 else 0


@require_http_methods(["GET", "POST"])
@portal_user_required(PATIENT)
def holds(request: HttpRequest) -> HttpResponse:
    """GET: the patient's holds of the last day; POST `time_block`: hold it (then confirm)."""
    if request.method == "GET":
        recent = selectors.slot_hold_list_recent(
            selectors.slot_hold_list_visible_to(user=request.user)
        ).select_related("time_block__doctor")
        return page(request, "portal/hold_list.html", {"holds": recent, "now": timezone.now()})
    throttle = HoldRateThrottle()
    if not throttle.allow_request(request, None):
        return too_many(request, throttle.wait())
    block = _block(request)
    answer = keyed_write(
        request,
        lambda: reverse(
            "portal:hold",
            args=[
                services.slot_hold_create(
                    actor=request.user, patient=request.user, time_block=block
                ).pk
            ],
        ),
        lambda record: reverse("portal:hold", args=[record.object_id]),
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    # The slot was just taken, or a rule refused: the doctor's week again, with why.
    request.GET = request.GET.copy()
    request.GET["week"] = timezone.localtime(block.start).date().isoformat()
    message, errors = refusal(answer.data)
    context = doctor_context(request, block.doctor_id)
    context["error"] = message or " ".join(m for msgs in errors.values() for m in msgs)
    return page(request, "portal/doctor_detail.html", context, status=answer.status_code)


def _hold_of(request: HttpRequest, hold_id: int):
    return get_object_or_404(
        selectors.slot_hold_list_visible_to(user=request.user).select_related(
            "time_block__doctor__doctor_profile"
        ),
        pk=hold_id,
    )


@require_http_methods(["GET", "POST"])
@portal_user_required(PATIENT)
def hold_detail(request: HttpRequest, hold_id: int) -> HttpResponse:
    """GET: the held slot and the confirm form; POST: book it (appointment_book)."""
    hold = _hold_of(request, hold_id)
    form = BookForm(request.POST or None)
    status = 200
    error = None
    if request.method == "POST" and form.is_valid():
        throttle = BookingRateThrottle()
        if not throttle.allow_request(request, None):
            return too_many(request, throttle.wait())
        answer = keyed_write(
            request,
            lambda: (
                reverse(
                    "portal:appointment",
                    args=[
                        services.appointment_book(
                            actor=request.user,
                            patient=request.user,
                            time_block=hold.time_block,
                            hold=hold,
                            reason=form.cleaned_data["reason"],
                        ).pk
                    ],
                )
                + "?booked=1"
            ),
            lambda record: reverse("portal:appointment", args=[record.object_id]) + "?booked=1",
        )
        if answer.status_code == 303:
            return see_other(answer.data["location"])
        error, errors = refusal(answer.data)
        status = answer.status_code
        for name, messages in errors.items():
            form.add_error(name if name in form.fields else None, messages)
    elif request.method == "POST":
        status = 400
    return _hold_page(request, hold, form=form, error=error, status=status)


def _hold_page(request: HttpRequest, hold, *, form, error, status: int) -> HttpResponse:
    return page(
        request,
        "portal/hold_detail.html",
        {"hold": hold, "form": form, "error": error, "state": hold.status_at(timezone.now())},
        status=status,
    )


@require_POST
@portal_user_required(PATIENT)
def hold_release(request: HttpRequest, hold_id: int) -> HttpResponse:
    """Let the slot go (slot_hold_release), back to the doctor's page."""
    hold = _hold_of(request, hold_id)
    answer = keyed_write(
        request,
        lambda: (
            services.slot_hold_release(actor=request.user, hold=hold)
            and reverse("portal:doctor", args=[hold.time_block.doctor_id])
        ),
        lambda record: reverse("portal:doctor", args=[hold.time_block.doctor_id]),
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    error, _ = refusal(answer.data)
    return _hold_page(request, hold, form=BookForm(), error=error, status=answer.status_code)
