"""Security review round 2, finding 17 (scheduling side): a reminder's claim, its field
history, its queued mail (the outbox, which sends it after the commit and retries it) and
its `appointment.reminder_sent` row commit together; anything failing on the way leaves
none of them."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core import mail
from django.core.management import call_command
from django.test import TestCase

from audit.models import AuditEvent
from core.models import EmailMessage
from scheduling.services import maintenance
from tests.support.factories import ConfirmedAppointmentFactory, TimeBlockFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2030, 6, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def due():
    with time_machine.travel(NOW, tick=False):
        start = NOW + datetime.timedelta(hours=2)
        block = TimeBlockFactory(start=start, end=start + datetime.timedelta(minutes=30))
        appointment = ConfirmedAppointmentFactory(time_block=block)
        yield appointment


def reminder_rows(appointment) -> tuple[list, list]:
    audit = list(
        AuditEvent.objects.filter(action="appointment.reminder_sent", target_id=appointment.pk)
    )
    history = [
        entry
        for entry in LogEntry.objects.get_for_object(appointment)
        if entry.action == LogEntry.Action.UPDATE and "reminder_sent_at" in entry.changes_dict
    ]
    return audit, history


def test_a_failure_writing_the_audit_row_leaves_the_claim_untaken(due, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("the audit insert failed")

    monkeypatch.setattr(maintenance, "audit_record", broken_audit)

    with pytest.raises(RuntimeError):
        call_command("send_reminders", stdout=StringIO())

    due.refresh_from_db()
    assert due.reminder_sent_at is None  # the next run tries again
    assert reminder_rows(due) == ([], [])
    assert not EmailMessage.objects.exists()


def test_a_crash_while_queueing_the_mail_leaves_no_claim_and_no_rows(due, monkeypatch):
    def crash(appointment):
        raise KeyboardInterrupt  # the process is stopped mid-way

    monkeypatch.setattr(maintenance.notifications, "queue_reminder", crash)

    with pytest.raises(KeyboardInterrupt):
        call_command("send_reminders", stdout=StringIO())

    due.refresh_from_db()
    assert due.reminder_sent_at is None
    assert reminder_rows(due) == ([], [])
    assert not EmailMessage.objects.exists()


def test_the_claim_and_its_audit_row_commit_in_one_transaction(due, monkeypatch):
    transactions = []
    original = maintenance.audit_record

    def watching(**kwargs):
        from django.db import connection

        # Inside the claim's atomic block (a savepoint of the test's transaction).
        transactions.append(len(connection.savepoint_ids))
        return original(**kwargs)

    monkeypatch.setattr(maintenance, "audit_record", watching)

    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("send_reminders", stdout=StringIO())

    assert transactions == [1]
    due.refresh_from_db()
    assert due.reminder_sent_at == NOW
    audit, history = reminder_rows(due)
    assert len(audit) == len(history) == 1
    assert [m.to for m in mail.outbox] == [[due.patient.email]]
