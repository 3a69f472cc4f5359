"""The time-block API: who may do what, creating, moving, removing and listing blocks."""

from __future__ import annotations

import datetime

import pytest

from audit.models import AuditEvent
from core.exceptions import (
    BLOCK_HAS_APPOINTMENT,
    BLOCK_IN_PAST,
    BLOCK_OVERLAP,
    BLOCK_WITHDRAWN,
    Conflict,
)
from scheduling.models import TimeBlock
from scheduling.services import time_block_delete
from scheduling.views.time_blocks import TimeBlockViewSet
from tests.support.factories import (
    AppointmentFactory,
    CancelledAppointmentFactory,
    ConfirmedAppointmentFactory,
    InactiveDoctorFactory,
    PastTimeBlockFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
    in_days,
)

URL = "/api/v1/time-blocks/"
BULK_URL = f"{URL}bulk/"
BLOCK_FIELDS = {"id", "doctor", "start", "end", "visit_type", "created_at", "is_booked"}
MINUTE = datetime.timedelta(minutes=1)


def detail_url(block: TimeBlock) -> str:
    return f"{URL}{block.pk}/"


def availability_url(doctor) -> str:
    return f"/api/v1/doctors/{doctor.pk}/availability/"


def z(moment: datetime.datetime) -> str:
    """How the API renders an aware datetime: UTC with `Z`."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def body(start: datetime.datetime, minutes: int = 30, **extra) -> dict:
    return {"start": z(start), "end": z(start + datetime.timedelta(minutes=minutes)), **extra}


def events(action: str):
    return AuditEvent.objects.filter(action=action)


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


# ---------------------------------------------------------------------------
# Permission matrix
# ---------------------------------------------------------------------------
ALLOWED = {
    "list": 200,
    "retrieve": 200,
    "create": 201,
    "bulk": 201,
    "patch": 200,
    "delete": 204,
}
MATRIX = (
    [("anon", action, 401) for action in ALLOWED]
    + [("patient", action, 403) for action in ALLOWED]
    + [
        (role, action, code)
        for role in ("doctor", "staff", "admin")
        for action, code in ALLOWED.items()
    ]
    + [
        ("other_doctor", "list", 200),
        ("other_doctor", "retrieve", 404),
        ("other_doctor", "create", 201),
        ("other_doctor", "bulk", 201),
        ("other_doctor", "patch", 404),
        ("other_doctor", "delete", 404),
    ]
)


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "action", "expected"), MATRIX)
def test_time_block_permission_matrix(
    role, action, expected, role_clients, doctor, other_doctor, other_doctor_client
):
    clients = {**role_clients, "other_doctor": other_doctor_client}
    client = clients[role]
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    day = (in_days(20)).date()
    requests = {
        "list": lambda: client.get(URL),
        "retrieve": lambda: client.get(detail_url(block)),
        "create": lambda: client.post(URL, body(in_days(5), doctor=doctor.pk)),
        "bulk": lambda: client.post(
            BULK_URL,
            {
                "doctor": doctor.pk,
                "date_from": day.isoformat(),
                "date_to": day.isoformat(),
                "weekdays": list(range(7)),
                "start_time": "09:00",
                "end_time": "10:00",
                "slot_minutes": 30,
                "timezone": "UTC",
            },
            format="json",
        ),
        "patch": lambda: client.patch(detail_url(block), body(in_days(6))),
        "delete": lambda: client.delete(detail_url(block)),
    }

    response = requests[action]()

    assert response.status_code == expected, response.content
    if expected in (401, 403, 404):
        assert set(response.json()) == {"detail"}
    if role == "other_doctor" and action == "list":
        assert block.pk not in ids(response)
    if role == "other_doctor" and expected == 404:
        start = block.start
        block.refresh_from_db()  # untouched
        assert block.start == start


@pytest.mark.django_db
def test_other_doctor_cannot_see_block_even_when_filtering_by_its_doctor(
    doctor, other_doctor_client
):
    TimeBlockFactory(doctor=doctor)

    response = other_doctor_client.get(URL, {"doctor": doctor.pk})

    assert response.status_code == 200
    assert response.json()["count"] == 0


# ---------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_doctor_creates_block_for_self_and_doctor_field_is_ignored(
    doctor, other_doctor, doctor_client
):
    start = in_days(5)

    response = doctor_client.post(URL, body(start, doctor=other_doctor.pk))

    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) == BLOCK_FIELDS
    block = TimeBlock.objects.get()
    assert data["id"] == block.pk
    assert data["doctor"] == doctor.pk
    assert block.doctor_id == doctor.pk
    assert data["start"] == z(start)
    assert data["end"] == z(start + datetime.timedelta(minutes=30))
    assert data["created_at"].endswith("Z")
    assert data["is_booked"] is False
    assert block.withdrawn_at is None
    event = events("time_block.created").get()
    assert event.target_type == "time_block"
    assert event.target_id == str(block.pk)
    assert event.actor_id == doctor.pk
    assert event.actor_role == "doctor"
    assert event.data == {"doctor": doctor.pk}


@pytest.mark.django_db
def test_offset_datetimes_are_stored_and_rendered_in_utc(doctor_client):
    start = in_days(5)
    local = start.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    payload = {
        "start": local.isoformat(),
        "end": (local + datetime.timedelta(hours=1)).isoformat(),
    }

    response = doctor_client.post(URL, payload)

    assert response.status_code == 201, response.json()
    assert response.json()["start"] == z(start)
    assert response.json()["end"] == z(start + datetime.timedelta(hours=1))
    assert TimeBlock.objects.get().start == start


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_create_block_for_named_doctor(role, role_clients, doctor, staff):
    response = role_clients[role].post(URL, body(in_days(5), doctor=doctor.pk))

    assert response.status_code == 201, response.json()
    assert response.json()["doctor"] == doctor.pk
    assert TimeBlock.objects.get().doctor_id == doctor.pk
    event = events("time_block.created").get()
    assert event.actor_role == role
    assert event.data == {"doctor": doctor.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["staff", "admin"])
@pytest.mark.parametrize("target", ["missing", "patient", "unknown", "inactive", "staff"])
def test_staff_and_admin_must_name_an_active_doctor(role, target, role_clients, patient, staff):
    doctor_id = {
        "missing": None,
        "patient": patient.pk,
        "unknown": 999_999,
        "inactive": InactiveDoctorFactory().pk,
        "staff": staff.pk,
    }[target]
    payload = body(in_days(5))
    if doctor_id is not None:
        payload["doctor"] = doctor_id

    response = role_clients[role].post(URL, payload)

    assert response.status_code == 400, response.json()
    assert list(response.json()) == ["doctor"]
    assert not TimeBlock.objects.exists()
    assert not events("time_block.created").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"start": "2030-05-01T10:00:00", "end": "2030-05-01T10:30:00Z"}, "start"),
        ({"start": "2030-05-01T10:00:00Z", "end": "2030-05-01T10:30:00"}, "end"),
        ({"start": "not a date", "end": "2030-05-01T10:30:00Z"}, "start"),
        ({"end": "2030-05-01T10:30:00Z"}, "start"),
        ({"start": "2030-05-01T10:00:00Z"}, "end"),
    ],
    ids=["naive-start", "naive-end", "garbage", "no-start", "no-end"],
)
def test_create_refuses_malformed_datetimes(payload, field, doctor_client):
    response = doctor_client.post(URL, payload)

    assert response.status_code == 400
    assert field in response.json()
    assert not TimeBlock.objects.exists()
    assert not events("time_block.created").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start_offset", "minutes"),
    [
        (datetime.timedelta(0), -30),  # ends before it starts
        (datetime.timedelta(0), 0),  # ends when it starts
        (datetime.timedelta(0), 4),  # shorter than 5 minutes
        (datetime.timedelta(0), 12 * 60 + 1),  # longer than 12 hours
        (-datetime.timedelta(days=6), 30),  # starts in the past
    ],
    ids=["end-before-start", "empty", "4-minutes", "12h01", "past"],
)
def test_create_refuses_invalid_times(start_offset, minutes, doctor_client):
    response = doctor_client.post(URL, body(in_days(5) + start_offset, minutes=minutes))

    assert response.status_code == 400, response.json()
    assert set(response.json()) <= {"start", "end"}
    assert not TimeBlock.objects.exists()
    assert not events("time_block.created").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("minutes", [5, 12 * 60])
def test_create_accepts_shortest_and_longest_blocks(minutes, doctor_client):
    response = doctor_client.post(URL, body(in_days(5), minutes=minutes))

    assert response.status_code == 201, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("offset", "minutes"),
    [
        (0, 30),  # identical
        (10, 10),  # inside
        (-10, 60),  # around
        (-20, 30),  # over the start
        (20, 30),  # over the end
        (-10, 11),  # by one minute at the start
    ],
)
def test_overlapping_block_is_409_and_nothing_is_written(offset, minutes, doctor, doctor_client):
    existing = TimeBlockFactory(doctor=doctor, start=in_days(5))
    start = existing.start + offset * MINUTE

    response = doctor_client.post(URL, body(start, minutes=minutes))

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == BLOCK_OVERLAP
    assert set(response.json()) == {"detail", "code"}
    assert list(TimeBlock.objects.all()) == [existing]
    assert not events("time_block.created").exists()


@pytest.mark.django_db
def test_touching_blocks_do_not_overlap(doctor, doctor_client):
    ten = in_days(5)
    TimeBlockFactory(doctor=doctor, start=ten, end=ten + 30 * MINUTE)

    after = doctor_client.post(URL, body(ten + 30 * MINUTE))
    before = doctor_client.post(URL, body(ten - 30 * MINUTE))

    assert after.status_code == 201, after.json()
    assert before.status_code == 201, before.json()
    assert TimeBlock.objects.filter(doctor=doctor).count() == 3


@pytest.mark.django_db
def test_blocks_of_other_doctors_and_withdrawn_blocks_do_not_overlap(
    doctor, other_doctor, doctor_client
):
    TimeBlockFactory(doctor=other_doctor, start=in_days(5))
    WithdrawnTimeBlockFactory(doctor=doctor, start=in_days(5))

    response = doctor_client.post(URL, body(in_days(5)))

    assert response.status_code == 201, response.json()


# ---------------------------------------------------------------------------
# Update
# ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", ["doctor", "staff", "admin"])
def test_future_unused_block_moves(role, role_clients, doctor):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    target = in_days(6, hour=14)

    response = role_clients[role].patch(detail_url(block), body(target, minutes=45))

    assert response.status_code == 200, response.json()
    data = response.json()
    assert set(data) == BLOCK_FIELDS
    assert data["start"] == z(target)
    assert data["end"] == z(target + 45 * MINUTE)
    block.refresh_from_db()
    assert (block.start, block.end) == (target, target + 45 * MINUTE)
    event = events("time_block.updated").get()
    assert event.target_id == str(block.pk)
    assert event.actor_role == role
    assert sorted(event.data["fields"]) == ["end", "start"]


@pytest.mark.django_db
def test_patch_records_only_the_changed_field(doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    new_end = block.end + 15 * MINUTE

    response = doctor_client.patch(detail_url(block), {"end": z(new_end)})

    assert response.status_code == 200, response.json()
    assert response.json()["start"] == z(block.start)
    assert response.json()["end"] == z(new_end)
    assert events("time_block.updated").get().data == {"fields": ["end"]}


@pytest.mark.django_db
def test_patch_without_changes_writes_no_audit_row(doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))

    response = doctor_client.patch(detail_url(block), {"start": z(block.start)})

    assert response.status_code == 200, response.json()
    assert not events("time_block.updated").exists()


@pytest.mark.django_db
def test_patch_past_block_is_409(doctor, doctor_client):
    block = PastTimeBlockFactory(doctor=doctor)
    before = (block.start, block.end)

    response = doctor_client.patch(detail_url(block), body(in_days(6)))

    assert response.status_code == 409
    assert response.json()["code"] == BLOCK_IN_PAST
    block.refresh_from_db()
    assert (block.start, block.end) == before
    assert not events("time_block.updated").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "factory", [PendingAppointmentFactory, ConfirmedAppointmentFactory, CancelledAppointmentFactory]
)
def test_patch_block_that_had_an_appointment_is_409(factory, doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    factory(time_block=block)

    response = doctor_client.patch(detail_url(block), body(in_days(6)))

    assert response.status_code == 409
    assert response.json()["code"] == BLOCK_HAS_APPOINTMENT
    start = block.start
    block.refresh_from_db()
    assert block.start == start
    assert not events("time_block.updated").exists()


@pytest.mark.django_db
def test_patch_block_an_appointment_was_rescheduled_from_is_409(doctor, doctor_client):
    old = TimeBlockFactory(doctor=doctor, start=in_days(4))
    new = TimeBlockFactory(doctor=doctor, start=in_days(5))
    AppointmentFactory(time_block=new, rescheduled_from=old)

    response = doctor_client.patch(detail_url(old), body(in_days(6)))

    assert response.status_code == 409
    assert response.json()["code"] == BLOCK_HAS_APPOINTMENT


@pytest.mark.django_db
def test_patch_onto_another_block_is_409(doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    other = TimeBlockFactory(doctor=doctor, start=in_days(5))

    response = doctor_client.patch(detail_url(block), body(other.start + 10 * MINUTE))

    assert response.status_code == 409
    assert response.json()["code"] == BLOCK_OVERLAP
    start = block.start
    block.refresh_from_db()
    assert block.start == start


@pytest.mark.django_db
def test_patch_may_overlap_its_own_old_time(doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))

    response = doctor_client.patch(detail_url(block), body(block.start + 10 * MINUTE))

    assert response.status_code == 200, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"end": "2020-01-01T00:00:00Z"},  # before the start
        {"start": "2030-05-01T10:00:00"},  # naive
        {"end": "soon"},
    ],
)
def test_patch_with_invalid_times_is_400(payload, doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))

    response = doctor_client.patch(detail_url(block), payload)

    assert response.status_code == 400, response.json()
    assert set(response.json()) <= {"start", "end"}
    assert not events("time_block.updated").exists()


@pytest.mark.django_db
def test_patch_to_the_past_is_400(doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))

    response = doctor_client.patch(detail_url(block), body(in_days(-2)))

    assert response.status_code == 400, response.json()
    assert "start" in response.json()


# ---------------------------------------------------------------------------
# Delete / withdraw
# ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", ["doctor", "staff", "admin"])
def test_delete_never_booked_block_removes_the_row(role, role_clients, doctor):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))

    response = role_clients[role].delete(detail_url(block))

    assert response.status_code == 204
    assert not TimeBlock.objects.filter(pk=block.pk).exists()
    event = events("time_block.deleted").get()
    assert event.target_type == "time_block"
    assert event.target_id == str(block.pk)
    assert event.actor_role == role
    assert event.data == {"doctor": doctor.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("use", ["cancelled", "rescheduled_from"])
def test_delete_block_with_only_inactive_appointments_withdraws_it(
    use, doctor, doctor_client, anon_client
):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    if use == "cancelled":
        CancelledAppointmentFactory(time_block=block)
    else:
        AppointmentFactory(
            time_block=TimeBlockFactory(doctor=doctor, start=in_days(5)), rescheduled_from=block
        )
    assert block.pk in ids(anon_client.get(availability_url(doctor)))

    response = doctor_client.delete(detail_url(block))

    assert response.status_code == 204
    block.refresh_from_db()
    assert block.withdrawn_at is not None
    assert block.pk not in ids(doctor_client.get(URL))
    assert doctor_client.get(detail_url(block)).status_code == 404
    assert block.pk not in ids(anon_client.get(availability_url(doctor)))
    event = events("time_block.withdrawn").get()
    assert event.target_id == str(block.pk)
    assert not events("time_block.deleted").exists()


@pytest.mark.django_db
def test_withdrawn_block_frees_its_time_for_a_new_block(doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    CancelledAppointmentFactory(time_block=block)
    assert doctor_client.delete(detail_url(block)).status_code == 204

    response = doctor_client.post(URL, body(block.start))

    assert response.status_code == 201, response.json()
    assert TimeBlock.objects.filter(doctor=doctor, start=block.start).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("factory", [PendingAppointmentFactory, ConfirmedAppointmentFactory])
def test_delete_block_with_active_appointment_is_409(factory, doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    factory(time_block=block)

    response = doctor_client.delete(detail_url(block))

    assert response.status_code == 409
    assert response.json()["code"] == BLOCK_HAS_APPOINTMENT
    block.refresh_from_db()
    assert block.withdrawn_at is None
    assert not events("time_block.deleted").exists()
    assert not events("time_block.withdrawn").exists()


@pytest.mark.django_db
def test_delete_past_block_is_409(doctor, doctor_client):
    block = PastTimeBlockFactory(doctor=doctor)

    response = doctor_client.delete(detail_url(block))

    assert response.status_code == 409
    assert response.json()["code"] == BLOCK_IN_PAST
    assert TimeBlock.objects.filter(pk=block.pk, withdrawn_at__isnull=True).exists()


# ---------------------------------------------------------------------------
# List and retrieve
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_retrieve_shows_is_booked(doctor, doctor_client):
    booked = TimeBlockFactory(doctor=doctor)
    PendingAppointmentFactory(time_block=booked)
    past = PastTimeBlockFactory(doctor=doctor)

    data = doctor_client.get(detail_url(booked)).json()

    assert data["is_booked"] is True
    assert set(data) == BLOCK_FIELDS
    assert doctor_client.get(detail_url(past)).status_code == 200


@pytest.mark.django_db
def test_list_is_paginated_in_start_order_without_withdrawn_blocks(doctor, doctor_client):
    late = TimeBlockFactory(doctor=doctor, start=in_days(6))
    early = TimeBlockFactory(doctor=doctor, start=in_days(4))
    past = PastTimeBlockFactory(doctor=doctor)
    WithdrawnTimeBlockFactory(doctor=doctor, start=in_days(5))

    response = doctor_client.get(URL)

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] == 3
    assert ids(response) == [past.pk, early.pk, late.pk]
    assert set(data["results"][0]) == BLOCK_FIELDS


@pytest.mark.django_db
def test_list_from_to_is_half_open_on_start(doctor, doctor_client):
    ten = in_days(5)
    blocks = [
        TimeBlockFactory(doctor=doctor, start=ten + i * datetime.timedelta(hours=1))
        for i in range(3)
    ]

    response = doctor_client.get(
        URL,
        {"from": z(ten + datetime.timedelta(hours=1)), "to": z(ten + datetime.timedelta(hours=2))},
    )
    everything = doctor_client.get(
        URL, {"from": z(ten), "to": z(ten + datetime.timedelta(hours=3))}
    )
    late = doctor_client.get(URL, {"from": z(ten + MINUTE)})
    early = doctor_client.get(URL, {"to": z(ten + datetime.timedelta(hours=1))})

    assert ids(response) == [blocks[1].pk]
    assert ids(everything) == [b.pk for b in blocks]
    assert ids(late) == [blocks[1].pk, blocks[2].pk]
    assert ids(early) == [blocks[0].pk]


@pytest.mark.django_db
def test_list_from_accepts_an_encoded_offset(doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(5))
    madrid_noon = (block.start + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")

    response = doctor_client.get(f"{URL}?from={madrid_noon}%2B02:00")

    assert response.status_code == 200, response.json()
    assert ids(response) == [block.pk]


@pytest.mark.django_db
def test_list_filters_on_is_booked(doctor, doctor_client):
    free = TimeBlockFactory(doctor=doctor)
    pending = PendingAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor)).time_block
    confirmed = ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor)).time_block
    freed = CancelledAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor)).time_block

    booked = doctor_client.get(URL, {"is_booked": "true"})
    unbooked = doctor_client.get(URL, {"is_booked": "false"})

    assert sorted(ids(booked)) == sorted([pending.pk, confirmed.pk])
    assert sorted(ids(unbooked)) == sorted([free.pk, freed.pk])
    assert all(item["is_booked"] for item in booked.json()["results"])
    assert not any(item["is_booked"] for item in unbooked.json()["results"])


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_list_every_doctor_and_filter_by_doctor(
    role, role_clients, doctor, other_doctor
):
    mine = TimeBlockFactory(doctor=doctor)
    theirs = TimeBlockFactory(doctor=other_doctor)
    client = role_clients[role]

    everything = client.get(URL)
    filtered = client.get(URL, {"doctor": other_doctor.pk})

    assert sorted(ids(everything)) == sorted([mine.pk, theirs.pk])
    assert ids(filtered) == [theirs.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("from", "2030-01-01T00:00:00"),
        ("to", "2030-01-01T00:00:00"),
        ("from", "yesterday"),
        ("doctor", "abc"),
        ("doctor", "0"),
        ("doctor", "9" * 30),
        ("is_booked", "maybe"),
    ],
)
def test_list_refuses_invalid_filters_naming_the_parameter(param, value, staff_client):
    response = staff_client.get(URL, {param: value})

    assert response.status_code == 400, response.content
    assert list(response.json()) == [param]


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_page_size(
    doctor, doctor_client, django_assert_max_num_queries
):
    first = in_days(3)
    for i in range(60):
        block = TimeBlockFactory(doctor=doctor, start=first + i * datetime.timedelta(hours=1))
        if i % 3 == 0:
            PendingAppointmentFactory(time_block=block)

    for page_size in (5, 50):
        with django_assert_max_num_queries(3):
            response = doctor_client.get(URL, {"page_size": page_size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size


@pytest.mark.django_db
def test_list_page_size_is_capped_and_out_of_range_page_is_404(doctor, doctor_client):
    first = in_days(3)
    for i in range(105):
        TimeBlockFactory(doctor=doctor, start=first + i * datetime.timedelta(hours=1))

    capped = doctor_client.get(URL, {"page_size": 500})
    beyond = doctor_client.get(URL, {"page": 99})

    assert len(capped.json()["results"]) == 100
    assert beyond.status_code == 404


# ---------------------------------------------------------------------------
# A block removed between lookup and change (what a concurrent request does)
# ---------------------------------------------------------------------------
@pytest.fixture
def block_vanishes_after_lookup(monkeypatch):
    """get_object() finds the block, then another request deletes it before the service runs."""
    original = TimeBlockViewSet.get_object

    def get_then_lose(self):
        found = original(self)
        TimeBlock.objects.filter(pk=found.pk).delete()
        return found

    monkeypatch.setattr(TimeBlockViewSet, "get_object", get_then_lose)


@pytest.mark.django_db
def test_delete_of_a_block_deleted_meanwhile_is_404(
    block_vanishes_after_lookup, doctor, doctor_client
):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))

    response = doctor_client.delete(detail_url(block))

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}
    assert not events("time_block.deleted").exists()


@pytest.mark.django_db
def test_patch_of_a_block_deleted_meanwhile_is_404(
    block_vanishes_after_lookup, doctor, doctor_client
):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))

    response = doctor_client.patch(detail_url(block), body(in_days(6)))

    assert response.status_code == 404
    assert not TimeBlock.objects.exists()


@pytest.mark.django_db
def test_delete_of_a_block_withdrawn_meanwhile_is_409_and_not_audited_twice(doctor):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))
    CancelledAppointmentFactory(time_block=block)
    stale = TimeBlock.objects.get(pk=block.pk)
    assert time_block_delete(actor=doctor, block=block) == "withdrawn"

    with pytest.raises(Conflict) as error:
        time_block_delete(actor=doctor, block=stale)

    assert error.value.code == BLOCK_WITHDRAWN
    assert events("time_block.withdrawn").count() == 1


@pytest.mark.django_db
def test_put_is_not_allowed(doctor, doctor_client):
    block = TimeBlockFactory(doctor=doctor, start=in_days(4))

    response = doctor_client.put(detail_url(block), body(in_days(6)))

    assert response.status_code == 405
    assert set(response.json()) == {"detail"}
