"""Races on PostgreSQL: real threads, real transactions, one database connection each.

Every request runs in its own thread with its own client and connection; a Barrier starts
them together; the database state is asserted afterwards (STYLE.md rule 24).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.core import mail

from core.exceptions import ILLEGAL_TRANSITION, PATIENT_OVERLAP, SLOT_TAKEN, TOO_MANY_ACTIVE
from scheduling.models import ACTIVE_STATUSES, Appointment
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url, audit_rows
from tests.support.clients import client_for
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    StartedConfirmedAppointmentFactory,
    TimeBlockFactory,
    in_days,
)
from tests.support.races import codes, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Status = Appointment.Status


def _post(client, url: str, data: dict | None = None) -> Callable[[], object]:
    return lambda: client.post(url, data or {}, format="json")


def slot(days: float, hour: int = 10) -> datetime.datetime:
    return in_days(days, hour) + datetime.timedelta(minutes=30)


# ---------------------------------------------------------------------------
# Booking
# ---------------------------------------------------------------------------
def test_twenty_patients_racing_for_one_block_exactly_one_books_it():
    block = TimeBlockFactory()
    clients = [client_for(p) for p in PatientFactory.create_batch(20)]

    outcomes = race(*(_post(c, APPOINTMENTS_URL, {"time_block": block.pk}) for c in clients))

    assert codes(outcomes) == {(201, None): 1, (409, SLOT_TAKEN): 19}
    [winner] = [body for status, body in outcomes if status == 201]
    active = Appointment.objects.filter(time_block=block, status__in=ACTIVE_STATUSES)
    assert [a.pk for a in active] == [winner["id"]]
    assert Appointment.objects.count() == 1
    assert len(audit_rows("appointment.booked")) == 1
    assert len(mail.outbox) == 2  # the winner's booking mails only


def test_one_patient_booking_two_overlapping_blocks_at_once_gets_at_most_one():
    patient = PatientFactory()
    start = slot(4)
    first = TimeBlockFactory(doctor=DoctorFactory(), start=start)
    second = TimeBlockFactory(
        doctor=DoctorFactory(),
        start=start + datetime.timedelta(minutes=15),
        end=start + datetime.timedelta(minutes=45),
    )

    outcomes = race(
        _post(client_for(patient), APPOINTMENTS_URL, {"time_block": first.pk}),
        _post(client_for(patient), APPOINTMENTS_URL, {"time_block": second.pk}),
    )

    assert codes(outcomes) == {(201, None): 1, (409, PATIENT_OVERLAP): 1}
    assert Appointment.objects.filter(patient=patient, status__in=ACTIVE_STATUSES).count() == 1


def test_one_patient_booking_two_blocks_at_once_cannot_pass_the_cap(settings):
    settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT = 1
    patient = PatientFactory()
    first = TimeBlockFactory(doctor=DoctorFactory(), start=slot(4))
    second = TimeBlockFactory(doctor=DoctorFactory(), start=slot(5))

    outcomes = race(
        _post(client_for(patient), APPOINTMENTS_URL, {"time_block": first.pk}),
        _post(client_for(patient), APPOINTMENTS_URL, {"time_block": second.pk}),
    )

    assert codes(outcomes) == {(201, None): 1, (409, TOO_MANY_ACTIVE): 1}
    assert Appointment.objects.filter(patient=patient, status__in=ACTIVE_STATUSES).count() == 1


# ---------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------
def test_confirm_racing_cancel_leaves_a_consistent_cancelled_appointment():
    # Cancel is legal from pending and from confirmed, so whichever runs first the
    # appointment ends cancelled: cancel first → the confirm is 409; confirm first → both
    # succeed in turn. What must never happen is a confirmed appointment after a 200 cancel,
    # or a confirm recorded for an appointment it did not change.
    appointment = PendingAppointmentFactory()
    doctor = appointment.doctor

    confirm, cancel = race(
        _post(client_for(doctor), appointment_url(appointment, "confirm")),
        _post(client_for(appointment.patient), appointment_url(appointment, "cancel")),
    )

    assert cancel[0] == 200
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.cancelled_by_id == appointment.patient_id
    if confirm[0] == 200:
        assert appointment.confirmed_at is not None
        assert len(audit_rows("appointment.confirmed")) == 1
    else:
        assert confirm == (409, {"detail": confirm[1]["detail"], "code": ILLEGAL_TRANSITION})
        assert appointment.confirmed_at is None
        assert audit_rows("appointment.confirmed") == []
    assert len(audit_rows("appointment.cancelled")) == 1


def test_two_cancels_racing_exactly_one_wins():
    appointment = ConfirmedAppointmentFactory()
    staff = StaffFactory()

    outcomes = race(
        _post(client_for(appointment.doctor), appointment_url(appointment, "cancel")),
        _post(client_for(staff), appointment_url(appointment, "cancel")),
    )

    assert codes(outcomes) == {(200, None): 1, (409, ILLEGAL_TRANSITION): 1}
    appointment.refresh_from_db()
    [winner] = audit_rows("appointment.cancelled")
    assert appointment.cancelled_by_id == winner.actor_id
    assert len(mail.outbox) in (1, 2)  # the doctor's cancel mails one, staff's both


def test_two_confirms_racing_exactly_one_wins():
    appointment = PendingAppointmentFactory()

    outcomes = race(
        _post(client_for(appointment.doctor), appointment_url(appointment, "confirm")),
        _post(client_for(StaffFactory()), appointment_url(appointment, "confirm")),
    )

    assert codes(outcomes) == {(200, None): 1, (409, ILLEGAL_TRANSITION): 1}
    assert len(audit_rows("appointment.confirmed")) == 1
    assert len(mail.outbox) == 1


def test_complete_racing_no_show_exactly_one_wins():
    appointment = StartedConfirmedAppointmentFactory()
    doctor = appointment.doctor

    outcomes = race(
        _post(client_for(doctor), appointment_url(appointment, "complete")),
        _post(client_for(doctor), appointment_url(appointment, "no_show")),
    )

    assert codes(outcomes) == {(200, None): 1, (409, ILLEGAL_TRANSITION): 1}
    appointment.refresh_from_db()
    won = "completed" if outcomes[0][0] == 200 else "no_show"
    assert appointment.status == won
    assert len(audit_rows("appointment.completed")) + len(audit_rows("appointment.no_show")) == 1


# ---------------------------------------------------------------------------
# Reschedule
# ---------------------------------------------------------------------------
def test_two_reschedules_racing_for_one_block_exactly_one_wins():
    doctor = DoctorFactory()
    first = ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=slot(4)))
    second = ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=slot(5)))
    target = TimeBlockFactory(doctor=doctor, start=slot(6))
    body = {"time_block": target.pk}

    outcomes = race(
        _post(client_for(first.patient), appointment_url(first, "reschedule"), body),
        _post(client_for(second.patient), appointment_url(second, "reschedule"), body),
    )

    assert codes(outcomes) == {(200, None): 1, (409, SLOT_TAKEN): 1}
    [winner] = [b["id"] for status, b in outcomes if status == 200]
    [holder] = Appointment.objects.filter(time_block=target, status__in=ACTIVE_STATUSES)
    assert holder.pk == winner
    loser = second if winner == first.pk else first
    old_block = loser.time_block_id
    loser.refresh_from_db()
    assert (loser.time_block_id, loser.status, loser.rescheduled_from_id) == (
        old_block,
        Status.CONFIRMED,
        None,
    )
    assert len(audit_rows("appointment.rescheduled")) == 1


def test_a_booking_racing_a_reschedule_into_the_same_block_exactly_one_wins():
    doctor = DoctorFactory()
    moving = ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=slot(4)))
    target = TimeBlockFactory(doctor=doctor, start=slot(6))
    body = {"time_block": target.pk}

    outcomes = race(
        _post(client_for(moving.patient), appointment_url(moving, "reschedule"), body),
        _post(client_for(PatientFactory()), APPOINTMENTS_URL, body),
    )

    assert sorted(status for status, _ in outcomes) in ([200, 409], [201, 409])
    assert [body.get("code") for status, body in outcomes if status == 409] == [SLOT_TAKEN]
    assert Appointment.objects.filter(time_block=target, status__in=ACTIVE_STATUSES).count() == 1
