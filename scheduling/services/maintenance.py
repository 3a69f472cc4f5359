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
    sent: int
    failed: int
    skipped: int


def _remind(appointment_id: int, now: datetime.datetime) -> str:
    """Claim, send and record one reminder in one transaction: "sent", "failed" or "skipped".

    The claim is a conditional update, so only one runner wins it (another waits on the row
    lock, then finds it taken). The mail goes out while the claim is held and uncommitted;
    only when the mail server has taken it do the claim, its field history and its
    `appointment.reminder_sent` row commit, together. A failed send, or anything raised on
    the way, rolls all of them back: the next run tries again, and no row says a reminder
    went out that did not. (The one window left is a commit failing after the send: the
    reminder then goes out twice, never zero times with an audit row claiming it did.)
    """
    with transaction.atomic():
        won = (
            Appointment.objects.filter(
                pk=appointment_id, status=Status.CONFIRMED, reminder_sent_at__isnull=True
            ).update(reminder_sent_at=now)
            == 1
        )
        if not won:
            return "skipped"  # another runner took it, or it changed meanwhile
        appointment = Appointment.objects.select_related(
            "patient", "doctor", "doctor__doctor_profile"
        ).get(pk=appointment_id)
        if not notifications.send_reminder(appointment):
            transaction.set_rollback(True)  # the claim goes; the next run retries
            return "failed"
        # A conditional update sends no signal: give the field history its entry here.
        LogEntry.objects.log_create(
            appointment,
            action=LogEntry.Action.UPDATE,
            changes={"reminder_sent_at": ["None", str(now)]},
        )
        audit_record(action="appointment.reminder_sent", target=appointment, actor=None)
    return "sent"


def appointment_reminders_send(*, dry_run: bool = False) -> ReminderRun:
    """Claim, send and record each due reminder in its own transaction: each goes out once."""
    now = timezone.now()
    due = selectors.appointment_reminders_due(now=now)
    if dry_run:
        return ReminderRun(sent=0, failed=0, skipped=len(due))
    outcomes = {"sent": 0, "failed": 0, "skipped": 0}
    for appointment_id in due:
        outcomes[_remind(appointment_id, now)] += 1
    return ReminderRun(**outcomes)


@dataclass(frozen=True)
class CloseRun:
    completed: int
    cancelled: int


def appointments_close_past(*, dry_run: bool = False) -> CloseRun:
    """Confirmed → completed, pending → cancelled ("expired", by the system), via the services."""
    stale = list(selectors.appointment_list_to_close())
    if dry_run:
        return CloseRun(
            completed=sum(a.status == Status.CONFIRMED for a in stale),
            cancelled=sum(a.status == Status.PENDING for a in stale),
        )
    completed = cancelled = 0
    for appointment in stale:
        try:
            if appointment.status == Status.CONFIRMED:
                appointment_complete(actor=None, appointment=appointment)
                completed += 1
            else:
                appointment_cancel(actor=None, appointment=appointment, reason=EXPIRED_REASON)
                cancelled += 1
        except Conflict:
            continue  # someone changed it meanwhile: their transition stands
    return CloseRun(completed=completed, cancelled=cancelled)
