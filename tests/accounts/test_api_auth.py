"""auth/: registration, tokens, logout, me, passwords, bad tokens, throttles and their audit."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.mails import password_reset_link
from accounts.models import User
from accounts.services import (
    BAD_CREDENTIALS,
    BAD_REFRESH,
    BAD_RESET_LINK,
    EMAIL_TAKEN,
    LOGIN_STRING_SALT,
)
from audit.models import AuditEvent
from tests.accounts.helpers import (
    DOCTORS_URL,
    LOGOUT_URL,
    ME_URL,
    NEW_PASSWORD,
    PASSWORD_CHANGE_URL,
    PASSWORD_RESET_CONFIRM_URL,
    PASSWORD_RESET_URL,
    REFRESH_URL,
    REGISTER_URL,
    RESET_LINK_PATTERN,
    TEST_RESET_URL,
    USER_FIELDS,
    audit_rows,
    bearer_client,
    login,
    reset_link_parts,
    row_counts,
    token_pair,
)
from tests.support.factories import (
    DEFAULT_PASSWORD,
    DoctorFactory,
    InactivePatientFactory,
    PatientFactory,
    SuspendedPatientFactory,
)

pytestmark = pytest.mark.django_db

REGISTRATION = {
    "email": "Foo@Example.com",
    "password": "a-long-enough-pass",
    "first_name": "Fiona",
    "last_name": "Lopez",
    "phone": "+34600123456",
}


def _register(client: APIClient, **overrides) -> object:
    return client.post(REGISTER_URL, {**REGISTRATION, **overrides})


def _assert_unauthenticated(response) -> None:
    assert response.status_code == 401, response.content
    assert "detail" in response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------
def test_register_creates_a_patient_and_returns_the_user_without_tokens(anon_client):
    response = _register(anon_client, role="admin", is_staff=True)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == "foo@example.com"
    assert body["role"] == "patient"
    assert body["is_active"] is True
    assert body["suspended_at"] is None
    assert body["phone"] == "+34600123456"
    assert body["date_joined"].endswith("Z")
    user = User.objects.get(pk=body["id"])
    assert user.email == "foo@example.com"
    assert user.role == User.Role.PATIENT
    assert not user.is_staff
    assert not user.is_superuser
    assert user.check_password(REGISTRATION["password"])
    assert OutstandingToken.objects.count() == 0


def test_register_records_auth_registered(anon_client):
    response = _register(anon_client)

    user_id = response.json()["id"]
    (event,) = audit_rows("auth.registered")
    assert event.actor_id == user_id
    assert event.target_type == "user"
    assert event.target_id == str(user_id)


def test_email_is_one_account_whatever_its_case(anon_client):
    assert _register(anon_client, email="Foo@Example.com").status_code == 201

    response = _register(anon_client, email="foo@example.com")

    assert response.status_code == 400
    assert response.json() == {"email": [EMAIL_TAKEN]}
    assert User.objects.count() == 1
    for email in ("Foo@Example.com", "foo@example.com", "FOO@EXAMPLE.COM"):
        assert login(email, REGISTRATION["password"]).status_code == 200, email


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("short", id="too-short"),
        pytest.param("password123", id="common"),
        pytest.param("48151623424815", id="all-numeric"),
        pytest.param("Foo@Example.com", id="like-the-email"),
    ],
)
def test_register_applies_django_password_validators(anon_client, password):
    response = _register(anon_client, password=password)

    assert response.status_code == 400
    assert set(response.json()) == {"password"}
    assert User.objects.count() == 0


def test_register_accepts_128_characters_and_refuses_129(anon_client):
    too_long = _register(anon_client, password="x7" * 64 + "y")
    assert too_long.status_code == 400
    assert set(too_long.json()) == {"password"}
    assert User.objects.count() == 0

    assert _register(anon_client, password="x7" * 64).status_code == 201


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_registrations_of_one_email_make_one_account():
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def register(email: str, address: str) -> None:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            response = client.post(
                REGISTER_URL, {**REGISTRATION, "email": email}, REMOTE_ADDR=address
            )
            statuses.append(response.status_code)
        except BaseException as error:  # re-raised in the main thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=register, args=("race@example.com", "10.0.0.1")),
        threading.Thread(target=register, args=("RACE@example.com", "10.0.0.2")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert sorted(statuses) == [201, 400]
    assert User.objects.filter(email="race@example.com").count() == 1
    assert AuditEvent.objects.filter(action="auth.registered").count() == 1


# ---------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------
def test_login_returns_an_access_and_refresh_pair_that_work(patient):
    response = login(patient.email, DEFAULT_PASSWORD)

    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    me = bearer_client(tokens["access"]).get(ME_URL)
    assert me.status_code == 200
    assert me.json()["id"] == patient.pk
    refreshed = APIClient().post(REFRESH_URL, {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200


def test_login_records_auth_login_succeeded(patient):
    login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="pytest")

    (event,) = audit_rows("auth.login_succeeded")
    assert event.actor_id == patient.pk
    assert event.target_id == str(patient.pk)
    assert event.ip == "203.0.113.7"
    assert event.user_agent == "pytest"


@pytest.mark.parametrize("case", ["wrong_password", "unknown_email", "inactive", "suspended"])
def test_every_refused_login_is_401_with_the_same_message(case):
    user = {
        "wrong_password": PatientFactory,
        "unknown_email": PatientFactory,
        "inactive": InactivePatientFactory,
        "suspended": SuspendedPatientFactory,
    }[case]()
    email = "nobody@example.com" if case == "unknown_email" else user.email
    password = "not-the-password" if case == "wrong_password" else DEFAULT_PASSWORD

    response = login(email, password)

    _assert_unauthenticated(response)
    assert response.json() == {"detail": BAD_CREDENTIALS}
    assert OutstandingToken.objects.count() == 0


def test_failed_login_audit_keeps_a_valid_email(patient):
    login(patient.email.upper(), "not-the-password")

    (event,) = audit_rows("auth.login_failed")
    assert event.data == {"email": patient.email}
    assert event.actor_id is None
    assert event.target_id == str(patient.pk)


def test_failed_login_audit_hashes_an_email_that_is_not_an_address(db):
    attempted = "hunter2 <script>"

    login(attempted, "whatever")

    (event,) = audit_rows("auth.login_failed")
    keyed = salted_hmac(LOGIN_STRING_SALT, attempted.encode(), algorithm="sha256").hexdigest()
    assert event.data == {"email": keyed}
    assert event.target_id == ""


@pytest.mark.django_db(transaction=True)
def test_failed_login_audit_row_is_committed_despite_the_401():
    user = PatientFactory()

    response = login(user.email, "not-the-password")

    assert response.status_code == 401
    assert AuditEvent.objects.filter(action="auth.login_failed", target_id=str(user.pk)).exists()


# ---------------------------------------------------------------------------
# Refresh
# ---------------------------------------------------------------------------
def test_refresh_rotates_and_the_old_refresh_token_is_dead(patient):
    old_access, old_refresh = token_pair(patient)
    client = APIClient()

    response = client.post(REFRESH_URL, {"refresh": old_refresh})

    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    assert pair["refresh"] != old_refresh
    assert pair["access"] != old_access
    assert bearer_client(pair["access"]).get(ME_URL).status_code == 200
    assert client.post(REFRESH_URL, {"refresh": pair["refresh"]}).status_code == 200
    # (Reusing the old one also revokes its family: test_security_review_b_tokens.py.)
    reused = client.post(REFRESH_URL, {"refresh": old_refresh})
    _assert_unauthenticated(reused)
    assert reused.json() == {"detail": BAD_REFRESH}


def test_refresh_of_a_deleted_users_token_is_401(patient):
    _, refresh = token_pair(patient)
    patient.delete()

    response = APIClient().post(REFRESH_URL, {"refresh": refresh})

    _assert_unauthenticated(response)


@pytest.mark.parametrize("state", ["suspended", "inactive"])
def test_refresh_of_a_suspended_or_inactive_users_token_is_401(patient, state):
    _, refresh = token_pair(patient)
    # Straight to the database: the check must hold even for a token that was not revoked.
    changes = {"suspended": {"suspended_at": timezone.now()}, "inactive": {"is_active": False}}
    User.objects.filter(pk=patient.pk).update(**changes[state])

    response = APIClient().post(REFRESH_URL, {"refresh": refresh})

    _assert_unauthenticated(response)
    (event,) = audit_rows("auth.refresh_failed")
    assert event.data == {"reason": "account"}
    assert event.target_id == str(patient.pk)


def test_refresh_after_the_password_was_set_outside_the_api_is_401(patient):
    _, refresh = token_pair(patient)
    # As the Django admin's password form or `manage.py changepassword` do: no revocation.
    patient.set_password(NEW_PASSWORD)
    patient.save(update_fields=["password"])

    response = APIClient().post(REFRESH_URL, {"refresh": refresh})

    _assert_unauthenticated(response)
    assert OutstandingToken.objects.filter(user=patient).count() == 1


def test_refresh_with_garbage_is_401_and_audited(db):
    response = APIClient().post(REFRESH_URL, {"refresh": "garbage"})

    _assert_unauthenticated(response)
    (event,) = audit_rows("auth.refresh_failed")
    assert event.data == {"reason": "invalid"}


def test_refresh_with_an_access_token_is_401(patient):
    access, _ = token_pair(patient)

    response = APIClient().post(REFRESH_URL, {"refresh": access})

    _assert_unauthenticated(response)
    assert BlacklistedToken.objects.count() == 0


def test_refresh_of_an_expired_refresh_token_is_401(patient):
    _, refresh = token_pair(patient)

    later = timezone.now() + timedelta(days=settings.JWT_REFRESH_DAYS, seconds=1)
    with time_machine.travel(later, tick=False):
        response = APIClient().post(REFRESH_URL, {"refresh": refresh})

    _assert_unauthenticated(response)


def test_reusing_a_rotated_refresh_token_is_audited(patient):
    _, refresh = token_pair(patient)
    client = APIClient()
    client.post(REFRESH_URL, {"refresh": refresh})

    client.post(REFRESH_URL, {"refresh": refresh})

    (event,) = audit_rows("auth.refresh_failed")
    assert event.actor_id is None
    assert event.data == {"reason": "reused"}
    assert event.target_id == str(patient.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_of_one_token_exactly_one_wins():
    user = PatientFactory()
    refresh = RefreshToken.for_user(user)
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def use_refresh_token() -> None:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            statuses.append(client.post(REFRESH_URL, {"refresh": str(refresh)}).status_code)
        except BaseException as error:  # re-raised in the main thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=use_refresh_token) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert sorted(statuses) == [200, 401]
    assert BlacklistedToken.objects.filter(token__jti=refresh["jti"]).count() == 1
    # The winner's new refresh token plus the original one.
    assert OutstandingToken.objects.filter(user=user).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_uses_of_one_reset_link_exactly_one_wins(settings):
    settings.PASSWORD_RESET_URL = TEST_RESET_URL
    user = PatientFactory()
    link = password_reset_link(user)
    uid, token = RESET_LINK_PATTERN.search(link).group("uid", "token")
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def confirm(password: str) -> None:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            body = {"uid": uid, "token": token, "new_password": password}
            statuses.append(client.post(PASSWORD_RESET_CONFIRM_URL, body).status_code)
        except BaseException as error:  # re-raised in the main thread below
            errors.append(error)
        finally:
            connection.close()

    passwords = ["first-racing-passphrase", "second-racing-passphrase"]
    threads = [threading.Thread(target=confirm, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert sorted(statuses) == [204, 400]
    user.refresh_from_db()
    assert sum(user.check_password(p) for p in passwords) == 1
    assert AuditEvent.objects.filter(action="auth.password_reset").count() == 1


# ---------------------------------------------------------------------------
# Logout
# ---------------------------------------------------------------------------
def test_logout_kills_the_refresh_token(patient):
    access, refresh = token_pair(patient)
    client = bearer_client(access)

    response = client.post(LOGOUT_URL, {"refresh": refresh})

    assert response.status_code == 204
    jti = pyjwt.decode(refresh, options={"verify_signature": False})["jti"]
    assert BlacklistedToken.objects.filter(token__jti=jti).exists()
    _assert_unauthenticated(APIClient().post(REFRESH_URL, {"refresh": refresh}))
    (event,) = audit_rows("auth.logout")
    assert event.actor_id == patient.pk


def test_logout_with_an_already_blacklisted_token_is_204(patient):
    access, refresh = token_pair(patient)
    client = bearer_client(access)
    assert client.post(LOGOUT_URL, {"refresh": refresh}).status_code == 204

    response = client.post(LOGOUT_URL, {"refresh": refresh})

    assert response.status_code == 204
    assert BlacklistedToken.objects.count() == 1


def test_logout_with_someone_elses_refresh_token_is_400(patient, other_patient):
    access, _ = token_pair(patient)
    _, their_refresh = token_pair(other_patient)

    response = bearer_client(access).post(LOGOUT_URL, {"refresh": their_refresh})

    assert response.status_code == 400
    assert set(response.json()) == {"refresh"}
    assert BlacklistedToken.objects.count() == 0
    assert APIClient().post(REFRESH_URL, {"refresh": their_refresh}).status_code == 200


@pytest.mark.parametrize("kind", ["garbage", "access_token"])
def test_logout_with_an_invalid_token_is_400(patient, kind):
    access, _ = token_pair(patient)
    token = {"garbage": "not-a-token", "access_token": access}[kind]

    response = bearer_client(access).post(LOGOUT_URL, {"refresh": token})

    assert response.status_code == 400
    assert set(response.json()) == {"refresh"}
    assert BlacklistedToken.objects.count() == 0
    assert not audit_rows("auth.logout")


def test_logout_needs_authentication(patient):
    _, refresh = token_pair(patient)

    _assert_unauthenticated(APIClient().post(LOGOUT_URL, {"refresh": refresh}))
    assert BlacklistedToken.objects.count() == 0


# ---------------------------------------------------------------------------
# me
# ---------------------------------------------------------------------------
def test_me_returns_the_callers_user(patient, patient_client):
    response = patient_client.get(ME_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == patient.pk
    assert body["email"] == patient.email
    assert body["photo_url"] is None


def test_me_patch_changes_only_names_and_phone(patient, patient_client):
    # Names the factory never makes, so that every one of the three fields changes.
    patient.first_name, patient.last_name = "Before", "Unchanged"
    patient.save(update_fields=["first_name", "last_name"])
    response = patient_client.patch(
        ME_URL,
        {
            "first_name": "Ana",
            "last_name": "Ruiz",
            "phone": "+447700900123",
            # (email changes only through a mailed confirmation: test_api_email_change.py)
            "role": "admin",
            "is_active": False,
            "suspended_at": "2030-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["first_name"], body["last_name"], body["phone"]) == (
        "Ana",
        "Ruiz",
        "+447700900123",
    )
    assert body["email"] == patient.email
    assert body["role"] == "patient"
    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name, patient.phone) == (
        "Ana",
        "Ruiz",
        "+447700900123",
    )
    assert patient.email != "stolen@example.com"
    assert patient.role == User.Role.PATIENT
    assert patient.is_active
    assert patient.suspended_at is None
    (event,) = audit_rows("user.updated")
    assert event.actor_id == patient.pk
    assert sorted(event.data["fields"]) == ["first_name", "last_name", "phone"]


@pytest.mark.parametrize(
    "phone", ["0034600123456", "+0123", "+34 600 123 456", "+3460012345678901"]
)
def test_me_patch_with_a_bad_phone_is_400(patient, patient_client, phone):
    before = patient.phone

    response = patient_client.patch(ME_URL, {"phone": phone})

    assert response.status_code == 400
    assert set(response.json()) == {"phone"}
    patient.refresh_from_db()
    assert patient.phone == before


def test_me_needs_authentication(anon_client):
    _assert_unauthenticated(anon_client.get(ME_URL))
    _assert_unauthenticated(anon_client.patch(ME_URL, {"first_name": "X"}))


# ---------------------------------------------------------------------------
# Password change
# ---------------------------------------------------------------------------
def test_password_change_revokes_every_token_and_the_new_password_works(patient):
    access, refresh = token_pair(patient)
    client = bearer_client(access)

    response = client.post(
        PASSWORD_CHANGE_URL, {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 204
    _assert_unauthenticated(APIClient().post(REFRESH_URL, {"refresh": refresh}))
    # CHECK_REVOKE_TOKEN: the live access token carries the old password's hash.
    _assert_unauthenticated(client.get(ME_URL))
    _assert_unauthenticated(login(patient.email, DEFAULT_PASSWORD))
    assert login(patient.email, NEW_PASSWORD).status_code == 200
    (event,) = audit_rows("auth.password_changed")
    assert event.actor_id == patient.pk


def test_password_change_with_a_wrong_current_password_is_400(patient, patient_client):
    response = patient_client.post(
        PASSWORD_CHANGE_URL, {"current_password": "not-it", "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"current_password"}
    patient.refresh_from_db()
    assert patient.check_password(DEFAULT_PASSWORD)
    assert patient_client.get(ME_URL).status_code == 200
    assert not audit_rows("auth.password_changed")


def test_password_change_to_a_weak_password_is_400(patient, patient_client):
    response = patient_client.post(
        PASSWORD_CHANGE_URL, {"current_password": DEFAULT_PASSWORD, "new_password": "12345678"}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"new_password"}
    patient.refresh_from_db()
    assert patient.check_password(DEFAULT_PASSWORD)


def test_password_change_needs_authentication(anon_client):
    response = anon_client.post(
        PASSWORD_CHANGE_URL, {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )

    _assert_unauthenticated(response)


# ---------------------------------------------------------------------------
# Password reset
# ---------------------------------------------------------------------------
def _request_reset(email: str, capture, **extra):
    with capture(execute=True):
        return APIClient().post(PASSWORD_RESET_URL, {"email": email}, **extra)


def _confirm_reset(uid: str, token: str, password: str = NEW_PASSWORD):
    return APIClient().post(
        PASSWORD_RESET_CONFIRM_URL, {"uid": uid, "token": token, "new_password": password}
    )


def test_reset_request_answers_the_same_for_known_and_unknown_emails(
    patient, reset_url, django_capture_on_commit_callbacks
):
    known = _request_reset(patient.email, django_capture_on_commit_callbacks)
    unknown = _request_reset("nobody@example.com", django_capture_on_commit_callbacks)

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [patient.email]


def test_reset_mail_has_text_and_html_with_a_link_from_the_setting_not_the_host(
    patient, reset_url, settings, django_capture_on_commit_callbacks
):
    settings.ALLOWED_HOSTS = ["*"]

    _request_reset(
        patient.email.upper(),
        django_capture_on_commit_callbacks,
        HTTP_HOST="attacker.example",
        HTTP_X_FORWARDED_HOST="attacker.example",
    )

    (message,) = mail.outbox
    uid, token = reset_link_parts(message)
    link = reset_url.format(uid=uid, token=token)
    assert link in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert f'href="{link}"' in html
    assert "attacker.example" not in message.body
    assert "attacker.example" not in html
    # The request records the address; the job that mailed the link records the account.
    (event,) = audit_rows("auth.password_reset_requested")
    assert event.data == {"email": patient.email}
    (mailed,) = audit_rows("auth.password_reset_mailed")
    assert mailed.target_id == str(patient.pk)
    assert mailed.data == {"request": event.pk}


@pytest.mark.parametrize("factory", [SuspendedPatientFactory, InactivePatientFactory])
def test_reset_request_sends_nothing_to_suspended_or_inactive_users(
    factory, reset_url, django_capture_on_commit_callbacks
):
    user = factory()

    response = _request_reset(user.email, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert mail.outbox == []
    (event,) = audit_rows("auth.password_reset_requested")
    assert event.data == {"email": user.email}
    assert list(audit_rows("auth.password_reset_mailed")) == []


def test_reset_request_for_an_unknown_email_sends_nothing_and_is_audited(
    db, reset_url, django_capture_on_commit_callbacks
):
    _request_reset("nobody@example.com", django_capture_on_commit_callbacks)

    assert mail.outbox == []
    (event,) = audit_rows("auth.password_reset_requested")
    assert event.target_id == ""
    assert event.data == {"email": "nobody@example.com"}
    assert list(audit_rows("auth.password_reset_mailed")) == []


def test_reset_confirm_sets_the_password_and_revokes_refresh_tokens(
    patient, reset_url, django_capture_on_commit_callbacks
):
    _, refresh = token_pair(patient)
    _request_reset(patient.email, django_capture_on_commit_callbacks)
    uid, token = reset_link_parts(mail.outbox[0])

    response = _confirm_reset(uid, token)

    assert response.status_code == 204
    assert login(patient.email, NEW_PASSWORD).status_code == 200
    assert login(patient.email, DEFAULT_PASSWORD).status_code == 401
    _assert_unauthenticated(APIClient().post(REFRESH_URL, {"refresh": refresh}))
    (event,) = audit_rows("auth.password_reset")
    assert event.target_id == str(patient.pk)


def test_reset_link_works_only_once(patient, reset_url, django_capture_on_commit_callbacks):
    _request_reset(patient.email, django_capture_on_commit_callbacks)
    uid, token = reset_link_parts(mail.outbox[0])
    assert _confirm_reset(uid, token).status_code == 204

    response = _confirm_reset(uid, token, password="yet-another-long-passphrase")

    assert response.status_code == 400
    assert response.json() == {"token": [BAD_RESET_LINK]}
    assert login(patient.email, NEW_PASSWORD).status_code == 200


def test_reset_link_expires_after_the_timeout(
    patient, reset_url, settings, django_capture_on_commit_callbacks
):
    _request_reset(patient.email, django_capture_on_commit_callbacks)
    uid, token = reset_link_parts(mail.outbox[0])

    expired = timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)
    with time_machine.travel(expired, tick=False):
        response = _confirm_reset(uid, token)

    assert response.status_code == 400
    patient.refresh_from_db()
    assert patient.check_password(DEFAULT_PASSWORD)


def test_reset_link_still_works_just_inside_the_timeout(
    patient, reset_url, settings, django_capture_on_commit_callbacks
):
    _request_reset(patient.email, django_capture_on_commit_callbacks)
    uid, token = reset_link_parts(mail.outbox[0])

    nearly = timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT - 60)
    with time_machine.travel(nearly, tick=False):
        assert _confirm_reset(uid, token).status_code == 204


@pytest.mark.parametrize(
    ("uid", "token"),
    [
        pytest.param("!!!", "{token}", id="undecodable-uid"),
        pytest.param("MTIzNDU2Nzg5", "{token}", id="unknown-uid"),
        pytest.param("OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "{token}", id="huge-uid"),
        pytest.param("YWJj", "{token}", id="non-numeric-uid"),
        pytest.param("{uid}", "abc-123", id="bad-token"),
        pytest.param("{uid}", "{other_token}", id="another-users-token"),
    ],
)
def test_reset_confirm_with_a_bad_uid_or_token_is_400(
    patient, other_patient, reset_url, django_capture_on_commit_callbacks, uid, token
):
    _request_reset(patient.email, django_capture_on_commit_callbacks)
    _request_reset(other_patient.email, django_capture_on_commit_callbacks)
    real_uid, real_token = reset_link_parts(mail.outbox[0])
    _, other_token = reset_link_parts(mail.outbox[1])

    response = _confirm_reset(
        uid.format(uid=real_uid),
        token.format(token=real_token, other_token=other_token),
    )

    assert response.status_code == 400
    assert response.json() == {"token": [BAD_RESET_LINK]}
    patient.refresh_from_db()
    assert patient.check_password(DEFAULT_PASSWORD)
    assert not audit_rows("auth.password_reset")


def test_reset_confirm_with_a_weak_password_is_400_and_the_link_stays_valid(
    patient, reset_url, django_capture_on_commit_callbacks
):
    _request_reset(patient.email, django_capture_on_commit_callbacks)
    uid, token = reset_link_parts(mail.outbox[0])

    weak = _confirm_reset(uid, token, password="password")

    assert weak.status_code == 400
    assert set(weak.json()) == {"new_password"}
    assert _confirm_reset(uid, token).status_code == 204


def test_reset_link_of_a_user_suspended_after_the_mail_is_refused(
    patient, reset_url, django_capture_on_commit_callbacks
):
    _request_reset(patient.email, django_capture_on_commit_callbacks)
    uid, token = reset_link_parts(mail.outbox[0])
    User.objects.filter(pk=patient.pk).update(suspended_at=timezone.now())

    assert _confirm_reset(uid, token).status_code == 400


# ---------------------------------------------------------------------------
# Bad tokens (docs/api-rules.md): 401 everywhere, public endpoints included
# ---------------------------------------------------------------------------
def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def _bad_authorization(case: str) -> str:
    """An Authorization header value that must be refused, for the named case."""
    user = PatientFactory()
    access, refresh = token_pair(user)
    if case == "no_bearer_prefix":
        return access
    if case == "other_scheme":
        return f"Token {access}"
    if case == "bearer_without_token":
        return "Bearer"
    if case == "three_parts":
        return f"Bearer {access} extra"
    if case == "malformed":
        return "Bearer not.a.jwt"
    if case == "expired":
        minted = timezone.now() - timedelta(minutes=settings.JWT_ACCESS_MINUTES, seconds=1)
        with time_machine.travel(minted, tick=False):
            stale, _ = token_pair(user)
        return f"Bearer {stale}"
    if case == "forged_signature":
        forged = pyjwt.encode(_claims(access), "k" * 64, algorithm="HS256")
        return f"Bearer {forged}"
    if case == "alg_none":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"Bearer {header}.{_b64(json.dumps(_claims(access)).encode())}."
    if case == "refresh_as_access":
        return f"Bearer {refresh}"
    if case == "inactive":
        User.objects.filter(pk=user.pk).update(is_active=False)
    elif case == "suspended":
        User.objects.filter(pk=user.pk).update(suspended_at=timezone.now())
    elif case == "deleted":
        user.delete()
    elif case == "password_changed":
        user.set_password(NEW_PASSWORD)
        user.save(update_fields=["password"])
    return f"Bearer {access}"


BAD_TOKEN_CASES = [
    "no_bearer_prefix",
    "other_scheme",
    "bearer_without_token",
    "three_parts",
    "malformed",
    "expired",
    "forged_signature",
    "alg_none",
    "refresh_as_access",
    "inactive",
    "suspended",
    "deleted",
    "password_changed",
]


@pytest.mark.parametrize("path", [ME_URL, DOCTORS_URL], ids=["private", "public"])
@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
def test_a_bad_token_is_401_even_on_a_public_endpoint(case, path):
    DoctorFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=_bad_authorization(case))

    _assert_unauthenticated(client.get(path))


def test_a_bad_token_is_401_on_a_public_write_before_anything_happens(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=_bad_authorization("forged_signature"))
    before = row_counts()

    _assert_unauthenticated(client.post(REGISTER_URL, REGISTRATION))
    assert row_counts() == before


def test_a_good_token_still_works_just_before_it_expires(patient):
    access, _ = token_pair(patient)

    just_before = timezone.now() + timedelta(minutes=settings.JWT_ACCESS_MINUTES, seconds=-5)
    with time_machine.travel(just_before, tick=False):
        assert bearer_client(access).get(ME_URL).status_code == 200


def test_no_authorization_header_on_a_public_endpoint_is_anonymous(anon_client, doctor):
    assert anon_client.get(DOCTORS_URL).status_code == 200


# ---------------------------------------------------------------------------
# Throttles (decided before the view runs)
# ---------------------------------------------------------------------------
def _assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert "detail" in response.json()


def test_the_eleventh_login_from_one_address_within_a_minute_is_429(throttle_rates, patient):
    throttle_rates(login="10/min", login_failures="10/min")
    for _ in range(10):
        assert login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 200

    throttled = login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.1")

    _assert_throttled(throttled)
    assert login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.2").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 200


def test_failed_logins_are_throttled_per_email_across_addresses(throttle_rates, patient):
    throttle_rates(login="100/min", login_failures="3/min", login_failures_email="3/min")
    for n in range(3):
        response = login(patient.email, "wrong-guess", REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert response.status_code == 401

    # Even the right password is refused now, whatever the address or the email's case.
    throttled = login(patient.email.upper(), DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.9")

    _assert_throttled(throttled)
    assert len(audit_rows("auth.login_failed")) == 3
    assert login("someone-else@example.com", "x", REMOTE_ADDR="198.51.100.9").status_code == 401


def test_successful_logins_do_not_count_as_failures(throttle_rates, patient):
    throttle_rates(login="100/min", login_failures="2/min")
    for n in range(5):
        response = login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert response.status_code == 200


def test_registration_is_throttled_per_address(throttle_rates, anon_client):
    throttle_rates(register="5/min")
    for n in range(5):
        response = anon_client.post(
            REGISTER_URL, {**REGISTRATION, "email": f"new{n}@example.com"}, REMOTE_ADDR="1.2.3.4"
        )
        assert response.status_code == 201

    throttled = anon_client.post(
        REGISTER_URL, {**REGISTRATION, "email": "new9@example.com"}, REMOTE_ADDR="1.2.3.4"
    )

    _assert_throttled(throttled)
    assert not User.objects.filter(email="new9@example.com").exists()


def test_password_reset_is_throttled_per_address(
    throttle_rates, patient, reset_url, django_capture_on_commit_callbacks
):
    throttle_rates(password_reset="5/hour")
    for n in range(5):
        response = _request_reset(
            f"nobody{n}@example.com", django_capture_on_commit_callbacks, REMOTE_ADDR="1.2.3.4"
        )
        assert response.status_code == 202

    throttled = _request_reset(
        patient.email, django_capture_on_commit_callbacks, REMOTE_ADDR="1.2.3.4"
    )

    _assert_throttled(throttled)
    assert mail.outbox == []


def test_password_reset_is_throttled_per_email_across_addresses(
    throttle_rates, patient, reset_url, django_capture_on_commit_callbacks
):
    throttle_rates(password_reset="5/hour", password_reset_email="5/hour")
    for n in range(5):
        response = _request_reset(
            patient.email, django_capture_on_commit_callbacks, REMOTE_ADDR=f"10.0.0.{n + 1}"
        )
        assert response.status_code == 202

    throttled = _request_reset(
        patient.email.upper(), django_capture_on_commit_callbacks, REMOTE_ADDR="10.0.0.99"
    )

    _assert_throttled(throttled)
    assert len(mail.outbox) == 5


def test_password_change_is_throttled_per_user(throttle_rates, patient, patient_client):
    throttle_rates(password_change="5/min")
    wrong = {"current_password": "wrong", "new_password": NEW_PASSWORD}
    for _ in range(5):
        assert patient_client.post(PASSWORD_CHANGE_URL, wrong).status_code == 400

    right = {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    throttled = patient_client.post(PASSWORD_CHANGE_URL, right)

    _assert_throttled(throttled)
    patient.refresh_from_db()
    assert patient.check_password(DEFAULT_PASSWORD)


# ---------------------------------------------------------------------------
# Audit: no secret reaches an audit row
# ---------------------------------------------------------------------------
def test_no_password_or_token_reaches_the_audit_log(
    anon_client, reset_url, django_capture_on_commit_callbacks
):
    first, second, third = "first-long-passphrase", NEW_PASSWORD, "third-long-passphrase"
    secrets = {first, second, third, "a-wrong-guess-passphrase"}

    _register(anon_client, password=first)
    login("foo@example.com", "a-wrong-guess-passphrase")
    login("a-wrong-guess-passphrase", first)
    tokens = login("foo@example.com", first).json()
    rotated = APIClient().post(REFRESH_URL, {"refresh": tokens["refresh"]}).json()
    APIClient().post(REFRESH_URL, {"refresh": tokens["refresh"]})
    client = bearer_client(rotated["access"])
    client.post(LOGOUT_URL, {"refresh": rotated["refresh"]})
    client.post(PASSWORD_CHANGE_URL, {"current_password": first, "new_password": second})
    _request_reset("foo@example.com", django_capture_on_commit_callbacks)
    uid, reset_token = reset_link_parts(mail.outbox[0])
    assert _confirm_reset(uid, reset_token, password=third).status_code == 204
    secrets |= {tokens["access"], tokens["refresh"], rotated["access"], rotated["refresh"]}
    secrets |= {reset_token}

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert actions >= {
        "auth.registered",
        "auth.login_failed",
        "auth.login_succeeded",
        "auth.refresh_failed",
        "auth.logout",
        "auth.password_changed",
        "auth.password_reset_requested",
        "auth.password_reset",
    }
    for event in AuditEvent.objects.all():
        dumped = json.dumps(event.data)
        for secret in secrets:
            assert secret not in dumped, (event.action, secret)
