"""doctors/: the public directory, its filters and ordering, and a doctor's own profile."""

from __future__ import annotations

import pytest

from accounts.models import DoctorProfile
from tests.accounts.helpers import (
    DOCTOR_ME_URL,
    DOCTORS_URL,
    audit_rows,
    bearer_client,
    doctor_url,
    row_counts,
    token_pair,
)
from tests.support.factories import (
    DoctorFactory,
    InactiveDoctorFactory,
    PatientFactory,
    SuspendedDoctorFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PUBLIC_FIELDS = {
    "id",
    "first_name",
    "last_name",
    "specialty",
    "specialties",
    "hospital",
    "bio",
    "location",
    "timezone",
    "photo_url",
    "visit_types",
    "rating_average",
    "rating_count",
}


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# ---------------------------------------------------------------------------
# Permission matrix
# ---------------------------------------------------------------------------
ROLES = ["anon", "patient", "doctor", "staff", "admin"]
PUBLIC = dict.fromkeys(ROLES, 200)
DOCTOR_ONLY = {"anon": 401, "patient": 403, "doctor": 200, "staff": 403, "admin": 403}
ENDPOINTS = {
    "list": ("get", DOCTORS_URL, None, PUBLIC),
    "retrieve": ("get", DOCTORS_URL + "{id}/", None, PUBLIC),
    "me": ("get", DOCTOR_ME_URL, None, DOCTOR_ONLY),
    "me-patch": ("patch", DOCTOR_ME_URL, {"bio": "Updated."}, DOCTOR_ONLY),
    "create": ("post", DOCTORS_URL, {"specialty": "GP"}, dict.fromkeys(ROLES, 405)),
    "delete": ("delete", DOCTORS_URL + "{id}/", None, dict.fromkeys(ROLES, 405)),
}
MATRIX = [
    pytest.param(role, endpoint, ENDPOINTS[endpoint][3][role], id=f"{role}-{endpoint}")
    for endpoint in ENDPOINTS
    for role in ROLES
]


@pytest.mark.parametrize(("role", "endpoint", "expected"), MATRIX)
def test_doctors_permission_matrix(role_clients, doctor, role, endpoint, expected):
    method, path, body, _ = ENDPOINTS[endpoint]
    before = row_counts()

    response = getattr(role_clients[role], method)(path.format(id=doctor.pk), body)

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert "detail" in response.json()
        assert row_counts() == before


# ---------------------------------------------------------------------------
# The directory
# ---------------------------------------------------------------------------
def test_list_shows_only_active_unsuspended_doctors(anon_client, doctor):
    SuspendedDoctorFactory()
    InactiveDoctorFactory()
    PatientFactory()

    assert _ids(anon_client.get(DOCTORS_URL)) == [doctor.pk]


def test_public_shape_hides_contact_details_and_uses_the_user_id(anon_client):
    doctor = DoctorFactory(
        first_name="Gregory",
        last_name="House",
        phone="+15551234567",
        profile__specialty="Diagnostics",
        profile__bio="Difficult.",
        profile__location="Princeton",
        profile__timezone="America/New_York",
    )

    body = anon_client.get(DOCTORS_URL).json()
    detail = anon_client.get(doctor_url(doctor)).json()

    (row,) = body["results"]
    assert set(row) == PUBLIC_FIELDS
    assert row == {key: value for key, value in detail.items() if key != "rating_histogram"}
    assert detail["rating_histogram"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    assert row == {
        "id": doctor.pk,
        "first_name": "Gregory",
        "last_name": "House",
        "specialty": "Diagnostics",
        "specialties": ["Diagnostics"],
        "hospital": "",
        "bio": "Difficult.",
        "location": "Princeton",
        "timezone": "America/New_York",
        "photo_url": None,
        "visit_types": [],
        "rating_average": None,
        "rating_count": 0,
    }
    for secret in (doctor.email, "+15551234567", doctor.doctor_profile.license_number):
        assert secret not in str(body)
        assert secret not in str(detail)


def test_list_default_order_is_last_name_first_name_id(anon_client):
    b = DoctorFactory(first_name="Ana", last_name="Bravo")
    a2 = DoctorFactory(first_name="Zoe", last_name="Alpha")
    a1 = DoctorFactory(first_name="Ana", last_name="Alpha")
    a1_twin = DoctorFactory(first_name="Ana", last_name="Alpha")

    assert _ids(anon_client.get(DOCTORS_URL)) == [a1.pk, a1_twin.pk, a2.pk, b.pk]


def test_ordering_by_last_name_both_ways(anon_client):
    b = DoctorFactory(first_name="Ana", last_name="Bravo")
    c = DoctorFactory(first_name="Ana", last_name="Charlie")
    a = DoctorFactory(first_name="Ana", last_name="Alpha")

    assert _ids(anon_client.get(DOCTORS_URL, {"ordering": "last_name"})) == [a.pk, b.pk, c.pk]
    assert _ids(anon_client.get(DOCTORS_URL, {"ordering": "-last_name"})) == [c.pk, b.pk, a.pk]


@pytest.mark.parametrize("ordering", ["email", "license_number", "user__email", "-id", "rating"])
def test_unknown_ordering_is_400(anon_client, doctor, ordering):
    response = anon_client.get(DOCTORS_URL, {"ordering": ordering})

    assert response.status_code == 400
    assert set(response.json()) == {"ordering"}


@pytest.fixture
def directory(db):
    return {
        "ana": DoctorFactory(
            first_name="Ana",
            last_name="Lopez",
            profile__specialty="Cardiology",
            profile__location="North wing",
        ),
        "ben": DoctorFactory(
            first_name="Ben",
            last_name="Cardenas",
            profile__specialty="Dermatology",
            profile__location="South wing",
        ),
        "cai": DoctorFactory(
            first_name="Cai",
            last_name="Moreno",
            profile__specialty="Paediatric cardiology",
            profile__location="North wing annex",
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "ana"}, ["ana"]),
        ({"search": "LOPEZ"}, ["ana"]),
        ({"search": "card"}, ["ben", "ana", "cai"]),
        ({"search": "cardio moreno"}, ["cai"]),
        ({"search": "derm"}, ["ben"]),
        ({"search": "nobody"}, []),
        ({"specialty": "cardiology"}, ["ana"]),
        ({"specialty": "CARDIOLOGY"}, ["ana"]),
        ({"specialty": "cardio"}, []),
        ({"location": "north"}, ["ana", "cai"]),
        ({"location": "South Wing"}, ["ben"]),
        ({"specialty": "cardiology", "location": "south"}, []),
    ],
)
def test_directory_filters(anon_client, directory, params, expected):
    response = anon_client.get(DOCTORS_URL, params)

    assert _ids(response) == [directory[name].pk for name in expected]


def test_search_does_not_match_email_or_licence(anon_client):
    DoctorFactory(email="secret.doc@example.com", profile__license_number="LIC-SECRET")

    assert _ids(anon_client.get(DOCTORS_URL, {"search": "secret"})) == []


def test_detail_of_an_unknown_doctor_is_404(anon_client, patient):
    assert anon_client.get(doctor_url(999999)).status_code == 404
    # A patient's user id is not a doctor.
    assert anon_client.get(doctor_url(patient)).status_code == 404


@pytest.mark.parametrize("factory", [SuspendedDoctorFactory, InactiveDoctorFactory])
def test_detail_of_a_suspended_or_inactive_doctor_is_404(anon_client, clinic_admin_client, factory):
    hidden = factory()

    assert anon_client.get(doctor_url(hidden)).status_code == 404
    assert clinic_admin_client.get(doctor_url(hidden)).status_code == 404


@pytest.mark.parametrize(
    "path", ["abc/", "1.5/", "-1/", "9223372036854775807/", "9223372036854775808/", "9" * 30 + "/"]
)
def test_non_integer_or_huge_doctor_id_is_a_json_404(anon_client, path):
    response = anon_client.get(DOCTORS_URL + path)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_list_is_paginated(anon_client):
    DoctorFactory.create_batch(3)

    body = anon_client.get(DOCTORS_URL, {"page_size": 2}).json()

    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert anon_client.get(DOCTORS_URL, {"page": 3, "page_size": 2}).status_code == 404


# ---------------------------------------------------------------------------
# doctors/me/
# ---------------------------------------------------------------------------
def test_doctor_reads_their_own_profile_with_the_licence(doctor, doctor_client):
    response = doctor_client.get(DOCTOR_ME_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_FIELDS | {"license_number"}
    assert body["id"] == doctor.pk
    assert body["license_number"] == doctor.doctor_profile.license_number


def test_doctor_patches_bio_location_and_timezone_only(doctor, doctor_client):
    profile = doctor.doctor_profile

    response = doctor_client.patch(
        DOCTOR_ME_URL,
        {
            "bio": "Now seeing children too.",
            "location": "Room 12",
            "timezone": "Europe/Madrid",
            "specialty": "Neurosurgery",
            "license_number": "FORGED",
            "first_name": "Renamed",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["bio"], body["location"], body["timezone"]) == (
        "Now seeing children too.",
        "Room 12",
        "Europe/Madrid",
    )
    assert body["specialty"] == "Cardiology"
    profile.refresh_from_db()
    assert (profile.bio, profile.location, profile.timezone) == (
        "Now seeing children too.",
        "Room 12",
        "Europe/Madrid",
    )
    assert profile.specialty == "Cardiology"
    assert profile.license_number != "FORGED"
    doctor.refresh_from_db()
    assert doctor.first_name != "Renamed"
    (event,) = audit_rows("doctor_profile.updated")
    assert event.actor_id == doctor.pk
    assert (event.target_type, event.target_id) == ("doctor_profile", str(doctor.pk))
    assert sorted(event.data["fields"]) == ["bio", "location", "timezone"]


def test_doctor_patch_can_clear_bio_and_location(doctor, doctor_client):
    response = doctor_client.patch(DOCTOR_ME_URL, {"bio": "", "location": ""})

    assert response.status_code == 200
    profile = DoctorProfile.objects.get(pk=doctor.pk)
    assert (profile.bio, profile.location) == ("", "")


def test_doctor_patch_without_changes_writes_no_audit_row(doctor, doctor_client):
    response = doctor_client.patch(DOCTOR_ME_URL, {"bio": doctor.doctor_profile.bio})

    assert response.status_code == 200
    assert audit_rows("doctor_profile.updated") == []


@pytest.mark.parametrize("timezone_name", ["Mars/Olympus", "", "GMT+1", "Europe/madrid"])
def test_doctor_patch_with_a_bad_timezone_is_400(doctor, doctor_client, timezone_name):
    before = row_counts()

    response = doctor_client.patch(
        DOCTOR_ME_URL, {"timezone": timezone_name, "bio": "Should not be saved."}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"timezone"}
    profile = DoctorProfile.objects.get(pk=doctor.pk)
    assert profile.timezone != timezone_name
    assert profile.bio == "Sees adults."
    assert row_counts() == before


def test_doctors_me_for_a_doctor_without_a_profile_is_404(db):
    bare = UserFactory(role="doctor")
    access, _ = token_pair(bare)

    response = bearer_client(access).get(DOCTOR_ME_URL)

    assert response.status_code == 404
