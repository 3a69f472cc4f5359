"""Visit types (DESIGN-R2 R2-8): the acceptance items (1)-(7), the offers, the filters and
their query counts."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry

from audit.models import AuditEvent
from scheduling.models import Appointment, DoctorVisitType, TimeBlock, VisitType
from tests.support.clients import client_for
from tests.support.factories import (
    DoctorFactory,
    DoctorVisitTypeFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
    VisitTypeFactory,
    in_days,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
TYPES_URL = f"{API}/visit-types/"
BLOCKS_URL = f"{API}/time-blocks/"
BULK_URL = f"{BLOCKS_URL}bulk/"
APPOINTMENTS_URL = f"{API}/appointments/"
MINUTES = datetime.timedelta(minutes=1)


def z(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def offered_types_url(doctor) -> str:
    return f"{API}/doctors/{doctor.pk}/visit-types/"


@pytest.fixture
def follow_up(doctor):
    """Follow-up, 20 minutes, offered by `doctor`."""
    visit_type = VisitTypeFactory(name="Follow-up", slug="follow-up", duration_minutes=20)
    DoctorVisitTypeFactory(doctor=doctor, visit_type=visit_type)
    return visit_type


def bulk_body(doctor, day: datetime.date, **extra) -> dict:
    return {
        "doctor": doctor.pk,
        "date_from": day.isoformat(),
        "date_to": day.isoformat(),
        "weekdays": list(range(7)),
        "start_time": "09:00",
        "end_time": "10:00",
        "timezone": "UTC",
        **extra,
    }


# ---------------------------------------------------------------------------
# (1) Admins write visit types; everyone reads the active ones
# ---------------------------------------------------------------------------
def test_admin_creates_a_visit_type_and_staff_may_not(clinic_admin_client, staff_client):
    data = {"name": "Follow-up", "slug": "follow-up", "duration_minutes": 20}

    assert staff_client.post(TYPES_URL, data, format="json").status_code == 403
    response = clinic_admin_client.post(TYPES_URL, data, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "Follow-up",
        "slug": "follow-up",
        "duration_minutes": 20,
        "specialty": "",
        "description": "",
        "active": True,
    }
    event = AuditEvent.objects.get(action="visit_type.created")
    assert event.target_id == str(body["id"])
    # Field history for single writes of the model.
    assert LogEntry.objects.get_for_model(VisitType).filter(object_pk=str(body["id"])).exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "General", "slug": "general", "duration_minutes": 20}, "slug"),
        ({"name": "Short", "slug": "short", "duration_minutes": 4}, "duration_minutes"),
        ({"name": "Long", "slug": "long", "duration_minutes": 721}, "duration_minutes"),
        ({"name": "Bad", "slug": "not a slug", "duration_minutes": 20}, "slug"),
    ],
)
def test_bad_visit_types_are_400_and_change_nothing(clinic_admin_client, data, field):
    response = clinic_admin_client.post(TYPES_URL, data, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not VisitType.objects.exists()


def test_a_duplicate_slug_is_400(clinic_admin_client, follow_up):
    data = {"name": "Again", "slug": "follow-up", "duration_minutes": 30}

    response = clinic_admin_client.post(TYPES_URL, data, format="json")

    assert response.status_code == 400
    assert "slug" in response.json()


def test_delete_deactivates_and_stops_listing(clinic_admin_client, anon_client, follow_up, doctor):
    block = TimeBlockFactory(
        doctor=doctor, visit_type=follow_up, start=in_days(3), end=in_days(3) + 20 * MINUTES
    )

    response = clinic_admin_client.delete(f"{TYPES_URL}{follow_up.pk}/")

    assert response.status_code == 204
    follow_up.refresh_from_db()
    assert follow_up.active is False
    assert ids(anon_client.get(TYPES_URL)) == []
    assert anon_client.get(f"{TYPES_URL}{follow_up.pk}/").status_code == 404
    assert ids(clinic_admin_client.get(TYPES_URL)) == [follow_up.pk]  # admins still see it
    assert anon_client.get(f"{API}/doctors/{doctor.pk}/").json()["visit_types"] == []
    # Existing blocks keep it; no new ones.
    block.refresh_from_db()
    assert block.visit_type_id == follow_up.pk
    response = clinic_admin_client.post(
        BLOCKS_URL,
        {"doctor": doctor.pk, "start": z(in_days(4)), "visit_type": follow_up.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "visit_type" in response.json()
    assert AuditEvent.objects.filter(action="visit_type.deactivated").count() == 1


def test_admin_updates_a_visit_type(clinic_admin_client, follow_up):
    response = clinic_admin_client.patch(
        f"{TYPES_URL}{follow_up.pk}/", {"duration_minutes": 25}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["duration_minutes"] == 25
    assert AuditEvent.objects.get(action="visit_type.updated").data == {
        "fields": ["duration_minutes"]
    }


def test_visit_type_list_filters_by_specialty_and_doctor(anon_client, doctor, follow_up):
    cardio = VisitTypeFactory(slug="echo", specialty="Cardiology")
    derma = VisitTypeFactory(slug="mole-check", specialty="Dermatology")
    any_specialty = VisitTypeFactory(slug="first-visit")

    by_specialty = ids(anon_client.get(TYPES_URL, {"specialty": "cardiology"}))
    by_doctor = ids(anon_client.get(TYPES_URL, {"doctor": doctor.pk}))

    assert set(by_specialty) == {cardio.pk, any_specialty.pk, follow_up.pk}
    assert derma.pk not in by_specialty
    assert by_doctor == [follow_up.pk]


def test_visit_type_list_queries_stay_flat(anon_client, django_assert_max_num_queries):
    VisitTypeFactory.create_batch(3)
    with django_assert_max_num_queries(1):  # a page that is not full tells the count
        assert len(ids(anon_client.get(TYPES_URL))) == 3
    VisitTypeFactory.create_batch(30)
    with django_assert_max_num_queries(2):
        assert len(ids(anon_client.get(TYPES_URL))) == 20


# ---------------------------------------------------------------------------
# Offers: doctors/{id}/visit-types/
# ---------------------------------------------------------------------------
def test_admin_sets_the_types_a_doctor_offers(clinic_admin_client, staff_client, anon_client):
    doctor = DoctorFactory()
    first = VisitTypeFactory(slug="first-consultation", duration_minutes=30)
    follow = VisitTypeFactory(slug="follow-up", duration_minutes=15)
    url = offered_types_url(doctor)

    assert staff_client.put(url, {"visit_types": [first.pk]}, format="json").status_code == 403
    response = clinic_admin_client.put(url, {"visit_types": [first.pk, follow.pk]}, format="json")
    assert response.status_code == 200, response.content
    assert ids(response) == [first.pk, follow.pk]

    response = clinic_admin_client.put(url, {"visit_types": [follow.pk]}, format="json")
    assert ids(response) == [follow.pk]
    assert ids(anon_client.get(url)) == [follow.pk]
    assert anon_client.get(f"{API}/doctors/{doctor.pk}/").json()["visit_types"] == [follow.pk]
    # The withdrawn offer stays as an inactive row.
    assert DoctorVisitType.objects.get(doctor=doctor, visit_type=first).active is False
    events = AuditEvent.objects.filter(action="doctor.visit_types_updated").order_by("id")
    assert [e.data for e in events] == [
        {"doctor": doctor.pk, "added": [first.pk, follow.pk], "removed": []},
        {"doctor": doctor.pk, "added": [], "removed": [first.pk]},
    ]


def test_a_type_of_another_specialty_or_inactive_is_400(clinic_admin_client):
    doctor = DoctorFactory()  # Cardiology
    derma = VisitTypeFactory(specialty="Dermatology")
    inactive = VisitTypeFactory(active=False)
    url = offered_types_url(doctor)

    for visit_type in (derma, inactive):
        response = clinic_admin_client.put(url, {"visit_types": [visit_type.pk]}, format="json")
        assert response.status_code == 400
        assert "visit_types" in response.json()
    unknown = clinic_admin_client.put(url, {"visit_types": [999999]}, format="json")
    assert unknown.status_code == 400
    assert not DoctorVisitType.objects.exists()


def test_offers_of_an_unknown_doctor_are_404(anon_client, patient):
    assert anon_client.get(offered_types_url(patient)).status_code == 404


# ---------------------------------------------------------------------------
# (2), (3) Tagged blocks
# ---------------------------------------------------------------------------
def test_bulk_follow_up_makes_three_tagged_blocks(doctor_client, doctor, follow_up):
    day = in_days(5).date()

    response = doctor_client.post(BULK_URL, bulk_body(doctor, day, visit_type=follow_up.pk))

    assert response.status_code == 201, response.content
    assert response.json()["created"] == 3
    blocks = list(TimeBlock.objects.filter(doctor=doctor))
    assert [b.visit_type_id for b in blocks] == [follow_up.pk] * 3
    assert all(b.end - b.start == 20 * MINUTES for b in blocks)


def test_bulk_with_another_slot_length_is_400(doctor_client, doctor, follow_up):
    body = bulk_body(doctor, in_days(5).date(), visit_type=follow_up.pk, slot_minutes=30)

    response = doctor_client.post(BULK_URL, body, format="json")

    assert response.status_code == 400
    assert "slot_minutes" in response.json()
    assert not TimeBlock.objects.exists()


def test_bulk_without_type_needs_slot_minutes(doctor_client, doctor):
    response = doctor_client.post(BULK_URL, bulk_body(doctor, in_days(5).date()), format="json")

    assert response.status_code == 400
    assert "slot_minutes" in response.json()


def test_an_unoffered_type_is_400(doctor_client, doctor):
    other = VisitTypeFactory()

    single = doctor_client.post(
        BLOCKS_URL, {"start": z(in_days(4)), "visit_type": other.pk}, format="json"
    )
    many = doctor_client.post(
        BULK_URL, bulk_body(doctor, in_days(5).date(), visit_type=other.pk), format="json"
    )

    assert single.status_code == many.status_code == 400
    assert "visit_type" in single.json()
    assert "visit_type" in many.json()
    assert not TimeBlock.objects.exists()


def test_a_tagged_block_lasts_the_types_duration(doctor_client, follow_up):
    start = in_days(4)

    response = doctor_client.post(
        BLOCKS_URL, {"start": z(start), "visit_type": follow_up.pk}, format="json"
    )
    wrong = doctor_client.post(
        BLOCKS_URL,
        {
            "start": z(start + 60 * MINUTES),
            "end": z(start + 90 * MINUTES),
            "visit_type": follow_up.pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["end"] == z(start + 20 * MINUTES)
    assert response.json()["visit_type"] == follow_up.pk
    assert wrong.status_code == 400
    assert "end" in wrong.json()
    # Moving it keeps the length.
    block_url = f"{BLOCKS_URL}{response.json()['id']}/"
    stretched = doctor_client.patch(block_url, {"end": z(start + 30 * MINUTES)}, format="json")
    assert stretched.status_code == 400
    moved = doctor_client.patch(
        block_url,
        {"start": z(start + 120 * MINUTES), "end": z(start + 140 * MINUTES)},
        format="json",
    )
    assert moved.status_code == 200, moved.content


def test_a_withdrawn_offer_stops_new_blocks(clinic_admin_client, doctor_client, doctor, follow_up):
    clinic_admin_client.put(offered_types_url(doctor), {"visit_types": []}, format="json")

    response = doctor_client.post(
        BLOCKS_URL, {"start": z(in_days(4)), "visit_type": follow_up.pk}, format="json"
    )

    assert response.status_code == 400


def test_an_untagged_block_still_needs_an_end(doctor_client):
    response = doctor_client.post(BLOCKS_URL, {"start": z(in_days(4))}, format="json")

    assert response.status_code == 400
    assert "end" in response.json()


# ---------------------------------------------------------------------------
# (4), (5) Filters
# ---------------------------------------------------------------------------
@pytest.fixture
def mixed_blocks(doctor, follow_up):
    """Two follow-up blocks and one general block of `doctor`."""
    start = in_days(3)
    tagged = [
        TimeBlockFactory(
            doctor=doctor,
            visit_type=follow_up,
            start=start + i * 20 * MINUTES,
            end=start + (i + 1) * 20 * MINUTES,
        )
        for i in range(2)
    ]
    general = TimeBlockFactory(doctor=doctor, start=start + 120 * MINUTES)
    return tagged, general


@pytest.mark.parametrize("by", ["slug", "id"])
def test_block_filters_by_visit_type(
    doctor_client, anon_client, doctor, follow_up, mixed_blocks, by
):
    tagged, general = mixed_blocks
    value = follow_up.slug if by == "slug" else follow_up.pk
    availability = f"{API}/doctors/{doctor.pk}/availability/"

    assert ids(doctor_client.get(BLOCKS_URL, {"visit_type": value})) == [b.pk for b in tagged]
    assert ids(doctor_client.get(BLOCKS_URL, {"visit_type": "general"})) == [general.pk]
    assert ids(anon_client.get(availability, {"visit_type": value})) == [b.pk for b in tagged]
    assert ids(anon_client.get(availability, {"visit_type": "general"})) == [general.pk]
    items = anon_client.get(availability).json()["results"]
    assert [item["visit_type"] for item in items] == [follow_up.pk, follow_up.pk, None]


@pytest.mark.parametrize(
    "url",
    [
        BLOCKS_URL,
        APPOINTMENTS_URL,
        f"{API}/doctors/",
        f"{API}/day/",
        "availability",
    ],
)
def test_an_unknown_visit_type_is_400(staff_client, doctor, url):
    if url == "availability":
        url = f"{API}/doctors/{doctor.pk}/availability/"

    response = staff_client.get(url, {"visit_type": "nope"})

    assert response.status_code == 400, response.content
    assert "visit_type" in response.json()


def test_doctors_filter_by_visit_type(anon_client, doctor, other_doctor, follow_up, mixed_blocks):
    other_type = VisitTypeFactory(slug="check-up")
    DoctorVisitTypeFactory(doctor=other_doctor, visit_type=other_type)
    TimeBlockFactory(doctor=other_doctor, start=in_days(3))
    doctors = f"{API}/doctors/"
    window = {"available_from": z(in_days(1)), "available_to": z(in_days(10))}

    assert ids(anon_client.get(doctors, {"visit_type": "follow-up"})) == [doctor.pk]
    assert ids(anon_client.get(doctors, {"visit_type": "check-up"})) == [other_doctor.pk]
    # With available_*: a bookable block of that type.
    assert ids(anon_client.get(doctors, {"visit_type": "follow-up", **window})) == [doctor.pk]
    assert ids(anon_client.get(doctors, {"visit_type": "check-up", **window})) == []
    general = ids(anon_client.get(doctors, {"visit_type": "general", **window}))
    assert sorted(general) == sorted([doctor.pk, other_doctor.pk])


def test_doctors_filter_queries_stay_flat(anon_client, django_assert_max_num_queries):
    visit_type = VisitTypeFactory(slug="flat")
    window = {"visit_type": "flat", "available_from": z(in_days(1)), "available_to": z(in_days(9))}

    def make(n: int) -> None:
        for _ in range(n):
            doctor = DoctorFactory()
            DoctorVisitTypeFactory(doctor=doctor, visit_type=visit_type)
            TimeBlockFactory(
                doctor=doctor,
                visit_type=visit_type,
                start=in_days(3),
                end=in_days(3) + 20 * MINUTES,
            )

    make(2)
    # resolve the type, count, page, specialties, visit types
    with django_assert_max_num_queries(5):
        assert len(ids(anon_client.get(f"{API}/doctors/", window))) == 2
    make(25)
    with django_assert_max_num_queries(5):
        assert len(ids(anon_client.get(f"{API}/doctors/", window))) == 20


def test_availability_filter_queries_stay_flat(
    anon_client, doctor, follow_up, django_assert_max_num_queries
):
    url = f"{API}/doctors/{doctor.pk}/availability/"
    start = in_days(3)
    for i in range(30):
        TimeBlockFactory(
            doctor=doctor,
            visit_type=follow_up,
            start=start + i * 20 * MINUTES,
            end=start + (i + 1) * 20 * MINUTES,
        )
    # resolve the type, the doctor, the count, the page
    with django_assert_max_num_queries(4):
        assert len(ids(anon_client.get(url, {"visit_type": "follow-up"}))) == 20


# ---------------------------------------------------------------------------
# (6), (7) Booking copies the type; reschedule keeps it; old blocks stay general
# ---------------------------------------------------------------------------
def test_booking_records_the_type_and_reschedule_needs_the_same(
    patient_client, doctor, follow_up, mixed_blocks
):
    (tagged, other_tagged), general = mixed_blocks

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": tagged.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["visit_type"] == follow_up.pk
    appointment_id = response.json()["id"]
    reschedule = f"{APPOINTMENTS_URL}{appointment_id}/reschedule/"

    to_general = patient_client.post(reschedule, {"time_block": general.pk}, format="json")
    assert to_general.status_code == 400
    assert "time_block" in to_general.json()
    assert Appointment.objects.get(pk=appointment_id).time_block_id == tagged.pk

    to_same = patient_client.post(reschedule, {"time_block": other_tagged.pk}, format="json")
    assert to_same.status_code == 200, to_same.content
    assert to_same.json()["visit_type"] == follow_up.pk


def test_old_untagged_blocks_stay_bookable_and_general(patient_client, doctor):
    block = TimeBlockFactory(doctor=doctor)

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk}, format="json")

    assert response.status_code == 201
    assert response.json()["visit_type"] is None


def test_appointments_and_day_filter_by_visit_type(staff_client, doctor, follow_up, mixed_blocks):
    (tagged, _), general = mixed_blocks
    booked = PendingAppointmentFactory(time_block=tagged, visit_type=follow_up)
    plain = PendingAppointmentFactory(time_block=general)

    assert ids(staff_client.get(APPOINTMENTS_URL, {"visit_type": "follow-up"})) == [booked.pk]
    assert ids(staff_client.get(APPOINTMENTS_URL, {"visit_type": "general"})) == [plain.pk]
    day = staff_client.get(
        f"{API}/day/",
        {"date": tagged.start.date().isoformat(), "visit_type": "follow-up", "doctor": doctor.pk},
    )
    assert day.status_code == 200, day.content
    [entry] = day.json()["doctors"]
    assert [a["id"] for a in entry["appointments"]] == [booked.pk]
    assert [a["visit_type"] for a in entry["appointments"]] == [follow_up.pk]
    assert {b["visit_type"] for b in entry["free_blocks"]} == {follow_up.pk}


def test_a_hold_shows_the_blocks_type(patient_client, follow_up, mixed_blocks):
    (tagged, _), _general = mixed_blocks

    response = patient_client.post(f"{API}/holds/", {"time_block": tagged.pk}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["visit_type"] == follow_up.pk


def test_a_waitlist_entry_takes_an_active_type(patient_client, doctor, follow_up):
    body = {
        "doctor": doctor.pk,
        "visit_type": follow_up.pk,
        "date_from": in_days(1).date().isoformat(),
        "date_to": in_days(20).date().isoformat(),
    }

    response = patient_client.post(f"{API}/waitlist/", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["visit_type"] == follow_up.pk
    follow_up.active = False
    follow_up.save()
    again = patient_client.post(
        f"{API}/waitlist/", {**body, "doctor": DoctorFactory().pk}, format="json"
    )
    assert again.status_code == 400


def test_doctor_shape_lists_offered_types(anon_client, doctor, follow_up):
    body = anon_client.get(f"{API}/doctors/{doctor.pk}/").json()
    listed = anon_client.get(f"{API}/doctors/").json()["results"]

    assert body["visit_types"] == [follow_up.pk]
    assert listed[0]["visit_types"] == [follow_up.pk]


def test_offer_changes_reach_the_cached_directory(
    public_cache, clinic_admin, anon_client, doctor, django_capture_on_commit_callbacks
):
    visit_type = VisitTypeFactory()
    url = f"{API}/doctors/{doctor.pk}/"
    assert anon_client.get(url).json()["visit_types"] == []

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(clinic_admin).put(
            offered_types_url(doctor), {"visit_types": [visit_type.pk]}, format="json"
        )
    assert response.status_code == 200

    assert anon_client.get(url).json()["visit_types"] == [visit_type.pk]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/doctors/?visit_type=a%00b",
        "/api/v1/doctors/{doctor}/availability/?visit_type=%00",
        "/api/v1/time-blocks/?visit_type=follow%00up",
        "/api/v1/appointments/?visit_type=%00",
    ],
)
def test_a_nul_character_in_visit_type_is_a_400_not_a_500(path, doctor, clinic_admin_client):
    """Found by the fuzz run on PostgreSQL, which cannot compare a NUL character."""
    response = clinic_admin_client.get(path.format(doctor=doctor.pk))

    assert response.status_code == 400, response.content
    assert "visit_type" in response.json()
