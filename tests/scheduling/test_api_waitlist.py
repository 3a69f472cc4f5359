"""Waitlist entries: POST/GET/DELETE waitlist/ (DESIGN-R2 §R2-3, R2-11; acceptance (6))."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from core.exceptions import ILLEGAL_TRANSITION, WAITLIST_DUPLICATE, WAITLIST_LIMIT
from scheduling.models import WaitlistEntry
from tests.scheduling.appointment_helpers import audit_rows
from tests.support.clients import client_for
from tests.support.factories import (
    DoctorFactory,
    PatientFactory,
    SuspendedPatientFactory,
)

WAITLIST_URL = "/api/v1/waitlist/"


def entry_url(entry_id: int) -> str:
    return f"{WAITLIST_URL}{entry_id}/"


def body(**extra) -> dict:
    today = timezone.localdate()
    return {
        "date_from": (today + datetime.timedelta(days=1)).isoformat(),
        "date_to": (today + datetime.timedelta(days=30)).isoformat(),
        **extra,
    }


@pytest.mark.django_db
def test_patient_joins_a_doctors_waitlist(patient_client, patient, doctor):
    response = patient_client.post(
        WAITLIST_URL,
        body(doctor=doctor.pk, weekdays=[4, 0], time_from="09:00", time_to="12:30"),
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) == {
        "id",
        "patient",
        "doctor",
        "specialty",
        "visit_type",
        "date_from",
        "date_to",
        "weekdays",
        "time_from",
        "time_to",
        "status",
        "missed_offers",
        "created_at",
    }
    assert data["patient"] == patient.pk
    assert data["doctor"] == doctor.pk
    assert data["specialty"] == ""
    assert data["visit_type"] is None
    assert data["weekdays"] == [0, 4]
    assert data["time_from"] == "09:00:00"
    assert data["status"] == "active"
    assert data["missed_offers"] == 0
    assert audit_rows("waitlist_entry.created", target_id=str(data["id"]))


@pytest.mark.django_db
def test_patient_joins_a_specialtys_waitlist(patient_client):
    response = patient_client.post(WAITLIST_URL, body(specialty="Cardiology"), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["doctor"] is None
    assert response.json()["specialty"] == "Cardiology"


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["both", "neither"])
def test_doctor_and_specialty_both_or_neither_is_400(patient_client, doctor, which):
    extra = {"doctor": doctor.pk, "specialty": "Cardiology"} if which == "both" else {}
    response = patient_client.post(WAITLIST_URL, body(**extra), format="json")
    assert response.status_code == 400
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db
def test_a_visit_type_is_400_until_visit_types_exist(patient_client, doctor):
    response = patient_client.post(
        WAITLIST_URL, body(doctor=doctor.pk, visit_type=1), format="json"
    )
    assert response.status_code == 400
    assert "visit_type" in response.json()
    ok = patient_client.post(WAITLIST_URL, body(doctor=doctor.pk, visit_type=None), format="json")
    assert ok.status_code == 201


@pytest.mark.django_db
def test_span_beyond_the_limit_is_400(patient_client, doctor, settings):
    settings.WAITLIST_MAX_SPAN_DAYS = 10
    today = timezone.localdate()
    too_long = {
        "date_from": today.isoformat(),
        "date_to": (today + datetime.timedelta(days=10)).isoformat(),
    }
    response = patient_client.post(WAITLIST_URL, {"doctor": doctor.pk, **too_long}, format="json")
    assert response.status_code == 400
    assert "date_to" in response.json()
    just = {**too_long, "date_to": (today + datetime.timedelta(days=9)).isoformat()}
    assert (
        patient_client.post(WAITLIST_URL, {"doctor": doctor.pk, **just}, format="json").status_code
        == 201
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        {"weekdays": [7]},
        {"weekdays": [1, 1]},
        {"time_from": "12:00", "time_to": "09:00"},
        {"date_from": "2030-01-10", "date_to": "2030-01-09"},
    ],
)
def test_bad_shapes_are_400(patient_client, doctor, extra):
    response = patient_client.post(WAITLIST_URL, body(doctor=doctor.pk, **extra), format="json")
    assert response.status_code == 400


@pytest.mark.django_db
def test_a_patient_is_not_a_doctor_to_wait_for(patient_client, other_patient):
    response = patient_client.post(WAITLIST_URL, body(doctor=other_patient.pk), format="json")
    assert response.status_code == 400
    assert "doctor" in response.json()


@pytest.mark.django_db
def test_duplicate_entry_is_409_waitlist_duplicate(patient_client, doctor):
    assert (
        patient_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json").status_code == 201
    )
    again = patient_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json")
    assert again.status_code == 409
    assert again.json()["code"] == WAITLIST_DUPLICATE
    assert (
        patient_client.post(WAITLIST_URL, body(specialty="Dermatology"), format="json").status_code
        == 201
    )
    same_specialty = patient_client.post(WAITLIST_URL, body(specialty="dermatology"), format="json")
    assert same_specialty.status_code == 409
    assert same_specialty.json()["code"] == WAITLIST_DUPLICATE


@pytest.mark.django_db
def test_a_cancelled_entry_may_be_made_again(patient_client, doctor):
    first = patient_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json").json()
    assert patient_client.delete(entry_url(first["id"])).status_code == 204
    assert (
        patient_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json").status_code == 201
    )


@pytest.mark.django_db
def test_sixth_entry_is_409_waitlist_limit(patient_client, settings):
    settings.WAITLIST_MAX_ACTIVE_PER_PATIENT = 5
    for _ in range(5):
        doctor = DoctorFactory()
        assert (
            patient_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json").status_code
            == 201
        )
    sixth = patient_client.post(WAITLIST_URL, body(doctor=DoctorFactory().pk), format="json")
    assert sixth.status_code == 409
    assert sixth.json()["code"] == WAITLIST_LIMIT


@pytest.mark.django_db
def test_staff_names_the_patient(staff_client, patient, doctor):
    missing = staff_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json")
    assert missing.status_code == 400
    response = staff_client.post(
        WAITLIST_URL, body(doctor=doctor.pk, patient=patient.pk), format="json"
    )
    assert response.status_code == 201
    assert response.json()["patient"] == patient.pk


@pytest.mark.django_db
def test_staff_cannot_list_a_suspended_patient(staff_client, doctor):
    suspended = SuspendedPatientFactory()
    response = staff_client.post(
        WAITLIST_URL, body(doctor=doctor.pk, patient=suspended.pk), format="json"
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_patient_lists_own_entries_staff_all_and_filters(
    patient_client, staff_client, patient, doctor, django_assert_max_num_queries
):
    other = PatientFactory()
    patient_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json")
    client_for(other).post(WAITLIST_URL, body(doctor=doctor.pk), format="json")
    with django_assert_max_num_queries(6):
        mine = patient_client.get(WAITLIST_URL)
    assert [row["patient"] for row in mine.json()["results"]] == [patient.pk]
    with django_assert_max_num_queries(6):
        everyone = staff_client.get(WAITLIST_URL)
    assert len(everyone.json()["results"]) == 2
    filtered = staff_client.get(WAITLIST_URL, {"patient": other.pk})
    assert [row["patient"] for row in filtered.json()["results"]] == [other.pk]


@pytest.mark.django_db
def test_delete_cancels_and_again_is_no_change(patient_client, doctor):
    entry = patient_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json").json()
    assert patient_client.delete(entry_url(entry["id"])).status_code == 204
    assert WaitlistEntry.objects.get(pk=entry["id"]).status == "cancelled"
    assert patient_client.delete(entry_url(entry["id"])).status_code == 204
    assert len(audit_rows("waitlist_entry.cancelled", target_id=str(entry["id"]))) == 1


@pytest.mark.django_db
def test_deleting_a_booked_entry_is_409(patient_client, doctor):
    entry = patient_client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json").json()
    WaitlistEntry.objects.filter(pk=entry["id"]).update(status="booked")
    response = patient_client.delete(entry_url(entry["id"]))
    assert response.status_code == 409
    assert response.json()["code"] == ILLEGAL_TRANSITION


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "method", "own", "expected"),
    [
        ("anon", "get", False, 401),
        ("anon", "post", False, 401),
        ("doctor", "get", False, 403),
        ("doctor", "post", False, 403),
        ("doctor", "delete", True, 403),
        ("patient", "delete", False, 404),
        ("patient", "get_one", False, 404),
        ("patient", "get_one", True, 200),
        ("staff", "delete", False, 204),
        ("admin", "get_one", False, 200),
    ],
)
def test_permission_matrix(role_clients, patient, doctor, role, method, own, expected):
    owner = patient if own else PatientFactory()
    entry = WaitlistEntry.objects.create(
        patient=owner,
        doctor=doctor,
        date_from=datetime.date(2030, 1, 1),
        date_to=datetime.date(2030, 1, 31),
    )
    client = role_clients[role]
    if method == "get":
        response = client.get(WAITLIST_URL)
    elif method == "post":
        response = client.post(WAITLIST_URL, body(doctor=doctor.pk), format="json")
    elif method == "get_one":
        response = client.get(entry_url(entry.pk))
    else:
        response = client.delete(entry_url(entry.pk))
    assert response.status_code == expected
