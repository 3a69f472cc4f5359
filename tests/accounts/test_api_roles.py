"""Staff onboarding without a shell: admins create staff and admin accounts, change roles and
force password resets, in the API and the console. (The permission-matrix rows are in
test_api_users.py.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.groups import FRONT_DESK_GROUP
from accounts.models import User
from audit.models import AuditEvent
from core.exceptions import CANNOT_TARGET_SELF, ILLEGAL_ROLE_CHANGE
from tests.accounts.helpers import (
    ME_URL,
    NEW_PASSWORD,
    PASSWORD_RESET_CONFIRM_URL,
    REFRESH_URL,
    USERS_URL,
    audit_rows,
    bearer_client,
    login,
    reset_link_parts,
    row_counts,
    token_pair,
    user_url,
)
from tests.support.clients import client_for
from tests.support.factories import (
    AdminFactory,
    DoctorFactory,
    PatientFactory,
    StaffFactory,
    SuspendedPatientFactory,
)

pytestmark = pytest.mark.django_db

NEW_PERSON = {"email": "New.Desk@Example.com", "first_name": "New", "last_name": "Desk"}
USERS_ADMIN = reverse("admin:accounts_user_changelist")
USER_ADD_ADMIN = reverse("admin:accounts_user_add")


def in_front_desk(user: User) -> bool:
    return user.groups.filter(name=FRONT_DESK_GROUP).exists()


def conflict(response, code: str) -> None:
    assert response.status_code == 409, response.content
    assert response.json()["code"] == code


def console(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------
# Creating staff and admin accounts
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "is_superuser", "front_desk"), [("staff", False, True), ("admin", True, False)]
)
def test_admin_creates_an_invited_account_that_sets_its_own_password(
    clinic_admin_client,
    clinic_admin,
    reset_url,
    django_capture_on_commit_callbacks,
    role,
    is_superuser,
    front_desk,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = clinic_admin_client.post(USERS_URL, {**NEW_PERSON, "role": role})

    assert response.status_code == 201, response.content
    assert response.json()["role"] == role
    user = User.objects.get(pk=response.json()["id"])
    assert (user.email, user.is_staff, user.is_superuser) == (
        "new.desk@example.com",
        True,
        is_superuser,
    )
    assert in_front_desk(user) is front_desk
    assert not user.has_usable_password()
    (event,) = audit_rows("user.created")
    assert (event.actor_id, event.data) == (clinic_admin.pk, {"send_invite": True, "role": role})
    (invite,) = mail.outbox
    assert invite.to == [user.email]
    assert f"medappt {role} account" in invite.body
    uid, token = reset_link_parts(invite)
    confirm = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    assert clinic_admin_client.post(PASSWORD_RESET_CONFIRM_URL, confirm).status_code == 204
    assert login(user.email, NEW_PASSWORD).status_code == 200


def test_a_staff_account_is_invited_even_without_send_invite(clinic_admin_client):
    response = clinic_admin_client.post(
        USERS_URL, {**NEW_PERSON, "role": "staff", "send_invite": False}
    )
    assert response.status_code == 201
    (event,) = audit_rows("user.created")
    assert event.data["send_invite"] is True


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_may_not_create_staff_or_admin_accounts(staff_client, role):
    before = row_counts()

    response = staff_client.post(USERS_URL, {**NEW_PERSON, "role": role})

    assert response.status_code == 403, response.content
    assert row_counts() == before
    assert mail.outbox == []


def test_staff_still_creates_patients_naming_the_role(staff_client):
    response = staff_client.post(USERS_URL, {**NEW_PERSON, "role": "patient"})

    assert response.status_code == 201
    assert response.json()["role"] == "patient"


@pytest.mark.parametrize("role", ["doctor", "wizard", ""])
def test_doctors_and_unknown_roles_cannot_be_created(clinic_admin_client, role):
    response = clinic_admin_client.post(USERS_URL, {**NEW_PERSON, "role": role})

    assert response.status_code == 400
    assert set(response.json()) == {"role"}


def test_creating_staff_with_a_taken_email_is_400(clinic_admin_client, patient):
    response = clinic_admin_client.post(
        USERS_URL, {**NEW_PERSON, "email": patient.email.upper(), "role": "staff"}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"email"}


# ---------------------------------------------------------------------------
# set-role
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("factory", "before", "after"),
    [
        (PatientFactory, "patient", "staff"),
        (StaffFactory, "staff", "patient"),
        (StaffFactory, "staff", "admin"),
        (AdminFactory, "admin", "staff"),
    ],
)
def test_admin_changes_a_role_with_flags_group_sessions_and_audit(
    clinic_admin_client, clinic_admin, factory, before, after
):
    user = factory()
    _, refresh = token_pair(user)

    response = clinic_admin_client.post(f"{user_url(user)}set-role/", {"role": after})

    assert response.status_code == 200, response.content
    assert response.json()["role"] == after
    user.refresh_from_db()
    flags = User.role_flags(after)
    assert (user.role, user.is_staff, user.is_superuser) == (
        after,
        flags["is_staff"],
        flags["is_superuser"],
    )
    assert in_front_desk(user) is (after == "staff")
    assert clinic_admin_client.post(REFRESH_URL, {"refresh": refresh}).status_code == 401
    (event,) = audit_rows("user.role_changed")
    assert (event.actor_id, event.target_id, event.data) == (
        clinic_admin.pk,
        str(user.pk),
        {"before": before, "after": after},
    )


@pytest.mark.parametrize(
    ("factory", "role"),
    [
        (PatientFactory, "admin"),
        (AdminFactory, "patient"),
        (PatientFactory, "patient"),
        (StaffFactory, "staff"),
        (PatientFactory, "doctor"),
        (DoctorFactory, "staff"),
        (DoctorFactory, "patient"),
    ],
)
def test_other_role_changes_are_409_and_change_nothing(clinic_admin_client, factory, role):
    user = factory()
    before = (row_counts(), User.objects.filter(pk=user.pk).values().get())

    response = clinic_admin_client.post(f"{user_url(user)}set-role/", {"role": role})

    conflict(response, ILLEGAL_ROLE_CHANGE)
    assert (row_counts(), User.objects.filter(pk=user.pk).values().get()) == before


def test_admin_cannot_change_their_own_role(clinic_admin_client, clinic_admin):
    response = clinic_admin_client.post(f"{user_url(clinic_admin)}set-role/", {"role": "staff"})

    conflict(response, CANNOT_TARGET_SELF)
    clinic_admin.refresh_from_db()
    assert clinic_admin.role == "admin"


@pytest.mark.parametrize("body", [{}, {"role": "wizard"}, {"role": ""}])
def test_set_role_needs_a_valid_role(clinic_admin_client, patient, body):
    response = clinic_admin_client.post(f"{user_url(patient)}set-role/", body)

    assert response.status_code == 400
    assert set(response.json()) == {"role"}


def test_a_demoted_admin_loses_the_api_at_once(clinic_admin_client):
    other = AdminFactory()
    theirs = client_for(other)
    assert theirs.get(USERS_URL).status_code == 200

    response = clinic_admin_client.post(f"{user_url(other)}set-role/", {"role": "staff"})
    assert response.status_code == 200

    # Access tokens load the user on every request: the new role applies at once.
    assert theirs.patch(user_url(other), {"first_name": "X"}).status_code == 403


# ---------------------------------------------------------------------------
# force-password-reset
# ---------------------------------------------------------------------------
def test_forced_reset_ends_sessions_voids_the_password_and_mails_a_link(
    clinic_admin_client, clinic_admin, patient, reset_url, django_capture_on_commit_callbacks
):
    access, refresh = token_pair(patient)

    with django_capture_on_commit_callbacks(execute=True):
        response = clinic_admin_client.post(f"{user_url(patient)}force-password-reset/")

    assert response.status_code == 202, response.content
    assert set(response.json()) == {"detail"}
    patient.refresh_from_db()
    assert not patient.has_usable_password()
    assert login(patient.email, "correct-horse-battery-staple").status_code == 401
    assert clinic_admin_client.post(REFRESH_URL, {"refresh": refresh}).status_code == 401
    assert bearer_client(access).get(ME_URL).status_code == 401  # by its password hash
    (message,) = mail.outbox
    assert message.to == [patient.email]
    assert "asked you to choose a new password" in message.body
    (event,) = audit_rows("user.password_reset_forced")
    assert (event.actor_id, event.data) == (clinic_admin.pk, {"sent": True})
    uid, token = reset_link_parts(message)
    confirm = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    assert clinic_admin_client.post(PASSWORD_RESET_CONFIRM_URL, confirm).status_code == 204
    assert login(patient.email, NEW_PASSWORD).status_code == 200


def test_forced_reset_of_a_suspended_user_mails_nothing(
    clinic_admin_client, django_capture_on_commit_callbacks
):
    user = SuspendedPatientFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = clinic_admin_client.post(f"{user_url(user)}force-password-reset/")

    assert response.status_code == 202
    assert mail.outbox == []
    (event,) = audit_rows("user.password_reset_forced")
    assert event.data == {"sent": False}


def test_admin_cannot_force_their_own_reset(clinic_admin_client, clinic_admin):
    response = clinic_admin_client.post(f"{user_url(clinic_admin)}force-password-reset/")

    conflict(response, CANNOT_TARGET_SELF)
    clinic_admin.refresh_from_db()
    assert clinic_admin.has_usable_password()


# ---------------------------------------------------------------------------
# The console
# ---------------------------------------------------------------------------
def test_admin_adds_a_staff_account_in_the_console(
    clinic_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = console(clinic_admin).post(
            USER_ADD_ADMIN, {**NEW_PERSON, "role": "staff", "_save": "Save"}, follow=True
        )

    assert response.status_code == 200
    user = User.objects.get(email="new.desk@example.com")
    assert (user.role, user.is_staff, in_front_desk(user)) == ("staff", True, True)
    assert len(mail.outbox) == 1
    assert audit_rows("user.created")[0].data == {"send_invite": True, "role": "staff"}


def test_the_front_desk_add_form_has_no_role(staff):
    client = console(staff)
    response = client.get(USER_ADD_ADMIN)
    assert response.status_code == 200
    assert "role" not in response.context["adminform"].form.fields

    client.post(USER_ADD_ADMIN, {**NEW_PERSON, "role": "admin", "_save": "Save"})

    assert User.objects.get(email="new.desk@example.com").role == "patient"


def test_admin_changes_roles_in_the_console_through_the_service(clinic_admin):
    patient, doctor = PatientFactory(), DoctorFactory()

    response = console(clinic_admin).post(
        USERS_ADMIN,
        {"action": "set_role", "_selected_action": [patient.pk, doctor.pk], "role": "staff"},
        follow=True,
    )

    messages = [str(m) for m in response.context["messages"]]
    assert messages[0] == "1 user(s) given role staff."
    assert messages[1].startswith(f"{doctor.email}: A user with role doctor")
    patient.refresh_from_db()
    assert (patient.role, in_front_desk(patient)) == ("staff", True)
    assert len(audit_rows("user.role_changed")) == 1


def test_console_role_change_needs_a_role(clinic_admin, patient):
    response = console(clinic_admin).post(
        USERS_ADMIN, {"action": "set_role", "_selected_action": [patient.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["Choose the new role."]
    assert not AuditEvent.objects.filter(action="user.role_changed").exists()


def test_admin_forces_a_reset_in_the_console(
    clinic_admin, patient, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = console(clinic_admin).post(
            USERS_ADMIN,
            {"action": "force_password_reset", "_selected_action": [patient.pk]},
            follow=True,
        )

    assert [str(m) for m in response.context["messages"]] == [
        "1 user(s) signed out, with a password reset link sent."
    ]
    patient.refresh_from_db()
    assert not patient.has_usable_password()
    assert len(mail.outbox) == 1
    assert Group.objects.filter(name=FRONT_DESK_GROUP).exists()
