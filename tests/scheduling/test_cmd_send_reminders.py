"""`send_reminders`: one email per confirmed appointment starting within REMINDER_HOURS.

The claim is a conditional update, released when sending fails, so a run can be repeated,
retried after a mail outage, or run on two hosts at once, and each reminder goes out once.
"""

from __future__ import annotations

import datetime
import threading
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import connection
from django.test import TestCase

from audit.models import AuditEvent
from core.models import EmailMessage
from scheduling import services
from scheduling.models import Appointment
from tests.support.factories import (
    CancelledAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

UTC = datetime.UTC
NOW = datetime.datetime(2030, 6, 12, 0, 0, tzinfo=UTC)


class FailingEmailBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server unreachable")


FAILING_BACKEND = f"{__name__}.FailingEmailBackend"


def block_at(start: datetime.datetime, doctor=None, minutes: int = 30):
    doctor = doctor or DoctorFactory()
    return TimeBlockFactory(
        doctor=doctor, start=start, end=start + datetime.timedelta(minutes=minutes)
    )


def confirmed_visit(start: datetime.datetime, doctor=None, **kwargs) -> Appointment:
    return ConfirmedAppointmentFactory(time_block=block_at(start, doctor), **kwargs)


def in_hours(hours: float) -> datetime.datetime:
    return NOW + datetime.timedelta(hours=hours)


def run(*args: str) -> str:
    """The command, and the mail jobs its commits queue (run eagerly, as tests do)."""
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("send_reminders", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def mixed(db, frozen):
    """One reminder due and one of each kind that must not get one."""
    return {
        "due": confirmed_visit(in_hours(3)),
        "edge": confirmed_visit(in_hours(24)),  # exactly REMINDER_HOURS ahead: still due
        "pending": PendingAppointmentFactory(time_block=block_at(in_hours(3))),
        "cancelled": CancelledAppointmentFactory(time_block=block_at(in_hours(4))),
        "far": confirmed_visit(in_hours(25)),
        "reminded": confirmed_visit(in_hours(5), reminder_sent_at=in_hours(-20)),
        "started": confirmed_visit(in_hours(-0.25)),
    }


def test_reminds_only_confirmed_appointments_due_within_the_window(mixed):
    output = run()
    assert output == "2 reminders queued, 0 taken by another runner"
    due = [mixed["due"], mixed["edge"]]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(a.patient.email for a in due)
    for appointment in due:
        appointment.refresh_from_db()
        assert appointment.reminder_sent_at == NOW
    for name in ("pending", "cancelled", "far", "started"):
        mixed[name].refresh_from_db()
        assert mixed[name].reminder_sent_at is None, name
    mixed["reminded"].refresh_from_db()
    assert mixed["reminded"].reminder_sent_at == in_hours(-20)


def test_the_reminder_has_text_and_html_in_the_doctors_timezone(db, frozen):
    doctor = DoctorFactory(first_name="Aiko", last_name="Sato", profile__timezone="Asia/Tokyo")
    # 03:00 UTC is noon in Tokyo.
    appointment = confirmed_visit(in_hours(3), doctor, reason="Embarrassing symptom")
    run()
    (message,) = mail.outbox
    assert message.to == [appointment.patient.email]
    assert "12:00" in message.subject
    assert "Asia/Tokyo" in message.subject
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    for body in (message.body, html):
        assert "12:00" in body
        assert "12:30" in body
        assert "Asia/Tokyo" in body
        assert "Aiko Sato" in body
        assert "Embarrassing symptom" not in body  # never the patient's words
    assert "03:00" not in message.body


def test_a_second_run_sends_nothing(mixed):
    run()
    mail.outbox.clear()
    assert run() == "0 reminders queued, 0 taken by another runner"
    assert mail.outbox == []


def test_dry_run_sends_nothing_and_reports_the_count(mixed):
    assert run("--dry-run") == "2 reminders due (dry run: nothing sent)"
    assert mail.outbox == []
    assert not Appointment.objects.filter(reminder_sent_at__gte=NOW).exists()


def test_the_window_follows_the_setting(settings, mixed):
    settings.REMINDER_HOURS = 4
    run()
    assert [m.to[0] for m in mail.outbox] == [mixed["due"].patient.email]


def test_a_failing_mail_server_keeps_the_reminder_in_the_outbox_until_it_goes_out(
    settings, db, frozen
):
    appointment = confirmed_visit(in_hours(2))
    settings.EMAIL_BACKEND = FAILING_BACKEND
    assert run() == "1 reminders queued, 0 taken by another runner"
    appointment.refresh_from_db()
    assert appointment.reminder_sent_at == NOW  # claimed once, never claimed again
    (message,) = EmailMessage.objects.filter(template="appointment_reminder")
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.next_attempt_at > NOW  # backing off, in the database
    assert run() == "0 reminders queued, 0 taken by another runner"

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(message.next_attempt_at, tick=False):
        call_command("send_pending_emails", stdout=StringIO())
    assert [m.to for m in mail.outbox] == [[appointment.patient.email]]
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)


def test_a_sent_reminder_is_audited_as_the_system(db, frozen):
    appointment = confirmed_visit(in_hours(2))
    run()
    (event,) = AuditEvent.objects.filter(action="appointment.reminder_sent")
    assert (event.actor_id, event.actor_role, event.target_id) == (
        None,
        "system",
        str(appointment.pk),
    )


def test_a_reschedule_resets_the_reminder(db, frozen, staff):
    appointment = confirmed_visit(in_hours(2))
    run()
    assert len(mail.outbox) == 1
    new_block = block_at(in_hours(6), appointment.doctor)
    services.appointment_reschedule(actor=staff, appointment=appointment, time_block=new_block)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.reminder_sent_at) == ("pending", None)
    run()
    assert len(mail.outbox) == 1  # pending again: no reminder until it is confirmed
    services.appointment_confirm(actor=staff, appointment=appointment)
    run()
    assert [m.to[0] for m in mail.outbox] == [appointment.patient.email] * 2
    appointment.refresh_from_db()
    assert appointment.reminder_sent_at == NOW


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_exactly_once():
    start = datetime.datetime.now(UTC).replace(microsecond=0) + datetime.timedelta(hours=2)
    doctor = DoctorFactory()
    appointments = [
        confirmed_visit(start + datetime.timedelta(minutes=30 * i), doctor) for i in range(12)
    ]
    barrier = threading.Barrier(2)
    outputs: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            outputs.append(run())
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(outputs) == 2
    sent = sorted(m.to[0] for m in mail.outbox)
    assert sent == sorted(a.patient.email for a in appointments)
    assert Appointment.objects.filter(reminder_sent_at__isnull=True).count() == 0
    assert AuditEvent.objects.filter(action="appointment.reminder_sent").count() == 12
