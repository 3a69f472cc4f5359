"""GET doctors/{id}/availability/: a doctor's free, bookable blocks, public."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from tests.support.factories import (
    CancelledAppointmentFactory,
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    InactiveDoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    SuspendedDoctorFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
)

UTC = datetime.UTC
NOW = datetime.datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday morning
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def url(doctor_id: int) -> str:
    return f"/api/v1/doctors/{doctor_id}/availability/"


def z(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_availability_is_public_and_paginated(frozen, doctor, anon_client):
    block = TimeBlockFactory(doctor=doctor, start=NOW + DAY)

    response = anon_client.get(url(doctor.pk))

    assert response.status_code == 200, response.json()
    data = response.json()
    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] == 1
    assert data["results"] == [
        {"id": block.pk, "start": z(block.start), "end": z(block.end), "visit_type": None}
    ]
    assert data["results"][0]["start"].endswith("Z")


@pytest.mark.django_db
def test_availability_with_a_bad_token_is_401(frozen, doctor, anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = anon_client.get(url(doctor.pk))

    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["patient", "doctor", "staff", "admin"])
def test_availability_is_the_same_for_every_role(role, doctor, role_clients):
    block = TimeBlockFactory(doctor=doctor)

    response = role_clients[role].get(url(doctor.pk))

    assert response.status_code == 200
    assert ids(response) == [block.pk]


@pytest.mark.django_db
def test_availability_lists_only_free_unwithdrawn_blocks_in_start_order(
    frozen, doctor, other_doctor, anon_client
):
    late_free = TimeBlockFactory(doctor=doctor, start=NOW + 3 * DAY)
    early_free = TimeBlockFactory(doctor=doctor, start=NOW + DAY)
    freed = CancelledAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=NOW + 2 * DAY)
    ).time_block
    PendingAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=NOW + 4 * DAY))
    ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=NOW + 5 * DAY))
    WithdrawnTimeBlockFactory(doctor=doctor, start=NOW + 6 * DAY)
    TimeBlockFactory(doctor=other_doctor, start=NOW + DAY)

    response = anon_client.get(url(doctor.pk))

    assert ids(response) == [early_free.pk, freed.pk, late_free.pk]


@pytest.mark.django_db
def test_a_block_rebooked_after_a_cancellation_is_not_free(frozen, doctor, anon_client):
    block = TimeBlockFactory(doctor=doctor, start=NOW + DAY)
    CancelledAppointmentFactory(time_block=block)
    PendingAppointmentFactory(time_block=block)

    assert ids(anon_client.get(url(doctor.pk))) == []


@pytest.mark.django_db
def test_availability_starts_at_the_booking_lead_time(frozen, doctor, anon_client, settings):
    settings.BOOKING_MIN_LEAD_MINUTES = 60
    TimeBlockFactory(doctor=doctor, start=NOW - HOUR)  # past
    soon = NOW + datetime.timedelta(minutes=30)
    TimeBlockFactory(doctor=doctor, start=soon, end=soon + datetime.timedelta(minutes=29))
    TimeBlockFactory(doctor=doctor, start=NOW + datetime.timedelta(minutes=59), end=NOW + HOUR)
    at_lead = TimeBlockFactory(doctor=doctor, start=NOW + HOUR)
    after = TimeBlockFactory(doctor=doctor, start=NOW + 2 * HOUR)

    default = anon_client.get(url(doctor.pk))
    from_the_past = anon_client.get(url(doctor.pk), {"from": z(NOW - DAY)})

    assert ids(default) == [at_lead.pk, after.pk]
    assert ids(from_the_past) == [at_lead.pk, after.pk]


@pytest.mark.django_db
def test_availability_lead_time_is_a_setting(frozen, doctor, anon_client, settings):
    settings.BOOKING_MIN_LEAD_MINUTES = 180
    TimeBlockFactory(doctor=doctor, start=NOW + 2 * HOUR)
    later = TimeBlockFactory(doctor=doctor, start=NOW + 3 * HOUR)

    assert ids(anon_client.get(url(doctor.pk))) == [later.pk]


@pytest.mark.django_db
def test_availability_default_window_is_fourteen_days(frozen, doctor, anon_client):
    inside = TimeBlockFactory(doctor=doctor, start=NOW + 14 * DAY - HOUR)
    edge = TimeBlockFactory(doctor=doctor, start=NOW + 14 * DAY)
    far = TimeBlockFactory(doctor=doctor, start=NOW + 20 * DAY)

    default = anon_client.get(url(doctor.pk))
    widened = anon_client.get(url(doctor.pk), {"to": z(NOW + 30 * DAY)})
    later = anon_client.get(url(doctor.pk), {"from": z(NOW + 15 * DAY)})

    assert ids(default) == [inside.pk]
    assert ids(widened) == [inside.pk, edge.pk, far.pk]
    assert ids(later) == [far.pk]  # `to` defaults to 14 days after `from`


@pytest.mark.django_db
def test_availability_from_to_is_half_open_on_start(frozen, doctor, anon_client):
    blocks = [TimeBlockFactory(doctor=doctor, start=NOW + DAY + i * HOUR) for i in range(4)]

    response = anon_client.get(
        url(doctor.pk), {"from": z(NOW + DAY + HOUR), "to": z(NOW + DAY + 3 * HOUR)}
    )
    with_offset = anon_client.get(
        f"{url(doctor.pk)}?from=2030-01-08T10:00:00%2B01:00&to=2030-01-08T11:00:00%2B01:00"
    )

    assert ids(response) == [blocks[1].pk, blocks[2].pk]
    assert ids(with_offset) == [blocks[1].pk]


@pytest.mark.django_db
def test_availability_accepts_a_span_of_exactly_62_days(frozen, doctor, anon_client):
    block = TimeBlockFactory(doctor=doctor, start=NOW + 61 * DAY)

    response = anon_client.get(url(doctor.pk), {"from": z(NOW), "to": z(NOW + 62 * DAY)})

    assert response.status_code == 200, response.json()
    assert ids(response) == [block.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": z(NOW), "to": z(NOW + 62 * DAY + datetime.timedelta(seconds=1))}, "to"),
        ({"to": z(NOW + 63 * DAY)}, "to"),
        ({"from": z(NOW + 2 * DAY), "to": z(NOW + DAY)}, "from"),
        ({"from": "2030-01-08T09:00:00"}, "from"),
        ({"to": "2030-01-08T09:00:00"}, "to"),
        ({"from": "next week"}, "from"),
        ({"from": "2030-02-30T09:00:00Z"}, "from"),
    ],
    ids=[
        "span-over-62",
        "to-63-days-ahead",
        "from-after-to",
        "naive-from",
        "naive-to",
        "garbage",
        "feb-30",
    ],
)
def test_availability_refuses_invalid_windows(params, field, frozen, doctor, anon_client):
    response = anon_client.get(url(doctor.pk), params)

    assert response.status_code == 400, response.json()
    assert list(response.json()) == [field]


@pytest.mark.django_db
def test_availability_naive_datetime_message_explains_the_offset(frozen, doctor, anon_client):
    response = anon_client.get(url(doctor.pk), {"from": "2030-01-08T09:00:00"})

    assert response.status_code == 400
    assert "%2B" in response.json()["from"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["unknown", "patient", "suspended", "inactive"])
def test_availability_of_someone_not_a_public_doctor_is_404(target, frozen, anon_client):
    user = {
        "unknown": lambda: None,
        "patient": PatientFactory,
        "suspended": SuspendedDoctorFactory,
        "inactive": InactiveDoctorFactory,
    }[target]()
    if target in ("suspended", "inactive"):
        TimeBlockFactory(doctor=user, start=NOW + DAY)
    doctor_id = 999_999 if user is None else user.pk

    response = anon_client.get(url(doctor_id))

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


@pytest.mark.django_db
def test_availability_of_a_huge_id_is_404(anon_client):
    assert anon_client.get(url(9 * 10**17)).status_code == 404
    assert anon_client.get(f"/api/v1/doctors/{'9' * 30}/availability/").status_code == 404


@pytest.mark.django_db
def test_availability_ignores_completed_past_visits(frozen, doctor, anon_client):
    CompletedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=NOW - DAY))
    free = TimeBlockFactory(doctor=doctor, start=NOW + DAY)

    assert ids(anon_client.get(url(doctor.pk), {"from": z(NOW - 2 * DAY)})) == [free.pk]


@pytest.mark.django_db
def test_availability_query_count_does_not_grow_with_page_size(
    frozen, anon_client, django_assert_max_num_queries
):
    doctor = DoctorFactory()
    for i in range(60):
        block = TimeBlockFactory(doctor=doctor, start=NOW + DAY + i * 2 * HOUR)
        if i % 4 == 0:
            CancelledAppointmentFactory(time_block=block)

    for page_size in (5, 50):
        with django_assert_max_num_queries(3):
            response = anon_client.get(url(doctor.pk), {"page_size": page_size})
        assert response.status_code == 200
        assert response.json()["count"] == 60
        assert len(response.json()["results"]) == page_size


@pytest.mark.django_db
def test_availability_from_near_the_end_of_time_is_an_empty_list(doctor, anon_client):
    response = anon_client.get(url(doctor.pk), {"from": "9999-12-30T00:00:00Z"})

    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 0


@pytest.mark.django_db
def test_availability_datetime_out_of_range_in_utc_is_400(doctor, anon_client):
    response = anon_client.get(f"{url(doctor.pk)}?to=9999-12-31T23:00:00-05:00")

    assert response.status_code == 400
    assert list(response.json()) == ["to"]
