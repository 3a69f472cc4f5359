"""The front desk's day: the patient arrives (check-in), the doctor starts the visit.

Completing an arrived visit is appointment_complete; sending an arrived patient away is the
clinic's appointment_cancel with a reason (left_unseen).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.services import audit_record
from core.exceptions import CHECKIN_NOT_OPEN, ILLEGAL_TRANSITION, Conflict
from core.locking import actor_id, lock_users, service_transaction
from scheduling.models import Appointment
from scheduling.services import events
from scheduling.services.appointments import _lock_appointment, _require_status

Status = Appointment.Status


def checkin_window(appointment: Appointment) -> tuple[datetime.datetime, datetime.datetime]:
    """[opens, closes): CHECKIN_OPENS_MINUTES before the start to the end of the start's
    day in the clinic's zone (TIME_ZONE)."""
    opens = appointment.start - datetime.timedelta(minutes=settings.CHECKIN_OPENS_MINUTES)
    zone = timezone.get_default_timezone()
    day = timezone.localtime(appointment.start, zone).date()
    closes = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return opens, closes


@service_transaction
def appointment_check_in(*, actor: User, appointment: Appointment) -> Appointment:
    """confirmed → arrived, inside the check-in window; records who checked the patient in."""
    lock_users(shared=[actor_id(actor)])  # checked_in_by references the actor
    appointment = _lock_appointment(appointment)
    _require_status(appointment, Status.CONFIRMED)
    now = timezone.now()
    opens, closes = checkin_window(appointment)
    if not opens <= now < closes:
        raise Conflict(
            CHECKIN_NOT_OPEN,
            _(
                "Check-in opens %(minutes)d minutes before the start and closes at the end "
                "of that day."
            )
            % {"minutes": settings.CHECKIN_OPENS_MINUTES},
        )
    appointment.status = Status.ARRIVED
    appointment.arrived_at = now
    appointment.checked_in_by = actor
    appointment.save(update_fields=["status", "arrived_at", "checked_in_by", "updated_at"])
    audit_record(action="appointment.arrived", target=appointment, actor=actor)
    events.appointment_event(
        type="arrived", appointment=appointment, previous_status=Status.CONFIRMED
    )
    return appointment


@service_transaction
def appointment_start_visit(*, actor: User, appointment: Appointment) -> Appointment:
    """An arrived patient is called in: seen_at is set, once."""
    lock_users(shared=[actor_id(actor)])
    appointment = _lock_appointment(appointment)
    _require_status(appointment, Status.ARRIVED)
    if appointment.seen_at is not None:
        raise Conflict(ILLEGAL_TRANSITION, _("The visit has already started."))
    appointment.seen_at = timezone.now()
    appointment.save(update_fields=["seen_at", "updated_at"])
    audit_record(action="appointment.visit_started", target=appointment, actor=actor)
    return appointment
