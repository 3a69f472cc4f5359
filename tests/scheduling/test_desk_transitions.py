"""The front desk's transitions (DESIGN-R2 §R2-4): check-in, start of the visit, and what an
arrived visit may and may not become."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from core.exceptions import CHECKIN_NOT_OPEN, ILLEGAL_TRANSITION, SLOT_TAKEN
from scheduling.models import Appointment, CancellationCode
from scheduling.services.appointments import ARRIVED_CANCEL_NEEDS_REASON
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url, audit_rows
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    ConfirmedAppointmentFactory,
    PastTimeBlockFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db

Status = Appointment.Status
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


def _confirmed_at(start: datetime.datetime, doctor) -> Appointment:
    return ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=start))


def _arrived(doctor, *, start: datetime.datetime | None = None, **extra) -> Appointment:
    block = (
        TimeBlockFactory(doctor=doctor, start=start)
        if start
        else PastTimeBlockFactory(doctor=doctor)
    )
    return AppointmentFactory(
        time_block=block, status=Status.ARRIVED, arrived_at=block.start - 10 * MINUTE, **extra
    )


# ---------------------------------------------------------------------------
# Acceptance (1): the check-in window and who may check in
# ---------------------------------------------------------------------------
def test_check_in_three_hours_early_is_not_open_one_hour_is_arrived(doctor, staff, patient):
    start = in_days(2, hour=11)
    appointment = _confirmed_at(start, doctor)
    appointment.patient = patient
    appointment.save(update_fields=["patient"])
    url = appointment_url(appointment, "check_in")

    with time_machine.travel(start - 3 * HOUR, tick=False):
        early = client_for(staff).post(url)
    with time_machine.travel(start - HOUR, tick=False):
        by_patient = client_for(patient).post(url)
        on_time = client_for(staff).post(url)

    assert early.status_code == 409
    assert early.json()["code"] == CHECKIN_NOT_OPEN
    assert by_patient.status_code == 403
    assert on_time.status_code == 200, on_time.content
    body = on_time.json()
    assert body["status"] == Status.ARRIVED
    assert body["checked_in_by"] == staff.pk
    assert body["arrived_at"] is not None
    assert body["seen_at"] is None
    [event] = audit_rows("appointment.arrived")
    assert event.actor_id == staff.pk
    assert event.target_id == str(appointment.pk)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-120 * MINUTE - datetime.timedelta(seconds=1), 409), (-120 * MINUTE, 200), (6 * HOUR, 200)],
)
def test_check_in_opens_checkin_opens_minutes_before_the_start(doctor, staff, offset, expected):
    start = in_days(2, hour=10)
    appointment = _confirmed_at(start, doctor)

    with time_machine.travel(start + offset, tick=False):
        response = client_for(staff).post(appointment_url(appointment, "check_in"))

    assert response.status_code == expected, response.content


@override_settings(TIME_ZONE="America/New_York")
def test_check_in_closes_at_the_end_of_the_starts_local_day(doctor, staff):
    # 10:00 in New York on that day; the local day ends at 05:00 UTC the next morning.
    start = in_days(2, hour=15)
    late = _confirmed_at(start, doctor)
    later = _confirmed_at(start + HOUR, doctor)
    local_midnight = (start + datetime.timedelta(days=1)).replace(hour=5)

    with time_machine.travel(local_midnight - datetime.timedelta(seconds=1), tick=False):
        inside = client_for(staff).post(appointment_url(late, "check_in"))
    with time_machine.travel(local_midnight, tick=False):
        outside = client_for(staff).post(appointment_url(later, "check_in"))

    assert inside.status_code == 200, inside.content
    assert outside.status_code == 409
    assert outside.json()["code"] == CHECKIN_NOT_OPEN


@override_settings(CHECKIN_OPENS_MINUTES=30)
def test_checkin_opens_minutes_is_a_setting(doctor, staff):
    start = in_days(2, hour=10)
    appointment = _confirmed_at(start, doctor)

    with time_machine.travel(start - HOUR, tick=False):
        response = client_for(staff).post(appointment_url(appointment, "check_in"))

    assert response.json()["code"] == CHECKIN_NOT_OPEN


def test_a_pending_visit_cannot_be_checked_in(doctor, staff):
    start = in_days(2, hour=10)
    appointment = PendingAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=start))

    with time_machine.travel(start - HOUR, tick=False):
        response = client_for(staff).post(appointment_url(appointment, "check_in"))

    assert response.status_code == 409
    assert response.json()["code"] == ILLEGAL_TRANSITION
    appointment.refresh_from_db()
    assert appointment.status == Status.PENDING
    assert appointment.arrived_at is None


def test_another_doctors_visit_is_404_for_a_doctor(other_doctor, doctor):
    appointment = _confirmed_at(in_days(2, hour=10), other_doctor)

    with time_machine.travel(appointment.start - HOUR, tick=False):
        response = client_for(doctor).post(appointment_url(appointment, "check_in"))

    assert response.status_code == 404


# ---------------------------------------------------------------------------
# Acceptance (2) and (3): an arrived visit holds its slot and its transitions are few
# ---------------------------------------------------------------------------
def test_an_arrived_visits_block_cannot_be_booked(doctor, patient_client):
    appointment = _arrived(doctor, start=in_days(2, hour=10))

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": appointment.time_block_id})

    assert response.status_code == 409
    assert response.json()["code"] == SLOT_TAKEN


def test_the_patient_cannot_cancel_or_move_an_arrived_visit(doctor):
    appointment = _arrived(doctor, start=in_days(5, hour=10))
    target = TimeBlockFactory(doctor=doctor, start=in_days(6, hour=10))
    client = client_for(appointment.patient)

    cancel = client.post(appointment_url(appointment, "cancel"), {"reason": "Bored"})
    move = client.post(appointment_url(appointment, "reschedule"), {"time_block": target.pk})
    by_doctor = client_for(doctor).post(appointment_url(appointment, "cancel"), {"reason": "x"})

    for response in (cancel, move, by_doctor):
        assert response.status_code == 409
        assert response.json()["code"] == ILLEGAL_TRANSITION
    appointment.refresh_from_db()
    assert appointment.status == Status.ARRIVED


def test_the_clinic_cancels_an_arrived_visit_only_with_a_reason(doctor, staff):
    appointment = _arrived(doctor)
    url = appointment_url(appointment, "cancel")

    without = client_for(staff).post(url, {})
    blank = client_for(staff).post(url, {"reason": "   "})
    with_reason = client_for(staff).post(url, {"reason": "Could not wait any longer"})

    assert without.status_code == 400
    assert without.json() == {"reason": [ARRIVED_CANCEL_NEEDS_REASON]}
    assert blank.status_code == 400
    assert with_reason.status_code == 200, with_reason.content
    assert with_reason.json()["cancellation_code"] == CancellationCode.LEFT_UNSEEN
    assert len(audit_rows("appointment.cancelled")) == 1


def test_no_show_of_an_arrived_visit_is_illegal(doctor):
    appointment = _arrived(doctor)

    response = client_for(doctor).post(appointment_url(appointment, "no_show"))

    assert response.status_code == 409
    assert response.json()["code"] == ILLEGAL_TRANSITION


# ---------------------------------------------------------------------------
# start-visit and complete
# ---------------------------------------------------------------------------
def test_start_visit_sets_seen_at_once_then_complete(doctor, clinic_admin):
    appointment = _arrived(doctor)
    now = appointment.start + 5 * MINUTE

    with time_machine.travel(now, tick=False):
        first = client_for(doctor).post(appointment_url(appointment, "start_visit"))
        second = client_for(clinic_admin).post(appointment_url(appointment, "start_visit"))
        done = client_for(clinic_admin).post(appointment_url(appointment, "complete"))

    assert first.status_code == 200, first.content
    assert first.json()["status"] == Status.ARRIVED
    assert second.status_code == 409
    assert second.json()["code"] == ILLEGAL_TRANSITION
    assert done.status_code == 200
    appointment.refresh_from_db()
    assert appointment.seen_at == now
    assert appointment.status == Status.COMPLETED
    [event] = audit_rows("appointment.visit_started")
    assert event.actor_id == doctor.pk


def test_start_visit_needs_an_arrived_patient(doctor):
    appointment = _confirmed_at(in_days(2, hour=10), doctor)

    response = client_for(doctor).post(appointment_url(appointment, "start_visit"))

    assert response.status_code == 409
    assert response.json()["code"] == ILLEGAL_TRANSITION


def test_an_arrived_visit_is_completed_only_after_its_start(doctor):
    appointment = _arrived(doctor, start=in_days(2, hour=10))

    with time_machine.travel(appointment.start - MINUTE, tick=False):
        early = client_for(doctor).post(appointment_url(appointment, "complete"))
    with time_machine.travel(appointment.start, tick=False):
        on_time = client_for(doctor).post(appointment_url(appointment, "complete"))

    assert early.status_code == 409
    assert on_time.status_code == 200


def test_close_past_appointments_completes_arrived_visits(doctor):
    arrived = _arrived(doctor, start=in_days(-3, hour=10))

    call_command("close_past_appointments", stdout=StringIO())

    arrived.refresh_from_db()
    assert arrived.status == Status.COMPLETED
    assert arrived.completed_at is not None
