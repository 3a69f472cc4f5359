"""GET stats/appointments/: attendance statistics (DESIGN-R2 §R2-4, R2-11 "stats keys"),
checked against a fixture computed by hand."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import override_settings

from scheduling.models import Appointment, CancellationCode
from tests.support.clients import client_for
from tests.support.factories import AppointmentFactory, DoctorFactory, TimeBlockFactory

pytestmark = pytest.mark.django_db

STATS_URL = "/api/v1/stats/appointments/"
Status = Appointment.Status
Code = CancellationCode
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
MINUTE = datetime.timedelta(minutes=1)
# Monday 2031-03-03 .. Sunday 2031-03-09; "now" is Monday the 10th at noon UTC.
NOW = datetime.datetime(2031, 3, 10, 12, 0, tzinfo=datetime.UTC)
WINDOW = "from=2031-03-03&to=2031-03-09"


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2031, 3, day, hour, minute, tzinfo=datetime.UTC)


def visit(doctor, start, status, *, booked_ahead=DAY * 10, **fields) -> Appointment:
    appointment = AppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=start), status=status, **fields
    )
    # created_at is auto_now_add: set it afterwards for the lead time.
    Appointment.objects.filter(pk=appointment.pk).update(created_at=start - booked_ahead)
    return appointment


@pytest.fixture
def acceptance():
    """R2-4 acceptance (6) for one doctor: 3 completed, 1 no-show, 1 desk cancel coded
    patient inside the notice window, 1 expired; plus a second doctor's day of waits.

    Doctor A (all on Monday 3rd at 09:00-14:00 UTC, booked 10 days ahead):
      completed x3 (waits 10, 20, 40 min -> median 20), no_show, cancelled patient at
      start - 2 h (late: inside 24 h), cancelled expired at start + 49 h (never late).
      no_show_rate = 1 / (3 + 0 + 1) = 0.25; late_cancel_rate = 1 / 6 = 0.1667.
    Doctor B (Wednesday 5th): one completed at 15:00 booked 2 h ahead (wait 5 min), one
      cancelled by the patient 3 days ahead (not late), one confirmed in the future (not
      counted: past starts only), one arrived (no wait yet: not seen).
    """
    a, b = DoctorFactory(last_name="A"), DoctorFactory(last_name="B")
    for hour, wait in ((9, 10), (10, 20), (11, 40)):
        start = at(3, hour)
        visit(
            a,
            start,
            Status.COMPLETED,
            arrived_at=start - 5 * MINUTE,
            seen_at=start + wait * MINUTE,
            completed_at=start + HOUR,
        )
    visit(a, at(3, 12), Status.NO_SHOW)
    visit(
        a,
        at(3, 13),
        Status.CANCELLED,
        cancellation_code=Code.PATIENT,
        cancelled_at=at(3, 11),
    )
    visit(
        a,
        at(3, 14),
        Status.CANCELLED,
        cancellation_code=Code.EXPIRED,
        cancelled_at=at(5, 15),
    )
    visit(
        b,
        at(5, 15),
        Status.COMPLETED,
        booked_ahead=2 * HOUR,
        arrived_at=at(5, 15, 2),
        seen_at=at(5, 15, 7),
    )
    visit(
        b,
        at(5, 16),
        Status.CANCELLED,
        booked_ahead=40 * DAY,
        cancellation_code=Code.PATIENT,
        cancelled_at=at(2, 16),
    )
    visit(b, at(5, 17), Status.ARRIVED, booked_ahead=3 * DAY, arrived_at=at(5, 17, 30))
    visit(b, NOW + HOUR, Status.CONFIRMED)  # future: not counted
    return a, b


def stats(user, query: str):
    with time_machine.travel(NOW, tick=False):
        return client_for(user).get(f"{STATS_URL}?{query}")


def test_acceptance_six_no_show_and_late_cancel_rates_per_doctor(staff, acceptance):
    a, b = acceptance

    response = stats(staff, f"{WINDOW}&group_by=doctor")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["from"] == "2031-03-03T00:00:00Z"
    assert body["to"] == "2031-03-10T00:00:00Z"  # `to` is inclusive: the day after it
    assert body["group_by"] == "doctor"
    assert body["groups"] == [
        {
            "key": a.pk,
            "total": 6,
            "completed": 3,
            "arrived": 0,
            "no_show": 1,
            "cancelled": 2,
            "late_cancelled": 1,
            "no_show_rate": 0.25,
            "late_cancel_rate": 0.1667,
            "wait_median_minutes": 20.0,
        },
        {
            "key": b.pk,
            "total": 3,
            "completed": 1,
            "arrived": 1,
            "no_show": 0,
            "cancelled": 1,
            "late_cancelled": 0,
            "no_show_rate": 0.0,
            "late_cancel_rate": 0.0,
            "wait_median_minutes": 5.0,
        },
    ]


def test_weekday_and_hour_keys(staff, acceptance):
    weekday = stats(staff, f"{WINDOW}&group_by=weekday").json()["groups"]
    hour = stats(staff, f"{WINDOW}&group_by=hour").json()["groups"]

    assert [(g["key"], g["total"]) for g in weekday] == [(0, 6), (2, 3)]  # Monday, Wednesday
    assert [(g["key"], g["total"]) for g in hour] == [
        (9, 1),
        (10, 1),
        (11, 1),
        (12, 1),
        (13, 1),
        (14, 1),
        (15, 1),
        (16, 1),
        (17, 1),
    ]
    assert hour[3]["no_show_rate"] == 1.0
    assert hour[4]["no_show_rate"] is None  # a cancelled visit only: no kept visit


@override_settings(TIME_ZONE="Pacific/Auckland")
def test_weekday_and_hour_are_of_the_start_in_time_zone(staff, acceptance):
    # Monday 09:00 UTC is Monday 22:00 in Auckland (UTC+13); Monday 11:00 UTC is Tuesday 00:00.
    window = "from=2031-03-01T00:00:00Z&to=2031-03-10T00:00:00Z"
    weekday = stats(staff, f"{window}&group_by=weekday").json()["groups"]
    hour = stats(staff, f"{window}&group_by=hour").json()["groups"]

    assert [(g["key"], g["total"]) for g in weekday] == [(0, 2), (1, 4), (3, 3)]
    assert (hour[0]["key"], hour[0]["total"]) == (0, 1)  # Monday 11:00 UTC
    assert hour[-1]["key"] == 23


def test_lead_time_buckets(staff, acceptance):
    groups = stats(staff, f"{WINDOW}&group_by=lead_time").json()["groups"]

    assert [(g["key"], g["total"]) for g in groups] == [
        ("<1d", 1),
        ("1-7d", 1),
        ("7-30d", 6),
        (">30d", 1),
    ]


def test_visit_type_is_general_until_visit_types_exist(staff, acceptance):
    [group] = stats(staff, f"{WINDOW}&group_by=visit_type").json()["groups"]

    assert group["key"] == "general"
    assert group["total"] == 9
    assert group["late_cancel_rate"] == round(1 / 9, 4)


def test_a_doctor_sees_their_own_only(acceptance):
    a, b = acceptance

    own = stats(a, f"{WINDOW}")
    named = stats(a, f"{WINDOW}&doctor={b.pk}")

    assert [g["key"] for g in own.json()["groups"]] == [a.pk]
    assert named.status_code == 403


def test_staff_may_name_a_doctor(staff, acceptance):
    _, b = acceptance

    groups = stats(staff, f"{WINDOW}&doctor={b.pk}").json()["groups"]

    assert [g["key"] for g in groups] == [b.pk]


def test_empty_window_has_no_groups(staff, acceptance):
    response = stats(staff, "from=2030-01-01&to=2030-01-31")

    assert response.json()["groups"] == []


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anon", 401), ("patient", 403), ("doctor", 200), ("staff", 200), ("admin", 200)],
)
def test_stats_permissions(role_clients, role, expected):
    assert role_clients[role].get(STATS_URL).status_code == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=specialty", "group_by"),
        ("from=2030-02-30", "from"),
        ("from=2030-01-01T00:00:00", "from"),  # naive
        ("to=yesterday", "to"),
        ("from=2030-02-01&to=2030-01-01", "from"),
        ("from=2030-01-01&to=2031-01-02", "to"),  # 367 days
        ("doctor=0", "doctor"),
    ],
)
def test_bad_parameters_are_400_naming_them(staff_client, query, field):
    response = staff_client.get(f"{STATS_URL}?{query}")

    assert response.status_code == 400
    assert set(response.json()) == {field}


def test_a_full_year_is_allowed(staff_client):
    assert staff_client.get(f"{STATS_URL}?from=2030-01-01&to=2031-01-01").status_code == 200


def test_stats_take_a_fixed_number_of_queries(staff, acceptance, django_assert_max_num_queries):
    with time_machine.travel(NOW, tick=False):
        client = client_for(staff)
        # The caller (token), the grouped counts, the waits.
        with django_assert_max_num_queries(3):
            response = client.get(f"{STATS_URL}?{WINDOW}")

    assert response.status_code == 200
