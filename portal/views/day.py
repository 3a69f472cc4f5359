"""The doctor's day: their visits of one clinic day (scheduling.day.clinic_day) with the next
step of each: check in, start the visit, complete; a no-show for one who never came."""

from __future__ import annotations

import datetime

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from audit.services import audit_record_patient_views
from portal.access import DOCTOR, portal_user_required
from portal.keyed import keyed_write, see_other
from portal.views.common import page, refusal
from scheduling import day as clinic_days
from scheduling import selectors, services
from scheduling.models import Appointment

STAGE_NAMES = {
    clinic_days.EXPECTED: gettext_lazy("Expected"),
    clinic_days.WAITING: gettext_lazy("Waiting"),
    clinic_days.IN_VISIT: gettext_lazy("In the visit"),
    clinic_days.DONE: gettext_lazy("Done"),
    clinic_days.NO_SHOW: gettext_lazy("No-show"),
}
ACTIONS = {
    "check-in": services.appointment_check_in,
    "start-visit": services.appointment_start_visit,
    "complete": services.appointment_complete,
    "no-show": services.appointment_no_show,
}


def _day(request: HttpRequest) -> datetime.date:
    raw = request.GET.get("date") or request.POST.get("date") or ""
    if not raw:
        return clinic_days.clinic_today()
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as error:
        raise BadRequest(gettext("Give the day as a date: YYYY-MM-DD.")) from error


def _render(request: HttpRequest, day: datetime.date, *, error=None, status=200) -> HttpResponse:
    clinic_day = clinic_days.clinic_day(day=day, doctor=request.user)
    audit_record_patient_views(patient_ids=clinic_day.patient_ids, actor=request.user)
    mine = clinic_day.doctors[0]
    visits = [
        {
            "visit": visit,
            "stage": STAGE_NAMES[visit.stage],
            "no_show": visit.appointment.status == Appointment.Status.CONFIRMED,
        }
        for visit in mine.visits
    ]
    context = {
        "day": day,
        "visits": visits,
        "free_blocks": mine.free_blocks,
        "previous": day - datetime.timedelta(days=1),
        "following": day + datetime.timedelta(days=1),
        "error": error,
    }
    template = "portal/_day.html" if request.htmx and request.htmx.target == "day" else None
    return page(request, template or "portal/day.html", context, status=status)


@require_safe
@portal_user_required(DOCTOR)
def day_view(request: HttpRequest) -> HttpResponse:
    """?date=YYYY-MM-DD (a clinic day, TIME_ZONE; today without it)."""
    return _render(request, _day(request))


@require_POST
@portal_user_required(DOCTOR)
def day_action(request: HttpRequest, appointment_id: int, action: str) -> HttpResponse:
    """One desk step on one of the doctor's own appointments (another's is 404)."""
    appointment = get_object_or_404(
        selectors.appointment_list_visible_to(user=request.user), pk=appointment_id
    )
    day = _day(request)
    url = reverse("portal:day") + f"?date={day.isoformat()}"
    service = ACTIONS[action]
    answer = keyed_write(
        request,
        lambda: service(actor=request.user, appointment=appointment) and url,
        lambda record: url,
    )
    if answer.status_code == 303:
        return see_other(answer.data["location"])
    message, errors = refusal(answer.data)
    error = message or " ".join(m for msgs in errors.values() for m in msgs)
    return _render(request, day, error=error, status=answer.status_code)
