"""The directory's parity features: doctors/stats/, featured doctors, the rating histogram,
and the hospital and specialties of a doctor's profile."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.models import DoctorProfile, DoctorSpecialty
from accounts.selectors import doctor_specialties
from audit.models import AuditEvent
from scheduling.models import Review
from scheduling.selectors import FEATURED_MIN_REVIEWS
from tests.support.factories import (
    CancelledAppointmentFactory,
    CompletedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    SuspendedDoctorFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
DOCTORS_URL = f"{API}/doctors/"
STATS_URL = f"{API}/doctors/stats/"
DOCTOR_ME_URL = f"{API}/doctors/me/"
ROLES = ["anon", "patient", "doctor", "staff", "admin"]


def review(doctor, rating: int, *, hidden: bool = False) -> Review:
    appointment = CompletedAppointmentFactory(time_block__doctor=doctor)
    return Review.objects.create(
        appointment=appointment,
        doctor=doctor,
        author=appointment.patient,
        rating=rating,
        hidden_at=timezone.now() if hidden else None,
    )


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# ---------------------------------------------------------------------------
# doctors/stats/
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_stats_permission_matrix(role_clients, role):
    assert role_clients[role].get(STATS_URL).status_code == 200
    # A read-only endpoint: other methods are 405 for everyone, before any role check.
    assert role_clients[role].post(STATS_URL, {}).status_code == 405


def test_stats_count_only_visible_data(anon_client):
    cardio = DoctorFactory(profile__specialties=["Cardiology", "Sports medicine"])
    DoctorFactory(profile__specialties=["cardiology", "Pediatrics"])
    hidden_doctor = SuspendedDoctorFactory(profile__specialties=["Oncology"])
    review(cardio, 5)
    review(cardio, 4, hidden=True)
    review(hidden_doctor, 3)  # its completed visit counts; its review does not
    CancelledAppointmentFactory(time_block__doctor=cardio)

    response = anon_client.get(STATS_URL)

    assert response.status_code == 200
    assert response.json() == {
        "doctors": 2,
        "specialties": 3,  # cardiology (any case), sports medicine, pediatrics
        "appointments_completed": 3,
        "reviews": 1,
    }


def test_stats_are_cached_until_a_review_changes(
    anon_client, public_cache, django_assert_num_queries, django_capture_on_commit_callbacks
):
    doctor = DoctorFactory()
    first = review(doctor, 5)
    assert anon_client.get(STATS_URL).json()["reviews"] == 1
    with django_assert_num_queries(0):
        assert anon_client.get(STATS_URL).json()["reviews"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        first.hidden_at = timezone.now()
        first.save(update_fields=["hidden_at"])

    assert anon_client.get(STATS_URL).json()["reviews"] == 0


# ---------------------------------------------------------------------------
# Featured doctors
# ---------------------------------------------------------------------------
@pytest.fixture
def rated_doctors():
    """best (5.0 from 4), tied (5.0 from 3), good (4.33 from 3), few (5.0 from 2 visible)."""
    best = DoctorFactory(last_name="Zed")
    for rating in (5, 5, 5, 5):
        review(best, rating)
    tied = DoctorFactory(last_name="Young")  # the same average, fewer reviews
    for rating in (5, 5, 5):
        review(tied, rating)
    good = DoctorFactory(last_name="Xu")
    for rating in (4, 4, 5):
        review(good, rating)
    few = DoctorFactory(last_name="Ward")  # perfect, but too few visible reviews
    review(few, 5)
    review(few, 5)
    review(few, 1, hidden=True)
    return {"best": best, "tied": tied, "good": good, "few": few}


def test_featured_lists_the_best_rated_with_enough_reviews(anon_client, rated_doctors):
    response = anon_client.get(DOCTORS_URL, {"featured": "true"})

    expected = [rated_doctors[name].pk for name in ("best", "tied", "good")]
    assert ids(response) == expected
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    assert all(row["rating_count"] >= FEATURED_MIN_REVIEWS for row in body["results"])


def test_featured_limit_cuts_the_list_and_ties_break_by_id(anon_client, rated_doctors):
    twin = DoctorFactory(last_name="Aaron")
    for rating in (4, 4, 5):
        review(twin, rating)

    assert ids(anon_client.get(DOCTORS_URL, {"featured": "1", "limit": "2"})) == [
        rated_doctors["best"].pk,
        rated_doctors["tied"].pk,
    ]
    fourth = ids(anon_client.get(DOCTORS_URL, {"featured": "true", "limit": "4"}))
    assert fourth[2:] == sorted([rated_doctors["good"].pk, twin.pk])


def test_featured_defaults_to_four(anon_client):
    for _ in range(6):
        doctor = DoctorFactory()
        for rating in (5, 4, 3):
            review(doctor, rating)

    assert len(ids(anon_client.get(DOCTORS_URL, {"featured": "true"}))) == 4
    assert len(ids(anon_client.get(DOCTORS_URL, {"featured": "true", "limit": 12}))) == 6


def test_featured_combines_with_filters(anon_client, rated_doctors):
    DoctorProfile.objects.filter(pk=rated_doctors["good"].pk).update(location="Harbour")

    response = anon_client.get(DOCTORS_URL, {"featured": "true", "location": "harb"})

    assert ids(response) == [rated_doctors["good"].pk]


def test_featured_false_or_missing_is_the_ordinary_list(anon_client, rated_doctors):
    everyone = ids(anon_client.get(DOCTORS_URL))
    assert len(everyone) == 4
    assert ids(anon_client.get(DOCTORS_URL, {"featured": "false"})) == everyone


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"featured": "yes"}, "featured"),
        ({"featured": "maybe"}, "featured"),
        ({"featured": "true", "limit": "0"}, "limit"),
        ({"featured": "true", "limit": "13"}, "limit"),
        ({"featured": "true", "limit": "-1"}, "limit"),
        ({"featured": "true", "limit": "abc"}, "limit"),
        ({"limit": "3"}, "limit"),
        ({"featured": "false", "limit": "3"}, "limit"),
        ({"featured": "true", "ordering": "last_name"}, "featured"),
    ],
)
def test_featured_bad_parameters_are_400(anon_client, params, field):
    response = anon_client.get(DOCTORS_URL, params)

    assert response.status_code == 400, response.content
    assert field in response.json()


def test_featured_query_count_does_not_grow(anon_client, django_assert_max_num_queries):
    for _ in range(8):
        doctor = DoctorFactory()
        for rating in (5, 4, 3):
            review(doctor, rating)

    with django_assert_max_num_queries(4):  # count, page, specialties, visit types
        assert len(ids(anon_client.get(DOCTORS_URL, {"featured": "true", "limit": 12}))) == 8


# ---------------------------------------------------------------------------
# The rating histogram (detail only)
# ---------------------------------------------------------------------------
def test_detail_shows_a_histogram_of_visible_reviews(anon_client, django_assert_max_num_queries):
    doctor = DoctorFactory()
    for rating in (5, 5, 4, 1):
        review(doctor, rating)
    review(doctor, 2, hidden=True)

    # the doctor, the specialties, the visit types, the histogram
    with django_assert_max_num_queries(4):
        response = anon_client.get(f"{DOCTORS_URL}{doctor.pk}/")

    body = response.json()
    assert body["rating_histogram"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 2}
    assert sum(body["rating_histogram"].values()) == body["rating_count"] == 4
    listed = anon_client.get(DOCTORS_URL).json()["results"][0]
    assert "rating_histogram" not in listed


# ---------------------------------------------------------------------------
# hospital and specialties
# ---------------------------------------------------------------------------
def test_doctor_edits_hospital_and_specialties_and_specialty_follows(doctor, doctor_client):
    response = doctor_client.patch(
        DOCTOR_ME_URL,
        {"hospital": "St. Mary's", "specialties": ["Neurology", "Sleep medicine", "neurology"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["specialty"] == "Neurology"
    assert body["specialties"] == ["Neurology", "Sleep medicine"]
    assert body["hospital"] == "St. Mary's"
    profile = DoctorProfile.objects.get(pk=doctor.pk)
    assert profile.specialty == "Neurology"
    (event,) = AuditEvent.objects.filter(action="doctor_profile.updated")
    assert sorted(event.data["fields"]) == ["hospital", "specialties", "specialty"]
    detail = doctor_client.get(f"{DOCTORS_URL}{doctor.pk}/").json()
    assert (detail["hospital"], detail["specialties"]) == (body["hospital"], body["specialties"])


def test_doctor_patch_without_specialty_changes_keeps_the_list(doctor, doctor_client):
    response = doctor_client.patch(DOCTOR_ME_URL, {"bio": "New."}, format="json")

    assert response.json()["specialties"] == ["Cardiology"]
    (event,) = AuditEvent.objects.filter(action="doctor_profile.updated")
    assert event.data["fields"] == ["bio"]


@pytest.mark.parametrize(
    "body",
    [
        {"specialties": []},
        {"specialties": [""]},
        {"specialties": ["   "]},
        {"specialties": ["x" * 101]},
        {"specialties": [f"S{n}" for n in range(11)]},
        {"specialties": "Cardiology"},
        {"hospital": "h" * 201},
    ],
)
def test_bad_profile_fields_are_400_and_change_nothing(doctor, doctor_client, body):
    response = doctor_client.patch(DOCTOR_ME_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) <= {"specialties", "hospital"}
    profile = DoctorProfile.objects.prefetch_related("specialty_rows").get(pk=doctor.pk)
    assert doctor_specialties(profile) == ["Cardiology"]
    assert not AuditEvent.objects.filter(action="doctor_profile.updated").exists()


def test_specialty_filter_matches_any_specialty_in_any_case(anon_client):
    both = DoctorFactory(profile__specialties=["Cardiology", "Sports Medicine"])
    DoctorFactory(profile__specialties=["Sports medicine rehab"])
    DoctorFactory(profile__specialties=["Dermatology"])

    assert ids(anon_client.get(DOCTORS_URL, {"specialty": "sports medicine"})) == [both.pk]
    assert ids(anon_client.get(DOCTORS_URL, {"specialty": "CARDIOLOGY"})) == [both.pk]


def test_search_matches_any_specialty_and_the_hospital_once_per_doctor(anon_client):
    doctor = DoctorFactory(
        profile__specialties=["Cardiology", "Sports medicine", "Sports cardiology"],
        profile__hospital="Harbour General",
    )
    DoctorFactory(profile__specialties=["Dermatology"])

    assert ids(anon_client.get(DOCTORS_URL, {"search": "sports"})) == [doctor.pk]
    assert ids(anon_client.get(DOCTORS_URL, {"search": "harbour cardio"})) == [doctor.pk]
    assert ids(anon_client.get(DOCTORS_URL, {"search": "derm harbour"})) == []


def test_promote_accepts_hospital_and_specialties(clinic_admin_client):
    patient = PatientFactory()

    response = clinic_admin_client.post(
        f"{API}/users/{patient.pk}/promote-to-doctor/",
        {"specialty": "Pediatrics", "specialties": ["Neonatology"], "hospital": "Children's"},
        format="json",
    )

    assert response.status_code == 200, response.content
    detail = clinic_admin_client.get(f"{DOCTORS_URL}{patient.pk}/").json()
    assert detail["specialty"] == "Pediatrics"
    assert detail["specialties"] == ["Pediatrics", "Neonatology"]
    assert detail["hospital"] == "Children's"


def test_the_data_migration_makes_each_specialty_a_one_item_list():
    doctor = DoctorFactory(profile__specialty="Radiology")
    DoctorSpecialty.objects.all().delete()
    migration = importlib.import_module("accounts.migrations.0004_doctor_hospital_specialties")

    migration.specialties_from_specialty(apps, None)

    profile = DoctorProfile.objects.prefetch_related("specialty_rows").get(pk=doctor.pk)
    assert [row.name for row in profile.specialty_rows.all()] == ["Radiology"]
