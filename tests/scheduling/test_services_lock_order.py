"""The global lock order and the deadlock safety net of core/locking.py.

The order is read off the locking statements each service sends (PostgreSQL); the retry is
driven by an OperationalError raised the way Django wraps psycopg's (both backends).
"""

from __future__ import annotations

import datetime
import logging
import re

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import errors as pg_errors

from accounts.services import user_deactivate
from scheduling import services
from scheduling.models import Appointment
from scheduling.services import appointments
from tests.scheduling.appointment_helpers import audit_rows
from tests.support.factories import (
    AdminFactory,
    ConfirmedAppointmentFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    TimeBlockFactory,
)

USER, APPOINTMENT, BLOCK = "accounts_user", "scheduling_appointment", "scheduling_timeblock"
LOCKING = re.compile(r'FROM "(\w+)".* WHERE "\1"\."id" = (\d+)\b.* FOR (UPDATE|KEY SHARE)\b')


def first_locks(queries: CaptureQueriesContext) -> list[tuple[str, int, str]]:
    """(table, id, mode) of each row as the transaction first locks it; a repeated lock of a
    row it already holds waits for nothing, so it is left out."""
    seen, steps = set(), []
    for query in queries.captured_queries:
        match = LOCKING.search(query["sql"])
        if match and (match[1], int(match[2])) not in seen:
            seen.add((match[1], int(match[2])))
            steps.append((match[1], int(match[2]), match[3]))
    return steps


def users(*pairs: tuple[object, str]) -> list[tuple[str, int, str]]:
    """Lock steps of users in the order the rule demands: by ascending id."""
    return sorted((USER, user.pk, mode) for user, mode in pairs)


# ---------------------------------------------------------------------------
# The order (PostgreSQL: SQLite has no row locks)
# ---------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db
def test_booking_locks_the_users_by_id_then_the_block():
    staff, patient, block = StaffFactory(), PatientFactory(), TimeBlockFactory()

    with CaptureQueriesContext(connection) as queries:
        services.appointment_book(actor=staff, patient=patient, time_block=block)

    assert first_locks(queries) == [
        *users((staff, "KEY SHARE"), (patient, "UPDATE"), (block.doctor, "KEY SHARE")),
        (BLOCK, block.pk, "UPDATE"),
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_reschedule_locks_the_users_by_id_then_the_appointment_then_the_block():
    appointment = ConfirmedAppointmentFactory()
    target = TimeBlockFactory(doctor=appointment.doctor)
    patient = appointment.patient

    with CaptureQueriesContext(connection) as queries:
        services.appointment_reschedule(actor=patient, appointment=appointment, time_block=target)

    assert first_locks(queries) == [
        *users((patient, "UPDATE"), (appointment.doctor, "KEY SHARE")),
        (APPOINTMENT, appointment.pk, "UPDATE"),
        (BLOCK, target.pk, "UPDATE"),
    ]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("transition", ["confirm", "cancel", "update"])
def test_a_transition_locks_its_actor_then_the_appointment(transition):
    appointment = PendingAppointmentFactory()
    doctor = appointment.doctor
    call = {
        "confirm": lambda: services.appointment_confirm(actor=doctor, appointment=appointment),
        "cancel": lambda: services.appointment_cancel(actor=doctor, appointment=appointment),
        "update": lambda: services.appointment_update(
            actor=doctor, appointment=appointment, notes="Bring the scans"
        ),
    }[transition]

    with CaptureQueriesContext(connection) as queries:
        call()

    assert first_locks(queries) == [
        (USER, doctor.pk, "KEY SHARE"),
        (APPOINTMENT, appointment.pk, "UPDATE"),
    ]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("transition", ["check_in", "start_visit"])
def test_desk_transitions_lock_their_actor_then_the_appointment(transition):
    start = timezone.now() + datetime.timedelta(hours=1)  # check-in is open
    status = (
        Appointment.Status.CONFIRMED if transition == "check_in" else Appointment.Status.ARRIVED
    )
    appointment = ConfirmedAppointmentFactory(
        status=status, time_block=TimeBlockFactory(start=start)
    )
    staff = AdminFactory()
    service = getattr(services, f"appointment_{transition}")

    with CaptureQueriesContext(connection) as queries:
        service(actor=staff, appointment=appointment)

    assert first_locks(queries) == [
        (USER, staff.pk, "KEY SHARE"),
        (APPOINTMENT, appointment.pk, "UPDATE"),
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_deactivation_locks_the_users_by_id_then_the_appointments_by_start():
    admin, patient = AdminFactory(), PatientFactory()
    later = ConfirmedAppointmentFactory(patient=patient)
    two_hours_before = later.start - datetime.timedelta(hours=2)
    sooner = PendingAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(start=two_hours_before)
    )

    with CaptureQueriesContext(connection) as queries:
        user_deactivate(actor=admin, user=patient)

    assert first_locks(queries) == [
        *users((patient, "UPDATE"), (admin, "KEY SHARE")),
        (APPOINTMENT, sooner.pk, "UPDATE"),
        (APPOINTMENT, later.pk, "UPDATE"),
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_block_writes_lock_the_doctor_and_actor_by_id_then_the_block():
    staff, block = StaffFactory(), TimeBlockFactory()

    with CaptureQueriesContext(connection) as queries:
        services.time_block_update(actor=staff, block=block, end=block.end.replace(minute=45))

    assert first_locks(queries) == [
        *users((staff, "KEY SHARE"), (block.doctor, "UPDATE")),
        (BLOCK, block.pk, "UPDATE"),
    ]


# ---------------------------------------------------------------------------
# The safety net
# ---------------------------------------------------------------------------
def aborted(cause: type[Exception]) -> OperationalError:
    """What Django raises when PostgreSQL aborts a statement: psycopg's error as the cause."""
    error = OperationalError("deadlock detected")
    error.__cause__ = cause("deadlock detected")
    return error


def audit_failing(monkeypatch, *, times: int, cause: type[Exception]) -> list[str]:
    """Make scheduling's audit_record fail `times` times (after the booking's INSERT)."""
    real, calls = appointments.audit_record, []

    def audit_record(**kwargs):
        calls.append(kwargs["action"])
        if len(calls) <= times:
            raise aborted(cause)
        return real(**kwargs)

    monkeypatch.setattr(appointments, "audit_record", audit_record)
    return calls


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cause", [pg_errors.DeadlockDetected, pg_errors.SerializationFailure])
def test_an_aborted_booking_runs_once_more_and_books_once(monkeypatch, caplog, cause):
    # A Celery test worker earlier in the session (tests/medappt/test_celery_worker.py) leaves
    # the root logger at ERROR: ask for the warning explicitly.
    caplog.set_level(logging.WARNING, logger="medappt.transactions")
    patient, block = PatientFactory(), TimeBlockFactory()
    calls = audit_failing(monkeypatch, times=1, cause=cause)

    appointment = services.appointment_book(actor=patient, patient=patient, time_block=block)

    assert calls == ["appointment.booked", "appointment.booked"]
    assert list(Appointment.objects.values_list("pk", flat=True)) == [appointment.pk]
    assert [e.target_id for e in audit_rows("appointment.booked")] == [str(appointment.pk)]
    assert len(mail.outbox) == 2  # the first attempt's mails died with its transaction
    assert "appointment_book" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_booking_aborted_twice_fails_and_leaves_nothing(monkeypatch):
    patient, block = PatientFactory(), TimeBlockFactory()
    calls = audit_failing(monkeypatch, times=2, cause=pg_errors.DeadlockDetected)

    with pytest.raises(OperationalError):
        services.appointment_book(actor=patient, patient=patient, time_block=block)

    assert len(calls) == 2
    assert not Appointment.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried(monkeypatch):
    patient, block = PatientFactory(), TimeBlockFactory()
    calls = audit_failing(monkeypatch, times=1, cause=pg_errors.QueryCanceled)

    with pytest.raises(OperationalError):
        services.appointment_book(actor=patient, patient=patient, time_block=block)

    assert len(calls) == 1
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_inside_an_outer_transaction_only_the_outermost_may_retry(monkeypatch):
    # The test's own transaction is the outermost here: the service cannot start over.
    patient, block = PatientFactory(), TimeBlockFactory()
    calls = audit_failing(monkeypatch, times=1, cause=pg_errors.DeadlockDetected)

    with pytest.raises(OperationalError):
        services.appointment_book(actor=patient, patient=patient, time_block=block)

    assert len(calls) == 1
