"""Races of waitlist rounds on PostgreSQL: real threads, real transactions, one connection
each (STYLE.md rule 24); DESIGN-R2 §R2-3 acceptance (8): bookings and cancellations racing
rounds never deadlock (the lock order alone, no retry) and never give a block twice."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.db.models import Count
from django.utils import timezone

from core.exceptions import OFFER_TAKEN
from scheduling.models import (
    ACTIVE_STATUSES,
    OPEN_HOLD,
    Appointment,
    SlotHold,
    WaitlistEntry,
    WaitlistOffer,
)
from scheduling.services import waitlist_offers
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url
from tests.support.clients import client_for
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    StaffFactory,
    TimeBlockFactory,
)
from tests.support.races import codes, race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lock_order_alone_suffices"),
]


@pytest.fixture(autouse=True)
def _rounds(settings):
    settings.WAITLIST_OFFER_BATCH = 2
    settings.WAITLIST_OFFER_TTL_SECONDS = 60


class _Done:
    """A job's outcome in the shape race() reads from a response."""

    status_code = 200

    def __init__(self, made: int) -> None:
        self.made = made

    def json(self) -> dict:
        return {"made": self.made}


def _process(block_id: int) -> Callable[[], object]:
    return lambda: _Done(waitlist_offers.waitlist_process_block(block_id=block_id))


def _post(client, url: str, data: dict | None = None) -> Callable[[], object]:
    return lambda: client.post(url, data or {}, format="json")


def _wait(patient, doctor) -> WaitlistEntry:
    today = timezone.localdate()
    return WaitlistEntry.objects.create(
        patient=patient,
        doctor=doctor,
        date_from=today,
        date_to=today + datetime.timedelta(days=30),
    )


def _assert_no_block_given_twice() -> None:
    per_block = (
        Appointment.objects.filter(status__in=ACTIVE_STATUSES)
        .values("time_block")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert list(per_block) == []
    # A block with an active appointment has no other open hold, and a live round's hold
    # never sits on a booked block.
    open_holds = SlotHold.objects.filter(OPEN_HOLD)
    booked = Appointment.objects.filter(status__in=ACTIVE_STATUSES).values("time_block")
    assert not open_holds.filter(time_block__in=booked).exists()
    assert not (open_holds.values("time_block").annotate(n=Count("id")).filter(n__gt=1).exists())
    # No patient has two pending offers.
    assert not (
        WaitlistOffer.objects.filter(status="pending")
        .values("entry__patient")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )


def test_bookings_holds_and_cancellations_racing_rounds_never_deadlock():
    doctor = DoctorFactory()
    staff = StaffFactory()
    waiting = PatientFactory.create_batch(6)
    for patient in waiting:
        _wait(patient, doctor)
    free = TimeBlockFactory.create_batch(3, doctor=doctor)
    booked = [
        ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor)) for _ in range(3)
    ]
    # Some waiting patients book or hold elsewhere at once: their rows, exclusively,
    # against the rounds' shared locks.
    elsewhere = TimeBlockFactory.create_batch(3)

    calls = [
        *(_process(block.pk) for block in free),
        *(_process(block.pk) for block in free),
        *(
            _post(client_for(staff), appointment_url(appt.pk, "cancel"))  # queues a round
            for appt in booked
        ),
        _post(client_for(waiting[0]), APPOINTMENTS_URL, {"time_block": free[0].pk}),
        _post(client_for(PatientFactory()), "/api/v1/holds/", {"time_block": free[1].pk}),
        *(
            _post(client_for(patient), APPOINTMENTS_URL, {"time_block": block.pk})
            for patient, block in zip(waiting[1:4], elsewhere, strict=True)
        ),
    ]
    outcomes = race(*calls)

    assert all(status < 500 for status, _ in outcomes), outcomes
    _assert_no_block_given_twice()
    assert WaitlistOffer.objects.exists()


def test_accepts_bookings_and_a_round_end_racing_book_a_block_once():
    doctor = DoctorFactory()
    a, e, c = PatientFactory(), PatientFactory(), PatientFactory()
    _wait(a, doctor)
    _wait(e, doctor)
    block = TimeBlockFactory(doctor=doctor)
    assert waitlist_offers.waitlist_process_block(block_id=block.pk) == 2
    offer_a = WaitlistOffer.objects.get(entry__patient=a)
    offer_e = WaitlistOffer.objects.get(entry__patient=e)
    other_block = TimeBlockFactory(doctor=doctor)
    _wait(PatientFactory(), doctor)  # someone for the other block's round

    outcomes = race(
        _post(client_for(a), f"/api/v1/waitlist/offers/{offer_a.pk}/accept/"),
        _post(client_for(e), f"/api/v1/waitlist/offers/{offer_e.pk}/accept/"),
        _post(client_for(c), APPOINTMENTS_URL, {"time_block": block.pk}),
        _post(client_for(a), APPOINTMENTS_URL, {"time_block": other_block.pk}),
        _process(other_block.pk),
        _process(block.pk),
    )

    accepts = codes(outcomes[:2])
    assert accepts == {(201, None): 1, (409, OFFER_TAKEN): 1}, outcomes
    assert outcomes[2][0] == 409  # C: the block is held, then booked
    assert all(status < 500 for status, _ in outcomes), outcomes
    [appointment] = Appointment.objects.filter(time_block=block, status__in=ACTIVE_STATUSES)
    assert appointment.patient_id in (a.pk, e.pk)
    assert WaitlistEntry.objects.filter(status="booked").count() == 1
    assert WaitlistOffer.objects.filter(time_block=block, status="accepted").count() == 1
    _assert_no_block_given_twice()


def test_cancellations_of_waiting_patients_racing_rounds_never_deadlock():
    """The waiting patients cancel their own visits (their rows and appointments) while
    rounds that pick them run on other blocks."""
    doctor = DoctorFactory()
    patients = PatientFactory.create_batch(4)
    for patient in patients:
        _wait(patient, doctor)
    own = [
        ConfirmedAppointmentFactory(
            patient=patient,
            time_block=TimeBlockFactory(start=timezone.now() + datetime.timedelta(days=20)),
        )
        for patient in patients
    ]
    freed = [
        ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor)) for _ in range(2)
    ]
    staff = StaffFactory()

    outcomes = race(
        *(
            _post(client_for(p), appointment_url(appt.pk, "cancel"))
            for p, appt in zip(patients, own, strict=True)
        ),
        *(_post(client_for(staff), appointment_url(appt.pk, "cancel")) for appt in freed),
        *(_process(appt.time_block_id) for appt in freed),
    )

    assert all(status < 500 for status, _ in outcomes), outcomes
    _assert_no_block_given_twice()
    pending = WaitlistOffer.objects.filter(status="pending")
    assert pending.values("time_block").distinct().count() == 2
