"""Services of the periodic jobs: reminders, and closing appointments whose time has passed."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from auditlog.models import LogEntry
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.exceptions import Conflict
from scheduling import notifications, selectors
from scheduling.models import Appointment
from scheduling.services.appointments import appointment_cancel, appointment_complete

Status = Appointment.Status
EXPIRED_REASON = "expired"


@dataclass(frozen=True)
class ReminderRun:
    sent: int  # queued in the outbox, which sends and retries them
    skipped: int


def _claim_and_queue(appointment_id: int, now: datetime.datetime) -> bool:
    """Take the reminder by a conditional update (only one runner can win it) and, in the
    same transaction, queue its mail and record it: all three commit together or not at all.
    The outbox retries a failing mail server, so a claimed reminder is never lost."""
    with transaction.atomic():
        won = (
            Appointment.objects.filter(
                pk=appointment_id, status=Status.CONFIRMED, reminder_sent_at__isnull=True
            ).update(reminder_sent_at=now)
            == 1
        )
        if not won:
            return False
        appointment = Appointment.objects.select_related(
            "patient", "doctor", "doctor__doctor_profile"
        ).get(pk=appointment_id)
        # A conditional update sends no signal: give the field history its entry here.
        LogEntry.objects.log_create(
            appointment,
            action=LogEntry.Action.UPDATE,
            changes={"reminder_sent_at": ["None", str(now)]},
        )
        notifications.queue_reminder(appointment)
        audit_record(action="appointment.reminder_sent", target=appointment, actor=None)
    return True


def appointment_reminders_send(*, dry_run: bool = False) -> ReminderRun:
    """Claim each due reminder and queue its mail: each reminder goes out once."""
    now = timezone.now()
    due = selectors.appointment_reminders_due(now=now)
    if dry_run:
        return ReminderRun(sent=0, skipped=len(due))
    sent = skipped = 0
    for appointment_id in due:
        if _claim_and_queue(appointment_id, now):
            sent += 1
        else:
            skipped += 1  # another runner took it, or it changed meanwhile
    return ReminderRun(sent=sent, skipped=skipped)


@dataclass(frozen=True)
class CloseRun:
    completed: int
    cancelled: int


def appointments_close_past(*, dry_run: bool = False) -> CloseRun:
    """Confirmed and arrived → completed, pending → cancelled ("expired", by the system),
    via the services."""
    stale = list(selectors.appointment_list_to_close())
    if dry_run:
        return CloseRun(
            completed=sum(a.status != Status.PENDING for a in stale),
            cancelled=sum(a.status == Status.PENDING for a in stale),
        )
    completed = cancelled = 0
    for appointment in stale:
        try:
            if appointment.status in (Status.CONFIRMED, Status.ARRIVED):
                appointment_complete(actor=None, appointment=appointment)
                completed += 1
            else:
                appointment_cancel(actor=None, appointment=appointment, reason=EXPIRED_REASON)
                cancelled += 1
        except Conflict:
            continue  # someone changed it meanwhile: their transition stands
    return CloseRun(completed=completed, cancelled=cancelled)
