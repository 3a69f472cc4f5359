"""Background jobs (core/jobs.py) and the mail outbox (core/mail.py), run in-process as in
tests and `make run`: queued on commit, nothing on rollback, ids only, the enqueuer's request
id, failures logged in embedded mode, every periodic command safe to run twice."""

from __future__ import annotations

import datetime
import logging
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase

from audit.models import AuditEvent
from core import jobs
from core.mail import mail_queue, mail_send_due
from core.models import EmailMessage
from scheduling import services
from tests.accounts.helpers import PASSWORD_RESET_URL
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL
from tests.support.clients import client_for
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    PastTimeBlockFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db


def test_a_booking_queues_its_mails_in_its_transaction_and_sends_them_after(
    patient, django_capture_on_commit_callbacks
):
    block = TimeBlockFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(patient).post(APPOINTMENTS_URL, {"time_block": block.pk})
    assert response.status_code == 201
    # Committed with the booking, not yet sent: one job for both mails.
    assert mail.outbox == []
    rows = EmailMessage.objects.order_by("id")
    assert [(m.template, m.status) for m in rows] == [("appointment_booked", "pending")] * 2
    assert {m.user_id for m in rows} == {patient.pk, block.doctor_id}
    # Beside it, the outbox's fan-out of the booking's event (messaging/, DESIGN-R2 R2-6).
    mail_jobs = [c for c in callbacks if c.args[0].name == "core.tasks.send_email"]
    assert len(mail_jobs) == 1
    assert [c.args[0].name for c in callbacks if c not in mail_jobs] == [
        "messaging.tasks.outbox_dispatch"
    ]

    with django_capture_on_commit_callbacks(execute=True):
        mail_jobs[0]()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([patient.email, block.doctor.email])
    assert set(EmailMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_a_rolled_back_service_queues_nothing(patient, django_capture_on_commit_callbacks):
    block = TimeBlockFactory()

    def book_then_fail() -> None:
        with transaction.atomic():
            services.appointment_book(actor=patient, patient=patient, time_block=block)
            raise RuntimeError("the caller's transaction fails after the booking")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        book_then_fail()
    assert callbacks == []
    assert not EmailMessage.objects.exists()
    assert mail.outbox == []


def test_the_same_dedupe_key_queues_one_mail(django_capture_on_commit_callbacks):
    mail_args = {
        "template": "email_changed_notice",
        "recipient": "pat@example.com",
        "context": {"recipient_name": "Pat"},
        "dedupe_key": "notice:1",
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = mail_queue(**mail_args)
        second = mail_queue(**mail_args)
    assert first is not None
    assert second is None
    assert len(mail.outbox) == 1


def test_a_mail_is_failed_after_its_last_attempt(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.scheduling.test_emails.ExplodingEmailBackend"
    settings.EMAIL_MAX_ATTEMPTS = 2
    with django_capture_on_commit_callbacks(execute=True):
        message = mail_queue(
            template="email_changed_notice",
            recipient="pat@example.com",
            context={"recipient_name": "Pat"},
        )
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 1)
    with time_machine.travel(message.next_attempt_at + datetime.timedelta(seconds=1)):
        assert mail_send_due() == 0
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 2)
    with time_machine.travel(message.next_attempt_at + datetime.timedelta(hours=2)):
        assert mail_send_due() == 0  # a failed mail is never tried again
    message.refresh_from_db()
    assert message.attempts == 2


def test_a_job_runs_as_the_system_under_the_request_id_that_queued_it(
    patient, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(None).post(
            PASSWORD_RESET_URL, {"email": patient.email}, HTTP_X_REQUEST_ID="reset-req-0001"
        )
    assert response.status_code == 202
    requested = AuditEvent.objects.get(action="auth.password_reset_requested")
    mailed = AuditEvent.objects.get(action="auth.password_reset_mailed")  # by the job
    assert mailed.actor_role == "system"
    assert mailed.request_id == requested.request_id != ""
    assert len(mail.outbox) == 1


def test_in_embedded_mode_a_failing_job_is_logged_and_the_request_stands(
    settings, patient, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_EAGER_PROPAGATES = False
    conf = jobs.current_app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False  # as with DEBUG and no broker (`make run`)

    def explode(*args, **kwargs):
        raise RuntimeError("the job's own bug")

    monkeypatch.setattr("core.mail.mail_send", explode)
    with (
        caplog.at_level(logging.ERROR, logger="medappt.jobs"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client_for(patient).post(APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk})
    conf.task_eager_propagates = propagates
    assert response.status_code == 201
    (logged,) = [r for r in caplog.records if r.name == "medappt.jobs"]
    assert "core.tasks.send_email" in logged.getMessage()


def _run_twice(command: str) -> list[str]:
    outputs = []
    for _ in range(2):
        out = StringIO()
        with TestCase.captureOnCommitCallbacks(execute=True):
            call_command(command, stdout=out)
        outputs.append(out.getvalue().strip())
    return outputs


def test_every_periodic_command_twice_does_its_work_once(staff):
    now = datetime.datetime(2030, 6, 12, tzinfo=datetime.UTC)
    with time_machine.travel(now, tick=False):
        soon = TimeBlockFactory(start=now + datetime.timedelta(hours=2))
        ConfirmedAppointmentFactory(time_block=soon)
        stale = PendingAppointmentFactory(time_block=PastTimeBlockFactory())
        old = stale.start - datetime.timedelta(days=5)
        type(stale).objects.filter(pk=stale.pk).update(
            start=old, end=old + datetime.timedelta(minutes=30)
        )

        assert _run_twice("send_reminders") == [
            "1 reminders queued, 0 taken by another runner",
            "0 reminders queued, 0 taken by another runner",
        ]
        assert _run_twice("close_past_appointments") == [
            "0 completed, 1 cancelled",
            "0 completed, 0 cancelled",
        ]
        first_seal, second_seal = _run_twice("audit_seal")
        assert not first_seal.startswith("sealed 0 ")
        assert second_seal.startswith("sealed 0 events")
        assert _run_twice("send_pending_emails") == ["0 mails sent", "0 mails sent"]
    reminders = EmailMessage.objects.filter(template="appointment_reminder")
    assert reminders.count() == 1
    assert EmailMessage.objects.filter(template="appointment_cancelled").count() == 2
    assert len(mail.outbox) == 3  # the reminder and the two cancellation mails, once each


def test_run_periodic_once_runs_every_job_of_the_schedule(settings):
    out = StringIO()
    call_command("run_periodic", "--once", stdout=out)
    assert out.getvalue().split() == [
        word for name in settings.CELERY_BEAT_SCHEDULE for word in ("ran", name)
    ]
