"""Users and doctor profiles in the staff console, and who may do what there and in the API.

Front desk (role staff) reads users, adds patients and runs the appointment book; only clinic
admins change, suspend, reactivate or promote users. Patients and doctors never get in.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import DoctorProfile, User
from accounts.selectors import doctor_specialties
from accounts.services import user_suspend
from audit.models import AuditEvent
from audit.services import audit_record
from tests.support.factories import (
    DEFAULT_PASSWORD,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    StartedConfirmedAppointmentFactory,
    SuspendedPatientFactory,
    TimeBlockFactory,
)

USERS = reverse("admin:accounts_user_changelist")
USER_ADD = reverse("admin:accounts_user_add")
PROFILES = reverse("admin:accounts_doctorprofile_changelist")
INDEX = reverse("admin:index")
LOGIN = reverse("admin:login")
API = "/api/v1"


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown(response) -> list[str]:
    """The messages the page shows (the response must be the rendered page, e.g. follow=True)."""
    return [str(message) for message in response.context["messages"]]


def actions_offered(client: Client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["action_form"]
    if form is None:
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


def user_action(client: Client, action: str, *users: User, **extra):
    data = {"action": action, "_selected_action": [u.pk for u in users], **extra}
    return client.post(USERS, data, follow=True)


def user_url(user: User, view: str = "change") -> str:
    return reverse(f"admin:accounts_user_{view}", args=[user.pk])


def profile_url(doctor: User, view: str = "change") -> str:
    return reverse(f"admin:accounts_doctorprofile_{view}", args=[doctor.pk])


def audit_rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def change_form(user: User, **changes) -> dict[str, str]:
    """What the admin's user change form posts, with some fields changed."""
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "_save": "Save",
    }
    data.update(changes)
    return data


def login_page_post(email: str, password: str) -> tuple[Client, object]:
    client = Client()
    response = client.post(LOGIN, {"username": email, "password": password, "next": INDEX})
    return client, response


# ---------------------------------------------------------------------------
# Front desk (role staff) in the admin
# ---------------------------------------------------------------------------
def test_staff_sees_users_and_doctor_profiles(staff, patient, doctor):
    client = console(staff)
    users = client.get(USERS)
    assert users.status_code == 200
    assert {patient.pk, doctor.pk, staff.pk} <= {u.pk for u in users.context["cl"].result_list}
    profiles = client.get(PROFILES)
    assert profiles.status_code == 200
    assert [p.pk for p in profiles.context["cl"].result_list] == [doctor.pk]


def test_staff_reading_users_is_recorded_for_patients_only(staff, patient, doctor):
    console(staff).get(USERS)
    viewed = audit_rows("patient_record.viewed")
    assert [(e.target_id, e.actor_id) for e in viewed] == [(str(patient.pk), staff.pk)]


def test_staff_is_offered_no_user_actions(staff, patient):
    assert actions_offered(console(staff), USERS) == set()


@pytest.mark.parametrize(
    "action", ["suspend", "reactivate", "promote_to_doctor", "set_role", "force_password_reset"]
)
def test_staff_posting_a_user_action_changes_nothing(staff, action):
    target = SuspendedPatientFactory() if action == "reactivate" else PatientFactory()
    before = User.objects.filter(pk=target.pk).values().get()
    response = user_action(
        console(staff),
        action,
        target,
        reason="Abusive",
        specialty="Cardiology",
        timezone="",
        role="staff",
    )
    assert response.status_code == 200
    assert User.objects.filter(pk=target.pk).values().get() == before
    assert not AuditEvent.objects.filter(action__startswith="user.").exists()


def test_staff_opens_a_user_read_only_and_cannot_post_changes(staff, doctor):
    client = console(staff)
    page = client.get(user_url(doctor))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    content = page.content.decode()
    assert 'name="_save"' not in content
    assert 'name="first_name"' not in content  # shown as text, not as an input
    assert doctor.password not in content  # the hash never reaches the page
    response = client.post(user_url(doctor), change_form(doctor, first_name="Mallory"))
    assert response.status_code == 403
    doctor.refresh_from_db()
    assert doctor.first_name != "Mallory"
    assert audit_rows("user.updated") == []


def test_nobody_sets_another_users_password_in_the_admin(clinic_admin, patient):
    client = Client()
    client.force_login(clinic_admin)
    password_url = reverse("admin:auth_user_password_change", args=[patient.pk])
    form = {"password1": "x-Very-long-passphrase-1", "password2": "x-Very-long-passphrase-1"}
    assert client.get(password_url).status_code == 403
    assert client.post(password_url, form).status_code == 403
    patient.refresh_from_db()
    assert patient.check_password(DEFAULT_PASSWORD)


def test_staff_cannot_set_a_password_or_delete_a_user(staff, patient):
    client = console(staff)
    password_url = reverse("admin:auth_user_password_change", args=[patient.pk])
    assert client.get(password_url).status_code == 403
    form = {"password1": "x-Very-long-passphrase-1", "password2": "x-Very-long-passphrase-1"}
    assert client.post(password_url, form).status_code == 403
    assert client.post(user_url(patient, "delete"), {"post": "yes"}).status_code == 403
    patient.refresh_from_db()
    assert patient.check_password(DEFAULT_PASSWORD)


def test_staff_opens_a_doctor_profile_read_only(staff, doctor):
    client = console(staff)
    assert client.get(profile_url(doctor)).status_code == 200
    response = client.post(profile_url(doctor), {"specialty": "Dermatology", "_save": "Save"})
    assert response.status_code == 403
    assert DoctorProfile.objects.get(pk=doctor.pk).specialty == "Cardiology"


def test_staff_adds_a_patient_through_the_service(staff, django_capture_on_commit_callbacks):
    client = console(staff)
    assert client.get(USER_ADD).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            USER_ADD,
            {
                "email": "  Walk.In@Example.com ",
                "first_name": "Walk",
                "last_name": "In",
                "phone": "+34600123456",
                "send_invite": "on",
                # Not on the form: a patient is all the front desk can create.
                "role": "admin",
                "is_staff": "on",
                "is_superuser": "on",
                "_save": "Save",
            },
            follow=True,
        )
    assert response.status_code == 200
    created = User.objects.get(email="walk.in@example.com")
    assert (created.role, created.is_staff, created.is_superuser) == ("patient", False, False)
    assert (created.first_name, created.last_name, created.phone) == ("Walk", "In", "+34600123456")
    assert not created.has_usable_password()
    (event,) = audit_rows("user.created")
    assert (event.actor_id, event.target_id, event.data) == (
        staff.pk,
        str(created.pk),
        {"send_invite": True},
    )
    assert [m.to for m in mail.outbox] == [["walk.in@example.com"]]
    assert "was added successfully" in " ".join(shown(response))


def test_adding_a_patient_with_a_taken_email_shows_a_form_error(staff, patient):
    response = console(staff).post(
        USER_ADD,
        {"email": patient.email.upper(), "first_name": "A", "last_name": "B", "_save": "Save"},
    )
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.filter(email=patient.email).count() == 1
    assert audit_rows("user.created") == []


def test_staff_runs_the_appointment_book_but_not_completion(staff):
    client = console(staff)
    assert client.get(reverse("admin:scheduling_appointment_changelist")).status_code == 200
    assert client.get(reverse("admin:scheduling_appointment_add")).status_code == 200
    assert client.get(reverse("admin:scheduling_timeblock_add")).status_code == 200
    block = TimeBlockFactory()
    assert client.get(reverse("admin:scheduling_timeblock_change", args=[block.pk])).status_code
    offered = actions_offered(client, reverse("admin:scheduling_appointment_changelist"))
    assert offered == {"confirm", "cancel", "no_show"}
    started = StartedConfirmedAppointmentFactory()
    client.post(
        reverse("admin:scheduling_appointment_changelist"),
        {"action": "complete", "_selected_action": [started.pk]},
    )
    started.refresh_from_db()
    assert started.status == "confirmed"


def test_staff_cannot_see_the_audit_log(staff):
    event = audit_record(action="user.updated", target=staff, actor=None)
    client = console(staff)
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 403
    change = reverse("admin:audit_auditevent_change", args=[event.pk])
    assert client.get(change).status_code == 403


# ---------------------------------------------------------------------------
# Clinic admins (role admin, superuser) in the admin
# ---------------------------------------------------------------------------
def test_admin_is_offered_the_account_actions_and_no_hard_delete(clinic_admin, patient):
    offered = actions_offered(console(clinic_admin), USERS)
    assert offered == {
        "suspend",
        "reactivate",
        "deactivate",
        "promote_to_doctor",
        "set_role",
        "force_password_reset",
    }


def test_admin_cannot_hard_delete_a_user(clinic_admin, patient):
    client = console(clinic_admin)
    assert client.get(user_url(patient, "delete")).status_code == 403
    assert client.post(user_url(patient, "delete"), {"post": "yes"}).status_code == 403
    client.post(USERS, {"action": "delete_selected", "_selected_action": [patient.pk], "post": "1"})
    assert User.objects.filter(pk=patient.pk).exists()


def test_admin_suspends_with_a_reason_through_the_service(clinic_admin, patient):
    response = user_action(console(clinic_admin), "suspend", patient, reason="Abusive calls")
    assert shown(response) == ["1 user(s) suspended."]
    patient.refresh_from_db()
    assert patient.suspended_at is not None
    assert patient.suspension_reason == "Abusive calls"
    (event,) = audit_rows("user.suspended")
    assert (event.actor_id, event.actor_role, event.target_id) == (
        clinic_admin.pk,
        "admin",
        str(patient.pk),
    )


def test_suspending_without_a_reason_shows_an_error_and_changes_nothing(clinic_admin, patient):
    response = user_action(console(clinic_admin), "suspend", patient, reason="  ")
    assert shown(response) == ["Give a reason to suspend."]
    patient.refresh_from_db()
    assert patient.suspended_at is None
    assert audit_rows("user.suspended") == []


def test_suspending_yourself_or_twice_shows_errors_not_500s(clinic_admin):
    suspended = SuspendedPatientFactory()
    response = user_action(console(clinic_admin), "suspend", clinic_admin, suspended, reason="Test")
    assert response.status_code == 200
    assert shown(response) == [
        f"{clinic_admin.email}: You cannot suspend your own account.",
        f"{suspended.email}: This user is already suspended.",
    ]
    clinic_admin.refresh_from_db()
    assert clinic_admin.suspended_at is None


def test_admin_reactivates_a_suspended_user(clinic_admin):
    suspended = SuspendedPatientFactory()
    response = user_action(console(clinic_admin), "reactivate", suspended)
    assert shown(response) == ["1 user(s) reactivated."]
    suspended.refresh_from_db()
    assert (suspended.suspended_at, suspended.suspension_reason) == (None, "")
    (event,) = audit_rows("user.reactivated")
    assert event.actor_id == clinic_admin.pk


def test_reactivating_an_active_user_shows_an_error(clinic_admin, patient):
    response = user_action(console(clinic_admin), "reactivate", patient)
    assert shown(response) == [f"{patient.email}: This user is neither suspended nor deactivated."]


def test_admin_deactivates_instead_of_deleting(clinic_admin, patient):
    response = user_action(console(clinic_admin), "deactivate", patient, clinic_admin)
    assert shown(response) == [
        "1 user(s) deactivated.",
        f"{clinic_admin.email}: You cannot deactivate your own account.",
    ]
    patient.refresh_from_db()
    clinic_admin.refresh_from_db()
    assert (patient.is_active, clinic_admin.is_active) == (False, True)
    (event,) = audit_rows("user.deactivated")
    assert (event.actor_id, event.target_id) == (clinic_admin.pk, str(patient.pk))


def test_admin_promotes_a_patient_to_doctor(clinic_admin, patient):
    response = user_action(
        console(clinic_admin),
        "promote_to_doctor",
        patient,
        specialty="Dermatology",
        timezone="Europe/Madrid",
    )
    assert shown(response) == ["1 user(s) promoted to doctor."]
    patient.refresh_from_db()
    assert patient.role == User.Role.DOCTOR
    profile = DoctorProfile.objects.get(pk=patient.pk)
    assert (profile.specialty, profile.timezone) == ("Dermatology", "Europe/Madrid")
    (event,) = audit_rows("user.promoted")
    assert (event.actor_id, event.data) == (clinic_admin.pk, {"role": "doctor"})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"specialty": "", "timezone": ""}, "Give the specialty to promote."),
        ({"specialty": "Dermatology", "timezone": "Mars/Olympus"}, None),
    ],
)
def test_promoting_without_a_specialty_or_with_a_bad_zone_changes_nothing(
    clinic_admin, patient, extra, message
):
    response = user_action(console(clinic_admin), "promote_to_doctor", patient, **extra)
    assert response.status_code == 200
    messages_shown = shown(response)
    assert len(messages_shown) == 1
    if message:
        assert messages_shown == [message]
    else:
        assert "Mars/Olympus" in messages_shown[0]
    patient.refresh_from_db()
    assert patient.role == User.Role.PATIENT
    assert not DoctorProfile.objects.filter(pk=patient.pk).exists()


def test_promoting_staff_shows_an_error(clinic_admin):
    other_staff = StaffFactory()
    response = user_action(
        console(clinic_admin), "promote_to_doctor", other_staff, specialty="GP", timezone=""
    )
    assert shown(response) == [f"{other_staff.email}: Only patients can be promoted to doctor."]
    other_staff.refresh_from_db()
    assert other_staff.role == User.Role.STAFF


def test_admin_changes_a_user_through_the_service(clinic_admin, patient):
    response = console(clinic_admin).post(
        user_url(patient),
        change_form(patient, first_name="Renamed", email="New.Address@Example.com"),
        follow=True,
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    assert (patient.first_name, patient.email) == ("Renamed", "new.address@example.com")
    (event,) = audit_rows("user.updated")
    assert (event.actor_id, sorted(event.data["fields"])) == (
        clinic_admin.pk,
        ["email", "first_name"],
    )


def test_changing_a_user_to_a_taken_email_shows_an_error(clinic_admin, patient, other_patient):
    response = console(clinic_admin).post(
        user_url(patient), change_form(patient, email=other_patient.email)
    )
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.email != other_patient.email


def test_admin_changes_a_doctor_profile_through_the_service(clinic_admin, doctor):
    profile = doctor.doctor_profile
    response = console(clinic_admin).post(
        profile_url(doctor),
        {
            "specialties": "Neurology, Sleep medicine",
            "hospital": "St. Mary's",
            "bio": profile.bio,
            "license_number": profile.license_number,
            "location": profile.location,
            "timezone": "Asia/Tokyo",
            "_save": "Save",
        },
        follow=True,
    )
    assert response.status_code == 200
    profile.refresh_from_db()
    assert (profile.specialty, profile.timezone) == ("Neurology", "Asia/Tokyo")
    assert profile.hospital == "St. Mary's"
    assert doctor_specialties(profile) == ["Neurology", "Sleep medicine"]
    (event,) = audit_rows("doctor_profile.updated")
    assert (event.actor_id, sorted(event.data["fields"])) == (
        clinic_admin.pk,
        ["hospital", "specialties", "specialty", "timezone"],
    )


def test_doctor_profiles_are_neither_added_nor_deleted_in_the_admin(clinic_admin, doctor):
    client = console(clinic_admin)
    assert client.get(reverse("admin:accounts_doctorprofile_add")).status_code == 403
    assert client.post(profile_url(doctor, "delete"), {"post": "yes"}).status_code == 403
    assert DoctorProfile.objects.filter(pk=doctor.pk).exists()


def test_admin_can_do_everything_the_desk_can_and_more(clinic_admin):
    client = console(clinic_admin)
    for url in (
        INDEX,
        USERS,
        USER_ADD,
        PROFILES,
        reverse("admin:scheduling_appointment_changelist"),
        reverse("admin:scheduling_appointment_add"),
        reverse("admin:scheduling_timeblock_changelist"),
        reverse("admin:scheduling_timeblock_add"),
        reverse("admin:audit_auditevent_changelist"),
    ):
        assert client.get(url).status_code == 200, url
    appointment = PendingAppointmentFactory()
    page = client.get(reverse("admin:scheduling_appointment_change", args=[appointment.pk]))
    assert page.status_code == 200


# ---------------------------------------------------------------------------
# Getting in: patients and doctors never; suspension ends a live session
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [PatientFactory, DoctorFactory])
def test_patients_and_doctors_cannot_log_into_the_admin(db, factory):
    user = factory()
    client, response = login_page_post(user.email, DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert response.context["form"].errors  # "enter the correct email and password for staff"
    assert "_auth_user_id" not in client.session
    after = client.get(INDEX)
    assert after.status_code == 302
    assert after["Location"].startswith(LOGIN)


def test_staff_logs_in_with_email_and_password(staff):
    client, response = login_page_post(staff.email.upper(), DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.get(INDEX).status_code == 200


def test_a_suspended_staff_member_cannot_log_in(staff, clinic_admin):
    user_suspend(actor=clinic_admin, user=staff, reason="Left the clinic")
    client, response = login_page_post(staff.email, DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_suspension_ends_a_live_admin_session_on_the_next_request(staff, clinic_admin):
    client = Client()
    assert client.login(email=staff.email, password=DEFAULT_PASSWORD)
    assert client.get(INDEX).status_code == 200
    user_suspend(actor=clinic_admin, user=staff, reason="Left the clinic")
    response = client.get(INDEX)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert client.get(USERS).status_code == 302


def test_admin_login_is_throttled_per_address(staff, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {**SimpleRateThrottle.THROTTLE_RATES, "login": "3/min"},
    )
    client = Client()
    for _ in range(3):
        response = client.post(LOGIN, {"username": staff.email, "password": "wrong"})
        assert response.status_code == 200
    refused = client.post(LOGIN, {"username": staff.email, "password": DEFAULT_PASSWORD})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    assert client.get(LOGIN).status_code == 200  # the form itself still shows


# ---------------------------------------------------------------------------
# The same roles in the API (the full matrices live with the API tests)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "users/{id}/", {"first_name": "Mallory"}),
        ("delete", "users/{id}/", None),
        ("post", "users/{id}/suspend/", {"reason": "Abusive"}),
        ("post", "users/{id}/reactivate/", None),
        ("post", "users/{id}/promote-to-doctor/", {"specialty": "GP"}),
        ("get", "audit/events/", None),
    ],
)
def test_staff_get_403_on_admin_only_endpoints(staff_client, patient, method, path, body):
    url = f"{API}/{path.format(id=patient.pk)}"
    response = getattr(staff_client, method)(url, body, format="json")
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.first_name != "Mallory"
    assert patient.role == User.Role.PATIENT
    assert patient.suspended_at is None
    assert patient.is_active


def test_staff_read_users_and_add_patients_in_the_api(staff_client, patient):
    assert staff_client.get(f"{API}/users/").status_code == 200
    assert staff_client.get(f"{API}/users/{patient.pk}/").status_code == 200
    created = staff_client.post(
        f"{API}/users/",
        {"email": "phone.booking@example.com", "first_name": "P", "last_name": "B"},
        format="json",
    )
    assert created.status_code == 201


def test_admin_reaches_the_admin_only_endpoints(clinic_admin_client, patient):
    assert clinic_admin_client.get(f"{API}/audit/events/").status_code == 200
    response = clinic_admin_client.patch(
        f"{API}/users/{patient.pk}/", {"first_name": "Renamed"}, format="json"
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.first_name == "Renamed"


def test_changing_ones_own_password_in_the_admin_revokes_tokens_and_is_audited(clinic_admin):
    from rest_framework_simplejwt.tokens import RefreshToken

    from audit.models import AuditEvent

    refresh = RefreshToken.for_user(clinic_admin)
    client = Client()
    client.force_login(clinic_admin)
    new_password = "a-Brand-new-passphrase-42"
    response = client.post(
        reverse("admin:password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )

    assert response.status_code == 302
    clinic_admin.refresh_from_db()
    assert clinic_admin.check_password(new_password)
    event = AuditEvent.objects.get(action="auth.password_changed")
    assert (event.actor_id, event.data) == (clinic_admin.pk, {"source": "admin"})
    reused = Client().post(
        "/api/v1/auth/token/refresh/", {"refresh": str(refresh)}, content_type="application/json"
    )
    assert reused.status_code == 401
