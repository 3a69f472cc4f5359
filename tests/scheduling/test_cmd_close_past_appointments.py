"""`close_past_appointments`: CLOSE_PAST_AFTER_HOURS after the start, confirmed visits are
completed and pending ones cancelled as "expired" by the system, through the services."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from audit.models import AuditEvent
from scheduling.models import Appointment
from scheduling.services.maintenance import EXPIRED_REASON
from tests.support.factories import (
    AppointmentFactory,
    CancelledAppointmentFactory,
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

Status = Appointment.Status
UTC = datetime.UTC
NOW = datetime.datetime(2030, 6, 12, 12, 0, tzinfo=UTC)


def started_hours_ago(hours: float, factory=AppointmentFactory) -> Appointment:
    start = NOW - datetime.timedelta(hours=hours)
    block = TimeBlockFactory(start=start, end=start + datetime.timedelta(minutes=30))
    return factory(time_block=block)


def run(*args: str) -> str:
    out = StringIO()
    call_command("close_past_appointments", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def past(db):
    with time_machine.travel(NOW, tick=False):
        yield {
            "old_confirmed": started_hours_ago(50, ConfirmedAppointmentFactory),
            "old_pending": started_hours_ago(49, PendingAppointmentFactory),
            "recent_confirmed": started_hours_ago(47, ConfirmedAppointmentFactory),
            "recent_pending": started_hours_ago(30, PendingAppointmentFactory),
            "old_cancelled": started_hours_ago(60, CancelledAppointmentFactory),
            "old_completed": started_hours_ago(70, CompletedAppointmentFactory),
            "future_pending": started_hours_ago(-24, PendingAppointmentFactory),
        }


def statuses(rows: dict[str, Appointment]) -> dict[str, str]:
    return {name: Appointment.objects.get(pk=a.pk).status for name, a in rows.items()}


def test_old_confirmed_are_completed_and_old_pending_expire(
    past, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        output = run()
    assert output == "1 completed, 1 cancelled"
    assert statuses(past) == {
        "old_confirmed": Status.COMPLETED,
        "old_pending": Status.CANCELLED,
        "recent_confirmed": Status.CONFIRMED,
        "recent_pending": Status.PENDING,
        "old_cancelled": Status.CANCELLED,
        "old_completed": Status.COMPLETED,
        "future_pending": Status.PENDING,
    }
    completed = Appointment.objects.get(pk=past["old_confirmed"].pk)
    assert completed.completed_at == NOW
    expired = Appointment.objects.get(pk=past["old_pending"].pk)
    assert (expired.cancellation_reason, expired.cancelled_by, expired.cancelled_at) == (
        EXPIRED_REASON,
        None,
        NOW,
    )
    assert EXPIRED_REASON == "expired"


def test_each_change_is_audited_as_the_system(past):
    with time_machine.travel(NOW, tick=False):
        run()
    rows = {e.action: e for e in AuditEvent.objects.filter(action__startswith="appointment.")}
    assert set(rows) == {"appointment.completed", "appointment.cancelled"}
    assert rows["appointment.completed"].target_id == str(past["old_confirmed"].pk)
    assert rows["appointment.cancelled"].target_id == str(past["old_pending"].pk)
    for event in rows.values():
        assert (event.actor_id, event.actor_role, event.actor_label) == (None, "system", "system")


def test_an_expired_appointment_is_announced_to_both_parties(
    past, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        run()
    expired = past["old_pending"]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [expired.patient.email, expired.doctor.email]
    )


def test_dry_run_counts_and_changes_nothing(past, django_capture_on_commit_callbacks):
    before = statuses(past)
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        output = run("--dry-run")
    assert output == "1 completed, 1 cancelled (dry run: nothing changed)"
    assert statuses(past) == before
    assert not AuditEvent.objects.filter(action__startswith="appointment.").exists()
    assert mail.outbox == []


def test_a_second_run_has_nothing_left_to_do(past):
    with time_machine.travel(NOW, tick=False):
        run()
        assert run() == "0 completed, 0 cancelled"


def test_the_grace_period_follows_the_setting(settings, past):
    settings.CLOSE_PAST_AFTER_HOURS = 24
    with time_machine.travel(NOW, tick=False):
        assert run() == "2 completed, 2 cancelled"
    after = statuses(past)
    assert after["recent_confirmed"] == Status.COMPLETED
    assert after["recent_pending"] == Status.CANCELLED
    assert after["future_pending"] == Status.PENDING
