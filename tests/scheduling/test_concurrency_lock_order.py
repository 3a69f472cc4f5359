"""The global lock order (core/locking.py) under real concurrency, on PostgreSQL.

Each test races, round after round, two requests whose row locks used to be taken in
opposite orders (PostgreSQL then aborted one with "deadlock detected": a 500), or that let a
booking slip past a concurrent deactivation. A deadlock, or any other exception, fails
`race`; every answer must be one of the listed domain outcomes, and the end state must be
consistent: a deactivated user keeps no future active appointment (STYLE.md rule 24).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from itertools import combinations
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.models import User
from core.exceptions import (
    BLOCK_HAS_APPOINTMENT,
    DOCTOR_UNAVAILABLE,
    ILLEGAL_TRANSITION,
    PATIENT_OVERLAP,
    SLOT_TAKEN,
)
from scheduling.models import ACTIVE_STATUSES, Appointment
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url
from tests.support.clients import client_for
from tests.support.factories import (
    AdminFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)
from tests.support.races import codes, race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lock_order_alone_suffices"),
]

ROUNDS = 20
Status = Appointment.Status
OK, CREATED, NO_CONTENT = (200, None), (201, None), (204, None)
BAD_REQUEST, UNAUTHENTICATED = (400, None), (401, None)


def _post(user: User, url: str, data: dict | None = None) -> Callable[[], object]:
    client = client_for(user)
    return lambda: client.post(url, data or {}, format="json")


def _patch(user: User, url: str, data: dict) -> Callable[[], object]:
    client = client_for(user)
    return lambda: client.patch(url, data, format="json")


def _deactivate(admin: User, user: User) -> Callable[[], object]:
    """DELETE users/{id}/ (a 204 without a body), shaped as `race` reads responses."""
    client = client_for(admin)

    def call() -> SimpleNamespace:
        response = client.delete(f"/api/v1/users/{user.pk}/")
        body = response.json() if response.content else {}
        return SimpleNamespace(status_code=response.status_code, json=lambda: body)

    return call


def _outcome(outcome: tuple[int, dict]) -> tuple[int, str | None]:
    return next(iter(codes([outcome])))


def _assert_nothing_active_left(user: User) -> None:
    user.refresh_from_db()
    assert not user.is_active
    future = Appointment.objects.filter(status__in=ACTIVE_STATUSES, start__gt=timezone.now())
    assert not future.filter(patient=user).exists()
    assert not future.filter(doctor=user).exists()


# ---------------------------------------------------------------------------
# Booking against deactivation
# ---------------------------------------------------------------------------
def test_booking_racing_the_patients_deactivation_leaves_them_nothing_active():
    admin = AdminFactory()
    for _ in range(ROUNDS):
        patient, block = PatientFactory(), TimeBlockFactory()

        book, deactivate = race(
            _post(patient, APPOINTMENTS_URL, {"time_block": block.pk}),
            _deactivate(admin, patient),
        )

        assert _outcome(deactivate) == NO_CONTENT
        # Booked first (then cancelled by the deactivation), refused on the locked patient
        # row, or refused at sign-in once the deactivation had committed.
        assert _outcome(book) in (CREATED, BAD_REQUEST, UNAUTHENTICATED)
        _assert_nothing_active_left(patient)
        if book[0] == 201:
            booked = Appointment.objects.get(pk=book[1]["id"])
            assert booked.cancellation_reason == "Account deactivated"


def test_booking_racing_the_doctors_deactivation_leaves_them_nothing_active():
    admin = AdminFactory()
    for _ in range(ROUNDS):
        doctor = DoctorFactory()
        block = TimeBlockFactory(doctor=doctor)

        book, deactivate = race(
            _post(PatientFactory(), APPOINTMENTS_URL, {"time_block": block.pk}),
            _deactivate(admin, doctor),
        )

        assert _outcome(deactivate) == NO_CONTENT
        assert _outcome(book) in (CREATED, (409, DOCTOR_UNAVAILABLE))
        _assert_nothing_active_left(doctor)


# ---------------------------------------------------------------------------
# Appointment changes against deactivation
# ---------------------------------------------------------------------------
def test_reschedule_racing_the_patients_deactivation_ends_cancelled():
    admin = AdminFactory()
    for _ in range(ROUNDS):
        appointment = ConfirmedAppointmentFactory()
        old_block = appointment.time_block_id
        target = TimeBlockFactory(doctor=appointment.doctor)
        patient = appointment.patient

        move, deactivate = race(
            _post(patient, appointment_url(appointment, "reschedule"), {"time_block": target.pk}),
            _deactivate(admin, patient),
        )

        assert _outcome(deactivate) == NO_CONTENT
        assert _outcome(move) in (OK, (409, ILLEGAL_TRANSITION), UNAUTHENTICATED)
        appointment.refresh_from_db()
        assert appointment.status == Status.CANCELLED
        assert appointment.time_block_id == (target.pk if move[0] == 200 else old_block)
        _assert_nothing_active_left(patient)


def test_patient_cancelling_while_being_deactivated_is_cancelled_once():
    admin = AdminFactory()
    for _ in range(ROUNDS):
        appointment = ConfirmedAppointmentFactory()
        patient = appointment.patient

        cancel, deactivate = race(
            _post(patient, appointment_url(appointment, "cancel")),
            _deactivate(admin, patient),
        )

        assert _outcome(deactivate) == NO_CONTENT
        assert _outcome(cancel) in (OK, (409, ILLEGAL_TRANSITION), UNAUTHENTICATED)
        appointment.refresh_from_db()
        assert appointment.status == Status.CANCELLED
        expected_by = patient.pk if cancel[0] == 200 else admin.pk
        assert appointment.cancelled_by_id == expected_by
        _assert_nothing_active_left(patient)


def test_doctor_confirming_while_being_deactivated_ends_cancelled():
    admin = AdminFactory()
    for _ in range(ROUNDS):
        appointment = PendingAppointmentFactory()
        doctor = appointment.doctor

        confirm, deactivate = race(
            _post(doctor, appointment_url(appointment, "confirm")),
            _deactivate(admin, doctor),
        )

        assert _outcome(deactivate) == NO_CONTENT
        assert _outcome(confirm) in (OK, (409, ILLEGAL_TRANSITION), UNAUTHENTICATED)
        appointment.refresh_from_db()
        assert appointment.status == Status.CANCELLED
        _assert_nothing_active_left(doctor)


# ---------------------------------------------------------------------------
# Blocks and bookings
# ---------------------------------------------------------------------------
def test_doctor_moving_a_block_while_it_is_booked_one_of_them_wins():
    for _ in range(ROUNDS):
        block = TimeBlockFactory()
        start, end = block.start, block.end
        later = {
            "start": (start + datetime.timedelta(hours=1)).isoformat(),
            "end": (end + datetime.timedelta(hours=1)).isoformat(),
        }

        move, book = race(
            _patch(block.doctor, f"/api/v1/time-blocks/{block.pk}/", later),
            _post(PatientFactory(), APPOINTMENTS_URL, {"time_block": block.pk}),
        )

        assert _outcome(book) == CREATED
        assert _outcome(move) in (OK, (409, BLOCK_HAS_APPOINTMENT))
        block.refresh_from_db()
        booked = Appointment.objects.get(time_block=block)
        assert (booked.start, booked.end) == (block.start, block.end)
        moved = move[0] == 200
        assert block.start == (start + datetime.timedelta(hours=1) if moved else start)


def test_booking_and_a_reschedule_into_the_same_block_exactly_one_wins():
    for _ in range(ROUNDS):
        moving = ConfirmedAppointmentFactory()
        target = TimeBlockFactory(doctor=moving.doctor)
        body = {"time_block": target.pk}

        move, book = race(
            _post(moving.patient, appointment_url(moving, "reschedule"), body),
            _post(PatientFactory(), APPOINTMENTS_URL, body),
        )

        assert {_outcome(move), _outcome(book)} in (
            {OK, (409, SLOT_TAKEN)},
            {CREATED, (409, SLOT_TAKEN)},
        )
        active = Appointment.objects.filter(time_block=target, status__in=ACTIVE_STATUSES)
        assert active.count() == 1


def test_patient_booking_while_moving_another_appointment_to_the_same_time_gets_one():
    # The two writes of one patient meet in the overlap constraint: the booking waited for
    # the reschedule's transaction while holding the patient's row the reschedule needed.
    for _ in range(ROUNDS):
        moving = ConfirmedAppointmentFactory()
        target = TimeBlockFactory(doctor=moving.doctor)
        clash = TimeBlockFactory(start=target.start, end=target.end)
        patient = moving.patient

        move, book = race(
            _post(patient, appointment_url(moving, "reschedule"), {"time_block": target.pk}),
            _post(patient, APPOINTMENTS_URL, {"time_block": clash.pk}),
        )

        assert {_outcome(move), _outcome(book)} in (
            {OK, (409, PATIENT_OVERLAP)},
            {CREATED, (409, PATIENT_OVERLAP)},
        )
        active = list(Appointment.objects.filter(patient=patient, status__in=ACTIVE_STATUSES))
        assert len(active) == (1 if move[0] == 200 else 2)
        assert not any(a.start < b.end and b.start < a.end for a, b in combinations(active, 2))


def test_patient_moving_two_appointments_to_the_same_time_gets_one():
    # Two updates racing into the overlap (exclusion) constraint each waited for the other.
    for _ in range(ROUNDS):
        first = ConfirmedAppointmentFactory()
        patient = first.patient
        second = ConfirmedAppointmentFactory(patient=patient)
        target = TimeBlockFactory(doctor=first.doctor)
        clash = TimeBlockFactory(doctor=second.doctor, start=target.start, end=target.end)

        outcomes = race(
            _post(patient, appointment_url(first, "reschedule"), {"time_block": target.pk}),
            _post(patient, appointment_url(second, "reschedule"), {"time_block": clash.pk}),
        )

        assert codes(outcomes) == {OK: 1, (409, PATIENT_OVERLAP): 1}
        active = list(Appointment.objects.filter(patient=patient, status__in=ACTIVE_STATUSES))
        assert len(active) == 2
        assert not any(a.start < b.end and b.start < a.end for a, b in combinations(active, 2))
