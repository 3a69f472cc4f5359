"""users/: the permission matrix, lists, patient creation and the admin's account actions."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import DoctorProfile, User
from accounts.services import EMAIL_TAKEN
from audit.models import AuditEvent
from core.exceptions import (
    ALREADY_DOCTOR,
    ALREADY_SUSPENDED,
    CANNOT_TARGET_SELF,
    NOT_A_PATIENT,
    NOT_SUSPENDED,
)
from tests.accounts.helpers import (
    DOCTORS_URL,
    ME_URL,
    NEW_PASSWORD,
    PASSWORD_RESET_CONFIRM_URL,
    PASSWORD_RESET_URL,
    REFRESH_URL,
    USER_FIELDS,
    USERS_URL,
    audit_rows,
    bearer_client,
    login,
    reset_link_parts,
    row_counts,
    token_pair,
    user_url,
)
from tests.support.factories import (
    DEFAULT_PASSWORD,
    AdminFactory,
    DoctorFactory,
    InactivePatientFactory,
    PatientFactory,
    StaffFactory,
    SuspendedPatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NEW_PATIENT = {"email": "Walk.In@Example.com", "first_name": "Walk", "last_name": "In"}


def _conflict(response, code: str) -> None:
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"detail", "code"}


# ---------------------------------------------------------------------------
# Permission matrix
# ---------------------------------------------------------------------------
ROLES = ["anon", "patient", "doctor", "staff", "admin"]

# endpoint: (method, path ("{id}" is a patient, a suspended one for reactivate), body)
ENDPOINTS = {
    "list": ("get", USERS_URL, None),
    "create": ("post", USERS_URL, NEW_PATIENT),
    "retrieve": ("get", USERS_URL + "{id}/", None),
    "update": ("patch", USERS_URL + "{id}/", {"first_name": "Renamed"}),
    "destroy": ("delete", USERS_URL + "{id}/", None),
    "suspend": ("post", USERS_URL + "{id}/suspend/", {"reason": "Abusive calls"}),
    "reactivate": ("post", USERS_URL + "{id}/reactivate/", None),
    "promote": ("post", USERS_URL + "{id}/promote-to-doctor/", {"specialty": "Dermatology"}),
    "put": ("put", USERS_URL + "{id}/", {"first_name": "Renamed"}),
    "create_staff": ("post", USERS_URL, {**NEW_PATIENT, "role": "staff"}),
    "create_admin": ("post", USERS_URL, {**NEW_PATIENT, "role": "admin"}),
    "set_role": ("post", USERS_URL + "{id}/set-role/", {"role": "staff"}),
    "force_reset": ("post", USERS_URL + "{id}/force-password-reset/", None),
}
STAFF_READS = {"anon": 401, "patient": 403, "doctor": 403, "staff": 200, "admin": 200}
ADMIN_ONLY = {"anon": 401, "patient": 403, "doctor": 403, "staff": 403, "admin": 200}
EXPECTED = {
    "list": STAFF_READS,
    "create": {**STAFF_READS, "staff": 201, "admin": 201},
    "retrieve": STAFF_READS,
    "update": ADMIN_ONLY,
    "destroy": {**ADMIN_ONLY, "admin": 204},
    "suspend": ADMIN_ONLY,
    "reactivate": ADMIN_ONLY,
    "promote": ADMIN_ONLY,
    # No handler for PUT: 405 whoever asks, before any role check.
    "put": dict.fromkeys(ROLES, 405),
    # Staff add patients only: another role is refused (403), writing nothing.
    "create_staff": {**ADMIN_ONLY, "admin": 201},
    "create_admin": {**ADMIN_ONLY, "admin": 201},
    "set_role": ADMIN_ONLY,
    "force_reset": {**ADMIN_ONLY, "admin": 202},
}
MATRIX = [
    pytest.param(role, endpoint, EXPECTED[endpoint][role], id=f"{role}-{endpoint}")
    for endpoint in ENDPOINTS
    for role in ROLES
]


@pytest.mark.parametrize(("role", "endpoint", "expected"), MATRIX)
def test_users_permission_matrix(role_clients, role, endpoint, expected):
    method, path, body = ENDPOINTS[endpoint]
    target = SuspendedPatientFactory() if endpoint == "reactivate" else PatientFactory()
    before = row_counts()

    response = getattr(role_clients[role], method)(path.format(id=target.pk), body)

    assert response.status_code == expected, response.content
    if response.content:
        assert response["Content-Type"] == "application/json"
    if expected >= 400:
        assert "detail" in response.json()
        # A refused request writes nothing (not even a patient_record.viewed row).
        assert row_counts() == before


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"first_name": "X"}),
        ("delete", "", None),
        ("post", "suspend/", {"reason": "x"}),
        ("post", "suspend/", {}),
        ("post", "reactivate/", None),
        ("post", "promote-to-doctor/", {"specialty": "Dermatology"}),
        ("post", "promote-to-doctor/", {"timezone": "Mars/Olympus"}),
        ("post", "set-role/", {"role": "staff"}),
        ("post", "set-role/", {"role": "wizard"}),
        ("post", "force-password-reset/", None),
    ],
)
@pytest.mark.parametrize("missing_id", ["999999", "99999999999999999999999999"])
def test_unknown_user_id_is_404_for_admins_even_with_a_bad_body(
    clinic_admin_client, method, suffix, body, missing_id
):
    response = getattr(clinic_admin_client, method)(f"{USERS_URL}{missing_id}/{suffix}", body)

    assert response.status_code == 404, response.content
    assert set(response.json()) == {"detail"}


def test_unknown_user_id_for_an_action_staff_may_never_take_is_403(staff_client):
    assert staff_client.patch(user_url(999999), {"first_name": "X"}).status_code == 403
    assert staff_client.get(user_url(999999)).status_code == 404


@pytest.mark.parametrize("path", ["abc/", "1.5/", "-1/", "me/", "abc/suspend/"])
def test_non_integer_user_id_is_a_json_404(clinic_admin_client, path):
    response = clinic_admin_client.get(USERS_URL + path)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# ---------------------------------------------------------------------------
# List: filters and pagination
# ---------------------------------------------------------------------------
def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_list_is_ordered_by_id_and_shows_the_user_shape(staff_client, staff):
    patients = PatientFactory.create_batch(3)

    response = staff_client.get(USERS_URL)

    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert _ids(response) == sorted([staff.pk, *(p.pk for p in patients)])
    assert all(set(row) == USER_FIELDS for row in body["results"])


def test_list_filters_by_role(clinic_admin_client, clinic_admin):
    doctors = DoctorFactory.create_batch(2)
    PatientFactory.create_batch(2)

    assert _ids(clinic_admin_client.get(USERS_URL, {"role": "doctor"})) == [d.pk for d in doctors]
    assert _ids(clinic_admin_client.get(USERS_URL, {"role": "admin"})) == [clinic_admin.pk]


def test_list_with_an_unknown_role_is_400(clinic_admin_client):
    response = clinic_admin_client.get(USERS_URL, {"role": "superhero"})

    assert response.status_code == 400
    assert set(response.json()) == {"role"}


def test_list_filters_by_is_active(clinic_admin_client, clinic_admin):
    inactive = InactivePatientFactory()
    active = PatientFactory()

    assert _ids(clinic_admin_client.get(USERS_URL, {"is_active": "false"})) == [inactive.pk]
    assert _ids(clinic_admin_client.get(USERS_URL, {"is_active": "true"})) == [
        clinic_admin.pk,
        active.pk,
    ]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("garcia", ["ana"]),
        ("ANA", ["ana"]),
        ("ana garcia", ["ana"]),
        ("bob", ["bob"]),
        ("clinic.test", ["bob"]),
        ("ana smith", []),
    ],
)
def test_list_search_matches_names_and_email(clinic_admin, clinic_admin_client, search, expected):
    # The listing admin is a user too: give it a name no search here matches (factories pick
    # random names, and one was "Garcia").
    User.objects.filter(pk=clinic_admin.pk).update(
        first_name="Zed", last_name="Quill", email="zq@desk.example"
    )
    users = {
        "ana": PatientFactory(first_name="Ana", last_name="Garcia", email="ana@example.com"),
        "bob": PatientFactory(first_name="Bob", last_name="Smith", email="bob@clinic.test"),
    }

    response = clinic_admin_client.get(USERS_URL, {"search": search})

    assert _ids(response) == [users[name].pk for name in expected]


def test_list_page_size_is_capped_at_100(staff_client):
    UserFactory.create_batch(104)

    response = staff_client.get(USERS_URL, {"page_size": 500})

    body = response.json()
    assert body["count"] == 105
    assert len(body["results"]) == 100
    assert body["next"] is not None
    assert len(staff_client.get(USERS_URL).json()["results"]) == 20
    assert len(staff_client.get(USERS_URL, {"page_size": 7}).json()["results"]) == 7


@pytest.mark.parametrize("page", ["3", "0", "-1", "99999999999999999999", "abc"])
def test_list_page_out_of_range_is_404(staff_client, page):
    PatientFactory.create_batch(3)

    response = staff_client.get(USERS_URL, {"page": page, "page_size": 2})

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_list_second_page(staff_client, staff):
    patients = PatientFactory.create_batch(3)

    response = staff_client.get(USERS_URL, {"page": 2, "page_size": 2})

    assert _ids(response) == [patients[1].pk, patients[2].pk]
    assert response.json()["previous"] is not None
    assert response.json()["next"] is None


# ---------------------------------------------------------------------------
# patient_record.viewed
# ---------------------------------------------------------------------------
def test_staff_reading_a_patient_writes_one_patient_record_viewed(staff_client, staff, patient):
    response = staff_client.get(user_url(patient))

    assert response.status_code == 200
    assert set(response.json()) == USER_FIELDS
    (event,) = audit_rows("patient_record.viewed")
    assert event.actor_id == staff.pk
    assert event.actor_role == "staff"
    assert (event.target_type, event.target_id) == ("user", str(patient.pk))


@pytest.mark.parametrize("factory", [StaffFactory, DoctorFactory, AdminFactory])
def test_reading_a_non_patient_user_writes_no_patient_record_viewed(staff_client, factory):
    other = factory()

    assert staff_client.get(user_url(other)).status_code == 200
    assert audit_rows("patient_record.viewed") == []


def test_list_writes_one_patient_record_viewed_per_patient_on_the_page(
    clinic_admin_client, clinic_admin
):
    DoctorFactory()
    StaffFactory()
    patients = PatientFactory.create_batch(4)
    PatientFactory.create_batch(3)  # on the next page

    response = clinic_admin_client.get(USERS_URL, {"page_size": 7})

    assert response.status_code == 200
    events = audit_rows("patient_record.viewed")
    assert sorted(e.target_id for e in events) == sorted(str(p.pk) for p in patients)
    assert {e.actor_id for e in events} == {clinic_admin.pk}
    assert len({e.request_id for e in events}) == 1


def test_an_empty_list_writes_no_patient_record_viewed(staff_client):
    assert staff_client.get(USERS_URL, {"role": "doctor"}).status_code == 200
    assert audit_rows("patient_record.viewed") == []


# ---------------------------------------------------------------------------
# Create a patient
# ---------------------------------------------------------------------------
def test_staff_creates_a_patient_with_an_unusable_password(
    staff_client, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(USERS_URL, {**NEW_PATIENT, "phone": "+34600123456"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == "walk.in@example.com"
    assert body["role"] == "patient"
    user = User.objects.get(pk=body["id"])
    assert not user.has_usable_password()
    assert user.phone == "+34600123456"
    assert mail.outbox == []
    (event,) = audit_rows("user.created")
    assert event.actor_id == staff.pk
    assert event.target_id == str(user.pk)
    assert event.data == {"send_invite": False}
    assert login(user.email, "").status_code == 400
    assert login(user.email, "anything-at-all").status_code == 401


def test_created_patient_ignores_staff_flags_and_passwords_in_the_body(clinic_admin_client):
    response = clinic_admin_client.post(
        USERS_URL, {**NEW_PATIENT, "is_staff": True, "is_superuser": True, "password": "x"}
    )

    assert response.status_code == 201
    user = User.objects.get(pk=response.json()["id"])
    assert user.role == User.Role.PATIENT
    assert not user.is_staff
    assert not user.has_usable_password()


def test_invited_patient_sets_a_password_through_reset_confirm_and_logs_in(
    staff_client, reset_url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(USERS_URL, {**NEW_PATIENT, "send_invite": True})

    assert response.status_code == 201
    (message,) = mail.outbox
    assert message.to == ["walk.in@example.com"]
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    uid, token = reset_link_parts(message)
    assert reset_url.format(uid=uid, token=token) in html
    confirm = APIClient().post(
        PASSWORD_RESET_CONFIRM_URL, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    )
    assert confirm.status_code == 204
    assert login("walk.in@example.com", NEW_PASSWORD).status_code == 200
    assert audit_rows("user.created")[0].data == {"send_invite": True}


def test_patient_created_without_invite_can_use_password_reset(
    staff_client, reset_url, django_capture_on_commit_callbacks
):
    user_id = staff_client.post(USERS_URL, NEW_PATIENT).json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(PASSWORD_RESET_URL, {"email": "walk.in@example.com"})

    assert response.status_code == 202
    (message,) = mail.outbox
    uid, token = reset_link_parts(message)
    body = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    assert APIClient().post(PASSWORD_RESET_CONFIRM_URL, body).status_code == 204
    assert login("walk.in@example.com", NEW_PASSWORD).json().keys() == {"access", "refresh"}
    assert User.objects.get(pk=user_id).has_usable_password()


def test_create_with_a_taken_email_is_400(staff_client, patient):
    before = row_counts()

    response = staff_client.post(USERS_URL, {**NEW_PATIENT, "email": patient.email.upper()})

    assert response.status_code == 400
    assert response.json() == {"email": [EMAIL_TAKEN]}
    assert row_counts() == before


# ---------------------------------------------------------------------------
# PATCH by an admin
# ---------------------------------------------------------------------------
def test_admin_patches_names_phone_and_email(clinic_admin_client, clinic_admin, patient):
    response = clinic_admin_client.patch(
        user_url(patient),
        {
            "first_name": "New",
            "last_name": "Name",
            "phone": "+15551234567",
            "email": "New.Address@Example.com",
            "role": "admin",
            "is_active": False,
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "new.address@example.com"
    assert body["role"] == "patient"
    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name, patient.phone, patient.email) == (
        "New",
        "Name",
        "+15551234567",
        "new.address@example.com",
    )
    assert patient.role == User.Role.PATIENT
    assert patient.is_active
    (event,) = audit_rows("user.updated")
    assert event.actor_id == clinic_admin.pk
    assert sorted(event.data["fields"]) == ["email", "first_name", "last_name", "phone"]
    assert login("new.address@example.com", DEFAULT_PASSWORD).status_code == 200


def test_admin_patch_with_a_taken_email_is_400(clinic_admin_client, patient, other_patient):
    response = clinic_admin_client.patch(user_url(patient), {"email": other_patient.email.title()})

    assert response.status_code == 400
    assert response.json() == {"email": [EMAIL_TAKEN]}
    patient.refresh_from_db()
    assert patient.email != other_patient.email
    assert audit_rows("user.updated") == []


def test_admin_patch_without_changes_writes_no_audit_row(clinic_admin_client, patient):
    response = clinic_admin_client.patch(user_url(patient), {"first_name": patient.first_name})

    assert response.status_code == 200
    assert audit_rows("user.updated") == []


# ---------------------------------------------------------------------------
# DELETE deactivates
# ---------------------------------------------------------------------------
def test_delete_deactivates_keeps_the_row_and_kills_tokens(
    clinic_admin_client, clinic_admin, patient
):
    access, refresh = token_pair(patient)

    response = clinic_admin_client.delete(user_url(patient))

    assert response.status_code == 204
    patient.refresh_from_db()
    assert not patient.is_active
    assert User.objects.filter(pk=patient.pk).exists()
    assert APIClient().post(REFRESH_URL, {"refresh": refresh}).status_code == 401
    assert bearer_client(access).get(ME_URL).status_code == 401
    assert login(patient.email, DEFAULT_PASSWORD).status_code == 401
    (event,) = audit_rows("user.deactivated")
    assert event.actor_id == clinic_admin.pk
    assert event.target_id == str(patient.pk)


def test_deactivated_doctor_leaves_the_directory(clinic_admin_client, doctor):
    assert clinic_admin_client.delete(user_url(doctor)).status_code == 204

    assert clinic_admin_client.get(DOCTORS_URL).json()["count"] == 0
    assert DoctorProfile.objects.filter(pk=doctor.pk).exists()


def test_admin_cannot_delete_themself(clinic_admin_client, clinic_admin):
    response = clinic_admin_client.delete(user_url(clinic_admin))

    _conflict(response, CANNOT_TARGET_SELF)
    clinic_admin.refresh_from_db()
    assert clinic_admin.is_active
    assert audit_rows("user.deactivated") == []


# ---------------------------------------------------------------------------
# Suspend and reactivate
# ---------------------------------------------------------------------------
def test_suspend_returns_the_user_with_active_appointments_and_locks_them_out(
    clinic_admin_client, clinic_admin, patient
):
    access, refresh = token_pair(patient)

    response = clinic_admin_client.post(user_url(patient) + "suspend/", {"reason": "Abusive calls"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS | {"active_appointments"}
    assert body["active_appointments"] == 0
    assert body["suspension_reason"] == "Abusive calls"
    assert body["suspended_at"].endswith("Z")
    assert body["is_active"] is True
    patient.refresh_from_db()
    assert patient.suspended_at is not None
    assert bearer_client(access).get(ME_URL).status_code == 401
    assert APIClient().post(REFRESH_URL, {"refresh": refresh}).status_code == 401
    assert login(patient.email, DEFAULT_PASSWORD).status_code == 401
    (event,) = audit_rows("user.suspended")
    assert event.actor_id == clinic_admin.pk
    assert event.target_id == str(patient.pk)
    assert "Abusive" not in str(event.data)


def test_suspending_a_suspended_user_is_409(clinic_admin_client):
    suspended = SuspendedPatientFactory()
    before = suspended.suspended_at

    response = clinic_admin_client.post(user_url(suspended) + "suspend/", {"reason": "Again"})

    _conflict(response, ALREADY_SUSPENDED)
    suspended.refresh_from_db()
    assert suspended.suspended_at == before
    assert suspended.suspension_reason == "Repeated no-shows"


def test_admin_cannot_suspend_themself(clinic_admin_client, clinic_admin):
    response = clinic_admin_client.post(user_url(clinic_admin) + "suspend/", {"reason": "Oops"})

    _conflict(response, CANNOT_TARGET_SELF)
    clinic_admin.refresh_from_db()
    assert clinic_admin.suspended_at is None


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 501}])
def test_suspend_needs_a_reason(clinic_admin_client, patient, body):
    response = clinic_admin_client.post(user_url(patient) + "suspend/", body)

    assert response.status_code == 400
    assert set(response.json()) == {"reason"}
    patient.refresh_from_db()
    assert patient.suspended_at is None


def test_reactivate_clears_the_suspension(clinic_admin_client, clinic_admin):
    suspended = SuspendedPatientFactory()

    response = clinic_admin_client.post(user_url(suspended) + "reactivate/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["suspended_at"] is None
    assert body["suspension_reason"] == ""
    assert body["is_active"] is True
    assert login(suspended.email, DEFAULT_PASSWORD).status_code == 200
    (event,) = audit_rows("user.reactivated")
    assert event.actor_id == clinic_admin.pk


def test_reactivate_makes_a_deactivated_user_active(clinic_admin_client):
    inactive = InactivePatientFactory()

    assert clinic_admin_client.post(user_url(inactive) + "reactivate/").status_code == 200
    inactive.refresh_from_db()
    assert inactive.is_active


def test_reactivating_an_active_unsuspended_user_is_409(clinic_admin_client, patient):
    response = clinic_admin_client.post(user_url(patient) + "reactivate/")

    _conflict(response, NOT_SUSPENDED)
    assert audit_rows("user.reactivated") == []


# ---------------------------------------------------------------------------
# Promote to doctor
# ---------------------------------------------------------------------------
def test_promote_makes_the_patient_a_doctor_with_a_profile(
    clinic_admin_client, clinic_admin, patient
):
    response = clinic_admin_client.post(
        user_url(patient) + "promote-to-doctor/",
        {
            "specialty": "Dermatology",
            "bio": "Skin.",
            "license_number": "LIC-1",
            "location": "Room 4",
            "timezone": "Europe/Madrid",
        },
    )

    assert response.status_code == 200
    assert set(response.json()) == USER_FIELDS
    assert response.json()["role"] == "doctor"
    patient.refresh_from_db()
    assert patient.role == User.Role.DOCTOR
    profile = DoctorProfile.objects.get(pk=patient.pk)
    assert (profile.specialty, profile.bio, profile.license_number) == (
        "Dermatology",
        "Skin.",
        "LIC-1",
    )
    assert (profile.location, profile.timezone) == ("Room 4", "Europe/Madrid")
    (event,) = audit_rows("user.promoted")
    assert event.actor_id == clinic_admin.pk
    assert event.target_id == str(patient.pk)
    listed = clinic_admin_client.get(DOCTORS_URL).json()["results"]
    assert [d["id"] for d in listed] == [patient.pk]


def test_promote_defaults_the_timezone_to_the_clinics(clinic_admin_client, patient):
    response = clinic_admin_client.post(
        user_url(patient) + "promote-to-doctor/", {"specialty": "GP"}
    )

    assert response.status_code == 200
    assert DoctorProfile.objects.get(pk=patient.pk).timezone == settings.TIME_ZONE


@pytest.mark.parametrize("timezone_name", ["Mars/Olympus", "", "europe/madrid", "UTC+2"])
def test_promote_with_a_bad_timezone_is_400_and_writes_nothing(
    clinic_admin_client, patient, timezone_name
):
    before = row_counts()

    response = clinic_admin_client.post(
        user_url(patient) + "promote-to-doctor/",
        {"specialty": "GP", "timezone": timezone_name},
    )

    assert response.status_code == 400
    assert set(response.json()) == {"timezone"}
    patient.refresh_from_db()
    assert patient.role == User.Role.PATIENT
    assert row_counts() == before


def test_promoting_a_doctor_is_409(clinic_admin_client, doctor):
    response = clinic_admin_client.post(
        user_url(doctor) + "promote-to-doctor/", {"specialty": "GP"}
    )

    _conflict(response, ALREADY_DOCTOR)
    assert DoctorProfile.objects.get(pk=doctor.pk).specialty == "Cardiology"


@pytest.mark.parametrize("factory", [StaffFactory, AdminFactory])
def test_promoting_staff_or_admin_is_409(clinic_admin_client, factory):
    target = factory()

    response = clinic_admin_client.post(
        user_url(target) + "promote-to-doctor/", {"specialty": "GP"}
    )

    _conflict(response, NOT_A_PATIENT)
    target.refresh_from_db()
    assert target.role == factory._meta.declarations["role"]
    assert not DoctorProfile.objects.filter(pk=target.pk).exists()


def test_failed_admin_actions_write_no_audit_rows(clinic_admin_client, clinic_admin, doctor):
    before = AuditEvent.objects.count()

    clinic_admin_client.post(user_url(clinic_admin) + "suspend/", {"reason": "x"})
    clinic_admin_client.delete(user_url(clinic_admin))
    clinic_admin_client.post(user_url(doctor) + "promote-to-doctor/", {"specialty": "GP"})
    clinic_admin_client.post(user_url(doctor) + "reactivate/")

    assert AuditEvent.objects.count() == before
