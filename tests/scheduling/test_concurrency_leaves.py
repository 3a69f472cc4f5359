"""Leave under concurrency, on PostgreSQL with real threads: overlapping leaves, closures and
bookings racing a leave (DESIGN-R2 §R2-5)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction

from core.exceptions import DOCTOR_ON_LEAVE, LEAVE_OVERLAP
from scheduling.models import Appointment, Leave
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, audit_rows, iso_z
from tests.support.clients import client_for
from tests.support.factories import (
    AdminFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    StaffFactory,
    TimeBlockFactory,
    in_days,
)
from tests.support.races import codes, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
LEAVES_URL = "/api/v1/leaves/"
HOUR = datetime.timedelta(hours=1)


def _post(client, url: str, data: dict) -> Callable[[], object]:
    return lambda: client.post(url, data, format="json")


def _leave(start, end, **extra) -> dict:
    return {"start": iso_z(start), "end": iso_z(end), "category": "vacation", **extra}


def test_two_overlapping_leaves_of_one_doctor_at_once_exactly_one_wins():
    doctor = DoctorFactory()
    staff = client_for(StaffFactory())
    base = in_days(6)

    outcomes = race(
        _post(client_for(doctor), LEAVES_URL, _leave(base, base + 4 * HOUR)),
        _post(staff, LEAVES_URL, _leave(base + HOUR, base + 6 * HOUR, doctor=doctor.pk)),
    )

    assert codes(outcomes) == {(201, None): 1, (409, LEAVE_OVERLAP): 1}
    assert Leave.objects.count() == 1
    assert len(audit_rows("leave.created")) == 1


def test_two_overlapping_closures_at_once_exactly_one_wins():
    TimeBlockFactory(start=in_days(6) + HOUR)  # a doctor to lock
    admins = [client_for(AdminFactory()) for _ in range(2)]
    base = in_days(6)
    body = _leave(base, base + 8 * HOUR, category="holiday", doctor=None)

    outcomes = race(*(_post(admin, LEAVES_URL, body) for admin in admins))

    assert codes(outcomes) == {(201, None): 1, (409, LEAVE_OVERLAP): 1}
    assert Leave.objects.filter(doctor__isnull=True).count() == 1


def test_a_booking_racing_a_leave_is_either_kept_and_reported_or_refused():
    block = TimeBlockFactory()
    doctor = block.doctor
    patient = PatientFactory()

    outcomes = race(
        _post(client_for(patient), APPOINTMENTS_URL, {"time_block": block.pk}),
        _post(client_for(doctor), LEAVES_URL, _leave(block.start - HOUR, block.end + HOUR)),
    )

    booking, leave = outcomes
    assert leave[0] == 201
    if booking[0] == 201:
        assert [a["id"] for a in leave[1]["affected_appointments"]] == [booking[1]["id"]]
        assert leave[1]["removed_blocks"] == 0
    else:
        # The leave withdrew the block first (or the booking saw the leave).
        assert booking[0] == 409
        assert booking[1]["code"] in {"block_withdrawn", DOCTOR_ON_LEAVE}
        assert not Appointment.objects.exists()


def test_the_exclusion_constraint_refuses_what_the_service_would():
    doctor = DoctorFactory()
    base = in_days(6)
    Leave.objects.create(doctor=doctor, start=base, end=base + HOUR, category="sick")
    Leave.objects.create(doctor=None, start=base, end=base + HOUR, category="holiday")
    with pytest.raises(IntegrityError, match="leave_no_overlap"), transaction.atomic():
        Leave.objects.create(doctor=doctor, start=base, end=base + 2 * HOUR, category="other")
    with pytest.raises(IntegrityError, match="leave_no_overlap"), transaction.atomic():
        Leave.objects.create(doctor=None, start=base, end=base + 2 * HOUR, category="other")
    # A cancelled leave no longer counts.
    Leave.objects.filter(doctor=doctor).update(cancelled_at=base)
    Leave.objects.create(doctor=doctor, start=base, end=base + 2 * HOUR, category="other")


def test_two_resolves_at_once_cancel_each_visit_once_and_leave_nothing_unresolved():
    doctor = DoctorFactory()
    base = in_days(5, hour=8)
    visits = [
        ConfirmedAppointmentFactory(
            time_block=TimeBlockFactory(doctor=doctor, start=base + n * HOUR)
        )
        for n in range(4)
    ]
    leave = Leave.objects.create(doctor=doctor, start=base, end=base + 5 * HOUR, category="sick")
    clients = [client_for(StaffFactory()) for _ in range(2)]
    url = f"{LEAVES_URL}{leave.pk}/resolve/"

    outcomes = race(*(_post(c, url, {"action": "cancel"}) for c in clients))

    assert [status for status, _ in outcomes] == [200, 200]
    cancelled = sorted(a["id"] for _, body in outcomes for a in body["cancelled"])
    assert cancelled == sorted(v.pk for v in visits)
    assert all(body["unresolved"] == [] for _, body in outcomes)
    assert len(audit_rows("appointment.cancelled")) == 4
