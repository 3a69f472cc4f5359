"""Bulk creation of time blocks from a weekly pattern: counts, limits and daylight saving."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import TimeBlock
from scheduling.services import (
    MAX_BULK_SLOTS,
    BulkResult,
    time_block_bulk_create,
    time_block_create,
)
from tests.support.factories import (
    DoctorFactory,
    InactiveDoctorFactory,
    PatientFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
)

UTC = datetime.UTC
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# Daylight saving in 2030: Madrid springs forward on Sunday 31 March (02:00 → 03:00), New
# York on Sunday 10 March (02:00 → 03:00) and falls back on Sunday 3 November (02:00 → 01:00).
BEFORE_2030 = datetime.datetime(2030, 1, 1, tzinfo=UTC)
MONDAY = datetime.date(2030, 1, 7)


def d(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def t(text: str) -> datetime.time:
    return datetime.time.fromisoformat(text)


def bulk(doctor, **overrides) -> BulkResult:
    """The service with a one-day, 09:00-10:00, 30-minute UTC pattern unless overridden."""
    params = {
        "actor": doctor,
        "doctor": doctor,
        "date_from": MONDAY,
        "date_to": MONDAY,
        "weekdays": list(range(7)),
        "start_time": t("09:00"),
        "end_time": t("10:00"),
        "slot_minutes": 30,
        "timezone_name": "UTC",
    }
    params.update(overrides)
    return time_block_bulk_create(**params)


def starts(doctor) -> list[datetime.datetime]:
    return list(
        TimeBlock.objects.filter(doctor=doctor).order_by("start").values_list("start", flat=True)
    )


def utc(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.fixture
def frozen():
    """Time stands still on 1 January 2030, before every date these tests plan."""
    with time_machine.travel(BEFORE_2030, tick=False):
        yield


@pytest.fixture
def utc_doctor(db):
    return DoctorFactory(profile__timezone="UTC")


# ---------------------------------------------------------------------------
# Counts and the pattern
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_bulk_creates_every_slot_of_the_weekly_pattern(frozen, utc_doctor, staff):
    result = bulk(
        utc_doctor,
        actor=staff,
        date_from=MONDAY,
        date_to=MONDAY + datetime.timedelta(days=6),
        weekdays=[0, 2, 4],
        end_time=t("12:00"),
        slot_minutes=60,
    )

    assert result == BulkResult(created=9, skipped=0, total=9)
    blocks = TimeBlock.objects.filter(doctor=utc_doctor).order_by("start")
    assert [b.start for b in blocks] == [
        utc(2030, 1, day, hour) for day in (7, 9, 11) for hour in (9, 10, 11)
    ]
    assert all(b.end - b.start == datetime.timedelta(hours=1) for b in blocks)
    assert all(b.withdrawn_at is None for b in blocks)
    event = AuditEvent.objects.get(action="time_block.bulk_created")
    assert event.actor_id == staff.pk
    assert event.actor_role == "staff"
    assert event.data == {
        "doctor": utc_doctor.pk,
        "created": 9,
        "skipped": 0,
        "total": 9,
        "on_leave": 0,
        "time_zone": "UTC",
        "source": "bulk",
        "visit_type": None,
        "date_from": "2030-01-07",
        "date_to": "2030-01-13",
    }


@pytest.mark.django_db
def test_bulk_drops_a_trailing_partial_slot(frozen, utc_doctor):
    result = bulk(utc_doctor, end_time=t("10:10"))

    assert result == BulkResult(created=2, skipped=0, total=2)
    assert starts(utc_doctor) == [utc(2030, 1, 7, 9), utc(2030, 1, 7, 9, 30)]


@pytest.mark.django_db
def test_bulk_skips_slots_in_the_past(utc_doctor):
    with time_machine.travel(utc(2030, 1, 7, 9, 45), tick=False):
        result = bulk(
            utc_doctor,
            date_to=MONDAY + datetime.timedelta(days=1),
            end_time=t("11:00"),
        )

    assert result == BulkResult(created=6, skipped=2, total=8)
    assert starts(utc_doctor)[:2] == [utc(2030, 1, 7, 10), utc(2030, 1, 7, 10, 30)]


@pytest.mark.django_db
def test_bulk_skips_slots_overlapping_existing_blocks(frozen, utc_doctor, other_doctor):
    TimeBlockFactory(doctor=utc_doctor, start=utc(2030, 1, 7, 9, 15), end=utc(2030, 1, 7, 9, 45))
    # Touching the pattern, withdrawn, or another doctor's: none of these take a slot.
    TimeBlockFactory(doctor=utc_doctor, start=utc(2030, 1, 7, 8, 30), end=utc(2030, 1, 7, 9))
    WithdrawnTimeBlockFactory(
        doctor=utc_doctor, start=utc(2030, 1, 7, 10), end=utc(2030, 1, 7, 10, 30)
    )
    TimeBlockFactory(doctor=other_doctor, start=utc(2030, 1, 7, 10, 30))

    result = bulk(utc_doctor, end_time=t("11:00"))

    assert result == BulkResult(created=2, skipped=2, total=4)
    created = TimeBlock.objects.filter(doctor=utc_doctor, withdrawn_at__isnull=True)
    assert sorted(created.values_list("start", flat=True)) == [
        utc(2030, 1, 7, 8, 30),
        utc(2030, 1, 7, 9, 15),
        utc(2030, 1, 7, 10),
        utc(2030, 1, 7, 10, 30),
    ]


@pytest.mark.django_db
def test_bulk_run_twice_skips_everything_the_second_time(frozen, utc_doctor):
    bulk(utc_doctor, end_time=t("12:00"))

    again = bulk(utc_doctor, end_time=t("12:00"))

    assert again == BulkResult(created=0, skipped=6, total=6)
    assert TimeBlock.objects.filter(doctor=utc_doctor).count() == 6
    assert [e.data["created"] for e in AuditEvent.objects.order_by("id")] == [6, 0]


@pytest.mark.django_db
def test_bulk_default_timezone_is_the_doctors(frozen):
    doctor = DoctorFactory(profile__timezone="America/New_York")

    bulk(doctor, timezone_name=None)

    assert starts(doctor) == [utc(2030, 1, 7, 14), utc(2030, 1, 7, 14, 30)]
    event = AuditEvent.objects.get(action="time_block.bulk_created")
    assert event.data["time_zone"] == "America/New_York"


@pytest.mark.django_db
def test_bulk_timezone_argument_overrides_the_doctors(frozen):
    doctor = DoctorFactory(profile__timezone="America/New_York")

    bulk(doctor, timezone_name="Europe/Madrid")

    assert starts(doctor)[0] == utc(2030, 1, 7, 8)


# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_bulk_over_the_slot_limit_is_refused_and_writes_nothing(frozen, utc_doctor):
    with pytest.raises(ValidationError) as error:
        bulk(
            utc_doctor,
            date_to=d("2030-12-31"),
            start_time=t("09:00"),
            end_time=t("12:00"),
            slot_minutes=60,
        )

    assert "non_field_errors" in error.value.message_dict
    assert not TimeBlock.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_bulk_of_exactly_the_slot_limit_is_accepted(frozen, utc_doctor):
    result = bulk(
        utc_doctor,
        date_to=MONDAY + datetime.timedelta(days=99),
        start_time=t("08:00"),
        end_time=t("18:00"),
        slot_minutes=60,
    )

    assert result == BulkResult(created=MAX_BULK_SLOTS, skipped=0, total=MAX_BULK_SLOTS)
    assert TimeBlock.objects.count() == MAX_BULK_SLOTS


@pytest.mark.django_db
def test_bulk_accepts_a_range_of_366_days(frozen, utc_doctor):
    result = bulk(
        utc_doctor, date_to=MONDAY + datetime.timedelta(days=366), weekdays=[0], slot_minutes=60
    )

    assert result.total == 53


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date_to": MONDAY + datetime.timedelta(days=367), "weekdays": [0]}, "date_to"),
        ({"date_to": MONDAY - datetime.timedelta(days=1)}, "date_to"),
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
        ({"weekdays": [-1]}, "weekdays"),
        ({"weekdays": [0, 7]}, "weekdays"),
        ({"slot_minutes": 4}, "slot_minutes"),
        ({"slot_minutes": 721}, "slot_minutes"),
        ({"timezone_name": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone_name": "../../etc/passwd"}, "timezone"),
        ({"end_time": t("09:00")}, "end_time"),
        ({"end_time": t("08:00")}, "end_time"),
    ],
    ids=[
        "367-days",
        "to-before-from",
        "no-weekdays",
        "weekday-7",
        "weekday-minus-1",
        "weekday-7-among-valid",
        "slot-4",
        "slot-721",
        "unknown-zone",
        "path-zone",
        "end-equals-start",
        "end-before-start",
    ],
)
def test_bulk_refuses_invalid_patterns(overrides, field, frozen, utc_doctor):
    with pytest.raises(ValidationError) as error:
        bulk(utc_doctor, **overrides)

    assert field in error.value.message_dict
    assert not TimeBlock.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("factory", [PatientFactory, InactiveDoctorFactory])
def test_bulk_for_a_non_doctor_or_inactive_doctor_is_refused(factory, frozen, staff):
    target = factory()

    with pytest.raises(ValidationError) as error:
        bulk(target, actor=staff)

    assert "doctor" in error.value.message_dict
    assert not TimeBlock.objects.exists()


# ---------------------------------------------------------------------------
# Daylight saving
# ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "date_from", "change", "utc_before", "utc_after"),
    [
        (MADRID, "2030-03-28", "2030-03-31", 8, 7),
        (NEW_YORK, "2030-03-07", "2030-03-10", 14, 13),
    ],
    ids=["Europe/Madrid", "America/New_York"],
)
def test_bulk_keeps_local_wall_clock_across_spring_forward(
    zone, date_from, change, utc_before, utc_after, frozen
):
    doctor = DoctorFactory(profile__timezone=zone.key)
    first = d(date_from)

    result = bulk(
        doctor,
        date_from=first,
        date_to=first + datetime.timedelta(days=6),
        end_time=t("10:00"),
        slot_minutes=60,
        timezone_name=None,  # the doctor's own zone
    )

    assert result == BulkResult(created=7, skipped=0, total=7)
    blocks = list(TimeBlock.objects.filter(doctor=doctor).order_by("start"))
    assert [b.start.astimezone(zone).date() for b in blocks] == [
        first + datetime.timedelta(days=i) for i in range(7)
    ]
    for block in blocks:
        local = block.start.astimezone(zone)
        assert (local.hour, local.minute) == (9, 0)
        assert block.end - block.start == datetime.timedelta(hours=1)
        expected = utc_before if local.date() < d(change) else utc_after
        assert block.start.astimezone(UTC).hour == expected
    assert {b.start.astimezone(UTC).hour for b in blocks} == {utc_before, utc_after}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "sunday", "start_time", "expected_utc", "gap_slots"),
    [
        (
            MADRID,
            "2030-03-31",
            "01:00",
            [(0, 0), (0, 30), (1, 0), (1, 30)],  # 01:00, 01:30 CET; 03:00, 03:30 CEST
            2,
        ),
        (MADRID, "2030-03-31", "02:00", [(1, 0), (1, 30)], 2),  # the pattern starts in the gap
        (
            NEW_YORK,
            "2030-03-10",
            "01:00",
            [(6, 0), (6, 30), (7, 0), (7, 30)],  # 01:00, 01:30 EST; 03:00, 03:30 EDT
            2,
        ),
        (NEW_YORK, "2030-03-10", "02:00", [(7, 0), (7, 30)], 2),
    ],
    ids=["madrid-from-01", "madrid-from-02", "new-york-from-01", "new-york-from-02"],
)
def test_bulk_skips_slots_in_the_spring_forward_gap(
    zone, sunday, start_time, expected_utc, gap_slots, frozen
):
    doctor = DoctorFactory(profile__timezone=zone.key)
    day = d(sunday)

    result = bulk(
        doctor,
        date_from=day,
        date_to=day,
        weekdays=[6],
        start_time=t(start_time),
        end_time=t("04:00"),
        timezone_name=zone.key,
    )

    assert result == BulkResult(
        created=len(expected_utc), skipped=gap_slots, total=len(expected_utc) + gap_slots
    )
    assert starts(doctor) == [utc(day.year, day.month, day.day, h, m) for h, m in expected_utc]
    local_hours = {block.astimezone(zone).hour for block in starts(doctor)}
    assert 2 not in local_hours  # 02:xx never existed that night


@pytest.mark.django_db
def test_bulk_ambiguous_fall_back_time_takes_the_first_occurrence(frozen):
    doctor = DoctorFactory(profile__timezone="America/New_York")
    sunday = d("2030-11-03")

    result = bulk(
        doctor,
        date_from=sunday,
        date_to=sunday,
        weekdays=[6],
        start_time=t("00:30"),
        end_time=t("02:30"),
        timezone_name=None,
    )

    assert result == BulkResult(created=4, skipped=0, total=4)
    blocks = starts(doctor)
    # 00:30, 01:00 and 01:30 EDT (UTC-4), then 02:00 EST (UTC-5).
    assert blocks == [
        utc(2030, 11, 3, 4, 30),
        utc(2030, 11, 3, 5, 0),
        utc(2030, 11, 3, 5, 30),
        utc(2030, 11, 3, 7, 0),
    ]
    half_past_one = blocks[2].astimezone(NEW_YORK)
    assert (half_past_one.hour, half_past_one.minute) == (1, 30)
    assert half_past_one.utcoffset() == datetime.timedelta(hours=-4)


# ---------------------------------------------------------------------------
# Through the API
# ---------------------------------------------------------------------------
BULK_URL = "/api/v1/time-blocks/bulk/"


def api_pattern(**overrides) -> dict:
    today = timezone.now().date()
    monday = today + datetime.timedelta(days=14 - today.weekday())
    payload = {
        "date_from": monday.isoformat(),
        "date_to": (monday + datetime.timedelta(days=6)).isoformat(),
        "weekdays": [0, 1],
        "start_time": "9:00",
        "end_time": "10:10",
        "slot_minutes": 30,
    }
    payload.update(overrides)
    return payload


@pytest.mark.django_db
def test_api_bulk_creates_in_the_doctors_timezone(doctor, doctor_client):
    doctor.doctor_profile.timezone = "Europe/Madrid"
    doctor.doctor_profile.save(update_fields=["timezone"])

    response = doctor_client.post(BULK_URL, api_pattern(), format="json")

    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 4, "skipped": 0, "total": 4, "on_leave": 0}
    blocks = TimeBlock.objects.filter(doctor=doctor)
    assert {b.start.astimezone(MADRID).time() for b in blocks} == {t("09:00"), t("09:30")}
    event = AuditEvent.objects.get(action="time_block.bulk_created")
    assert event.actor_id == doctor.pk
    assert event.data["created"] == 4
    assert event.data["time_zone"] == "Europe/Madrid"


@pytest.mark.django_db
def test_api_bulk_doctor_field_is_ignored_for_doctors(doctor, other_doctor, doctor_client):
    response = doctor_client.post(BULK_URL, api_pattern(doctor=other_doctor.pk), format="json")

    assert response.status_code == 201, response.json()
    assert TimeBlock.objects.filter(doctor=doctor).count() == 4
    assert not TimeBlock.objects.filter(doctor=other_doctor).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("doctor_id", [None, "patient", 999_999])
def test_api_bulk_staff_must_name_an_existing_doctor(doctor_id, patient, staff_client):
    payload = api_pattern()
    if doctor_id == "patient":
        payload["doctor"] = patient.pk
    elif doctor_id is not None:
        payload["doctor"] = doctor_id

    response = staff_client.post(BULK_URL, payload, format="json")

    assert response.status_code == 400, response.json()
    assert list(response.json()) == ["doctor"]
    assert not TimeBlock.objects.exists()


@pytest.mark.django_db
def test_api_bulk_staff_creates_for_the_named_doctor(doctor, staff, staff_client):
    response = staff_client.post(
        BULK_URL, api_pattern(doctor=doctor.pk, timezone="UTC"), format="json"
    )

    assert response.status_code == 201, response.json()
    assert TimeBlock.objects.filter(doctor=doctor).count() == 4
    assert AuditEvent.objects.get(action="time_block.bulk_created").actor_id == staff.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
        ({"weekdays": [-1]}, "weekdays"),
        ({"slot_minutes": 4}, "slot_minutes"),
        ({"slot_minutes": 721}, "slot_minutes"),
        ({"start_time": "25:00"}, "start_time"),
        ({"start_time": "9am"}, "start_time"),
        ({"end_time": "10:60"}, "end_time"),
        ({"end_time": "09:00"}, "end_time"),
        ({"end_time": "08:00"}, "end_time"),
        ({"date_to": "2020-01-01"}, "date_to"),
        ({"date_from": "tomorrow"}, "date_from"),
    ],
)
def test_api_bulk_refuses_invalid_patterns(overrides, field, doctor_client):
    response = doctor_client.post(BULK_URL, api_pattern(**overrides), format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not TimeBlock.objects.exists()
    assert not AuditEvent.objects.filter(action="time_block.bulk_created").exists()


@pytest.mark.django_db
def test_api_bulk_over_366_days_or_1000_slots_is_400(doctor_client):
    today = timezone.now().date()
    far = today + datetime.timedelta(days=30)
    too_long = api_pattern(
        date_from=far.isoformat(), date_to=(far + datetime.timedelta(days=367)).isoformat()
    )
    too_many = api_pattern(
        date_from=far.isoformat(),
        date_to=(far + datetime.timedelta(days=200)).isoformat(),
        weekdays=list(range(7)),
        start_time="08:00",
        end_time="18:00",
        slot_minutes=60,
    )

    long_response = doctor_client.post(BULK_URL, too_long, format="json")
    many_response = doctor_client.post(BULK_URL, too_many, format="json")

    assert long_response.status_code == 400
    assert "date_to" in long_response.json()
    assert many_response.status_code == 400
    assert "non_field_errors" in many_response.json()
    assert not TimeBlock.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("start_time", ["9:00", "09:00"])
def test_api_bulk_accepts_hours_with_or_without_leading_zero(start_time, doctor, doctor_client):
    doctor.doctor_profile.timezone = "UTC"
    doctor.doctor_profile.save(update_fields=["timezone"])

    response = doctor_client.post(
        BULK_URL, api_pattern(start_time=start_time, end_time="10:00"), format="json"
    )

    assert response.status_code == 201, response.json()
    assert {b.start.time() for b in TimeBlock.objects.all()} == {t("09:00"), t("09:30")}


@pytest.mark.django_db
def test_bulk_up_to_the_last_day_of_the_calendar_works(frozen, utc_doctor):
    result = bulk(
        utc_doctor,
        date_from=d("9999-12-31"),
        date_to=d("9999-12-31"),
        start_time=t("23:00"),
        end_time=t("23:59"),
    )

    assert result == BulkResult(created=1, skipped=0, total=1)
    assert starts(utc_doctor) == [utc(9999, 12, 31, 23)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "zone"), [("0001-01-01", "Asia/Tokyo"), ("9999-12-31", "America/New_York")]
)
def test_bulk_slots_beyond_the_calendar_in_utc_are_refused(day, zone, frozen, utc_doctor):
    with pytest.raises(ValidationError) as error:
        bulk(utc_doctor, date_from=d(day), date_to=d(day), timezone_name=zone, end_time=t("23:00"))

    assert "non_field_errors" in error.value.message_dict
    assert not TimeBlock.objects.exists()


@pytest.fixture
def block_history():
    """django-auditlog field history of TimeBlock for this test (registered here if not yet)."""
    registered_here = not auditlog.contains(TimeBlock)
    if registered_here:
        auditlog.register(TimeBlock)
    yield
    if registered_here:
        auditlog.unregister(TimeBlock)


@pytest.mark.django_db
def test_bulk_created_blocks_get_no_per_block_field_history(block_history, frozen, utc_doctor):
    """DESIGN-R2 R2-0: one audit event records the operation; no LogEntry per block."""
    result = bulk(utc_doctor, end_time=t("11:00"))

    assert result.created == 4
    assert LogEntry.objects.get_for_model(TimeBlock).count() == 0
    event = AuditEvent.objects.get(action="time_block.bulk_created")
    assert (event.data["created"], event.data["source"]) == (4, "bulk")


@pytest.mark.django_db
def test_a_single_block_keeps_its_field_history(block_history, frozen, utc_doctor):
    """DESIGN-R2 R2-0: only bulk writes drop the per-row entry."""
    start = datetime.datetime(2030, 1, 7, 9, tzinfo=datetime.UTC)
    block = time_block_create(
        actor=utc_doctor, doctor=utc_doctor, start=start, end=start + datetime.timedelta(hours=1)
    )

    entries = LogEntry.objects.get_for_model(TimeBlock)
    assert [(int(e.object_pk), e.action) for e in entries] == [(block.pk, LogEntry.Action.CREATE)]
