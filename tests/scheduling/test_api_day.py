"""GET day/: one clinic day per doctor for the front desk (DESIGN-R2 §R2-4, R2-11 day/)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import override_settings

from audit.models import AuditEvent
from scheduling.models import Appointment, CancellationCode
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    CancelledAppointmentFactory,
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
)

pytestmark = pytest.mark.django_db

DAY_URL = "/api/v1/day/"
Status = Appointment.Status
MINUTE = datetime.timedelta(minutes=1)
# A fixed clinic day; "now" is 10:00 UTC on it.
DATE = datetime.date(2031, 3, 4)
NOW = datetime.datetime(2031, 3, 4, 10, 0, tzinfo=datetime.UTC)


def at(hour: int, minute: int = 0, day: datetime.date = DATE) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=datetime.UTC)


@pytest.fixture
def clinic_day():
    """Two doctors' day: visits in every stage, a cancelled one, free and withdrawn blocks,
    and one visit the next day."""
    first, second = DoctorFactory(last_name="Adams"), DoctorFactory(last_name="Brown")
    patient = PatientFactory()
    rows = {
        "waiting": AppointmentFactory(
            patient=patient,
            status=Status.ARRIVED,
            arrived_at=at(9, 12) + datetime.timedelta(seconds=30),
            time_block=TimeBlockFactory(doctor=first, start=at(9)),
        ),
        "in_visit": AppointmentFactory(
            status=Status.ARRIVED,
            arrived_at=at(8, 40),
            seen_at=at(9, 25),
            time_block=TimeBlockFactory(doctor=first, start=at(9, 30)),
        ),
        "expected": ConfirmedAppointmentFactory(
            patient=patient, time_block=TimeBlockFactory(doctor=first, start=at(11))
        ),
        "done": CompletedAppointmentFactory(
            arrived_at=at(8, 5),
            seen_at=at(8, 20),
            time_block=TimeBlockFactory(doctor=second, start=at(8)),
        ),
        "cancelled": CancelledAppointmentFactory(
            time_block=TimeBlockFactory(doctor=second, start=at(12))
        ),
        "tomorrow": ConfirmedAppointmentFactory(
            time_block=TimeBlockFactory(doctor=second, start=at(9, day=DATE.replace(day=5)))
        ),
    }
    free = TimeBlockFactory(doctor=first, start=at(15))
    WithdrawnTimeBlockFactory(doctor=first, start=at(16))
    return first, second, rows, free


def _day(user, query: str = ""):
    """The day as `user` sees it at NOW (the token is made then: it would have expired)."""
    with time_machine.travel(NOW, tick=False):
        return client_for(user).get(f"{DAY_URL}{query}")


def test_staff_see_every_doctors_day_with_late_and_waiting_minutes(staff, clinic_day):
    first, second, rows, free = clinic_day

    response = _day(staff, f"?date={DATE}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["date"] == "2031-03-04"
    assert body["timezone"] == "UTC"
    assert [d["doctor"] for d in body["doctors"]] == [first.pk, second.pk]
    adams, brown = body["doctors"]
    # The cancelled visit's block is free again; the withdrawn block never shows.
    assert [b["id"] for b in adams["free_blocks"]] == [free.pk]
    assert adams["free_blocks"][0] == {
        "id": free.pk,
        "start": "2031-03-04T15:00:00Z",
        "end": "2031-03-04T15:30:00Z",
        "visit_type": None,
    }
    assert [b["id"] for b in brown["free_blocks"]] == [rows["cancelled"].time_block_id]
    waiting, in_visit, expected = adams["appointments"]
    assert waiting["id"] == rows["waiting"].pk
    assert set(waiting) == {
        "id",
        "start",
        "end",
        "status",
        "visit_type",
        "patient",
        "patient_name",
        "arrived_at",
        "seen_at",
        "late_minutes",
        "waiting_minutes",
    }
    # Arrived 9:12:30 for 9:00: 12 whole minutes late, waiting since then until 10:00.
    assert (waiting["late_minutes"], waiting["waiting_minutes"]) == (12, 47)
    # Arrived early (8:40 for 9:30), seen at 9:25: never late, waited from the start: 0.
    assert (in_visit["late_minutes"], in_visit["waiting_minutes"]) == (0, 0)
    assert (expected["late_minutes"], expected["waiting_minutes"]) == (None, None)
    assert expected["patient_name"] == rows["expected"].patient.get_full_name()
    [done] = brown["appointments"]
    assert (done["status"], done["late_minutes"], done["waiting_minutes"]) == ("completed", 5, 15)


def test_one_patient_record_viewed_per_patient_shown(staff, clinic_day):
    _, _, rows, _ = clinic_day

    _day(staff, f"?date={DATE}")

    viewed = AuditEvent.objects.filter(action="patient_record.viewed")
    shown = {rows[k].patient_id for k in ("waiting", "in_visit", "expected", "done")}
    assert len(shown) == 3  # "waiting" and "expected" are one patient
    assert sorted(int(e.target_id) for e in viewed) == sorted(shown)
    assert {e.actor_id for e in viewed} == {staff.pk}


def test_a_doctor_sees_only_their_own_day(clinic_day):
    first, second, _, _ = clinic_day

    own = _day(first, f"?date={DATE}")
    named = _day(first, f"?date={DATE}&doctor={first.pk}")
    other = _day(first, f"?date={DATE}&doctor={second.pk}")

    assert own.status_code == 200
    assert [d["doctor"] for d in own.json()["doctors"]] == [first.pk]
    assert named.json() == own.json()
    assert other.status_code == 403
    assert set(other.json()) == {"detail"}


def test_staff_may_name_one_doctor_listed_even_with_an_empty_day(staff, clinic_day):
    _, second, _, _ = clinic_day
    idle = DoctorFactory()

    named = _day(staff, f"?date={DATE}&doctor={second.pk}")
    empty = _day(staff, f"?date={DATE}&doctor={idle.pk}")
    unknown = _day(staff, f"?date={DATE}&doctor={staff.pk}")

    assert [d["doctor"] for d in named.json()["doctors"]] == [second.pk]
    assert empty.json()["doctors"] == [{"doctor": idle.pk, "free_blocks": [], "appointments": []}]
    assert unknown.status_code == 400
    assert set(unknown.json()) == {"doctor"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anon", 401), ("patient", 403), ("doctor", 200), ("staff", 200), ("admin", 200)],
)
def test_day_permissions(role_clients, role, expected):
    assert role_clients[role].get(DAY_URL).status_code == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?date=2031-02-30", "date"),
        ("?date=tomorrow", "date"),
        ("?doctor=0", "doctor"),
        ("?doctor=abc", "doctor"),
        ("?visit_type=follow-up", "visit_type"),
    ],
)
def test_bad_parameters_are_400_naming_them(staff_client, query, field):
    response = staff_client.get(f"{DAY_URL}{query}")

    assert response.status_code == 400
    assert set(response.json()) == {field}


def test_visit_type_general_is_every_appointment(staff, clinic_day):
    everything = _day(staff, f"?date={DATE}")
    general = _day(staff, f"?date={DATE}&visit_type=general")

    assert general.json() == everything.json()


@override_settings(TIME_ZONE="Pacific/Auckland")
def test_the_day_is_the_clinics_day_in_time_zone(staff):
    doctor = DoctorFactory()
    # 2031-03-04 22:00 UTC is 11:00 on the 5th in Auckland (UTC+13 in March).
    late = ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=at(22)))

    response = _day(staff)  # today in Auckland at 10:00 UTC is the 4th, 23:00

    assert response.json()["date"] == "2031-03-04"
    assert response.json()["timezone"] == "Pacific/Auckland"
    assert response.json()["doctors"] == []
    fifth = _day(staff, "?date=2031-03-05").json()
    assert [a["id"] for a in fifth["doctors"][0]["appointments"]] == [late.pk]


def test_left_unseen_and_other_cancelled_visits_are_not_listed(staff):
    doctor = DoctorFactory()
    CancelledAppointmentFactory(
        cancellation_code=CancellationCode.LEFT_UNSEEN,
        time_block=TimeBlockFactory(doctor=doctor, start=at(9)),
    )

    body = _day(staff, f"?date={DATE}").json()

    [entry] = body["doctors"]
    assert entry["appointments"] == []
    assert len(entry["free_blocks"]) == 1


def test_the_day_takes_a_fixed_number_of_queries(staff, clinic_day, django_assert_max_num_queries):
    first, second, _, _ = clinic_day
    for hour in range(12, 20):  # more visits for both doctors: no query per row
        for doctor in (first, second):
            ConfirmedAppointmentFactory(
                time_block=TimeBlockFactory(doctor=doctor, start=at(hour, 30))
            )
    with time_machine.travel(NOW, tick=False):
        client = client_for(staff)
        # The caller (token), the appointments, the free blocks, one insert of the views.
        with django_assert_max_num_queries(4):
            response = client.get(f"{DAY_URL}?date={DATE}")

    assert response.status_code == 200
