"""Changing one's own email: PATCH auth/me/ mails a link to the new address; the change
happens only when the link is confirmed (POST auth/email/confirm/ or the portal page's POST)."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import BAD_EMAIL_CHANGE_LINK, EMAIL_TAKEN, WRONG_CURRENT_PASSWORD
from audit.models import AuditEvent
from tests.accounts.helpers import (
    ME_URL,
    REFRESH_URL,
    audit_rows,
    login,
    row_counts,
    token_pair,
)
from tests.support.factories import DEFAULT_PASSWORD, PatientFactory

pytestmark = pytest.mark.django_db

CONFIRM_URL = "/api/v1/auth/email/confirm/"
NEW_EMAIL = "New.Address@Example.com"
LINK = re.compile(r"(?P<base>https?://[^\s/]+)/portal/email/confirm/(?P<token>[^/\s]+)/")
ROLES = ["anon", "patient", "doctor", "staff", "admin"]


@pytest.fixture
def base_url(settings):
    settings.PUBLIC_BASE_URL = "https://medappt.example.test"
    return settings.PUBLIC_BASE_URL


def request_change(client, email: str = NEW_EMAIL, password: str = DEFAULT_PASSWORD, **extra):
    return client.patch(ME_URL, {"email": email, "current_password": password, **extra})


def mailed_token(capture, client, **kwargs) -> str:
    with capture(execute=True):
        response = request_change(client, **kwargs)
    assert response.status_code == 202, response.content
    (message,) = mail.outbox
    match = LINK.search(message.body)
    assert match, message.body
    return match["token"]


# ---------------------------------------------------------------------------
# Requesting
# ---------------------------------------------------------------------------
def test_request_mails_a_link_to_the_new_address_and_changes_nothing(
    patient, patient_client, base_url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = request_change(patient_client)

    assert response.status_code == 202
    assert set(response.json()) == {"detail"}
    (message,) = mail.outbox
    assert message.to == ["new.address@example.com"]
    assert LINK.search(message.body)["base"] == base_url
    assert LINK.search(message.alternatives[0][0])
    patient.refresh_from_db()
    assert patient.email != "new.address@example.com"
    (event,) = audit_rows("user.email_change_requested")
    assert event.actor_id == patient.pk
    assert event.data == {}


def test_request_also_applies_the_other_fields(patient, patient_client):
    response = request_change(patient_client, first_name="Renamed")

    assert response.status_code == 202
    patient.refresh_from_db()
    assert patient.first_name == "Renamed"


def test_the_same_address_in_any_case_is_an_ordinary_update(patient, patient_client):
    response = patient_client.patch(ME_URL, {"email": patient.email.upper(), "first_name": "Al"})

    assert response.status_code == 200
    assert response.json()["first_name"] == "Al"
    assert mail.outbox == []


@pytest.mark.parametrize("password", ["", "wrong-password"])
def test_a_wrong_or_missing_current_password_is_400(patient_client, password):
    before = row_counts()

    response = request_change(patient_client, password=password)

    assert response.status_code == 400
    assert response.json() == {"current_password": [WRONG_CURRENT_PASSWORD]}
    assert row_counts() == before
    assert mail.outbox == []


def test_without_current_password_is_400(patient_client):
    response = patient_client.patch(ME_URL, {"email": NEW_EMAIL})

    assert response.status_code == 400
    assert set(response.json()) == {"current_password"}


def test_a_taken_address_in_any_case_is_400(patient_client, other_patient):
    response = request_change(patient_client, email=other_patient.email.upper())

    assert response.status_code == 400
    assert response.json() == {"email": [EMAIL_TAKEN]}
    assert mail.outbox == []


def test_a_malformed_address_is_400(patient_client):
    response = request_change(patient_client, email="not-an-email")

    assert response.status_code == 400
    assert set(response.json()) == {"email"}


@pytest.mark.parametrize("role", ROLES)
def test_every_signed_in_role_may_ask_and_anonymous_may_not(role_clients, role):
    response = request_change(role_clients[role])

    assert response.status_code == (401 if role == "anon" else 202)


# ---------------------------------------------------------------------------
# Confirming
# ---------------------------------------------------------------------------
def test_confirm_changes_the_email_ends_sessions_and_notifies_the_old_address(
    patient, patient_client, django_capture_on_commit_callbacks
):
    old_email = patient.email
    _, refresh = token_pair(patient)
    token = mailed_token(django_capture_on_commit_callbacks, patient_client)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(CONFIRM_URL, {"token": token})

    assert response.status_code == 200, response.content
    assert response.json()["email"] == "new.address@example.com"
    patient.refresh_from_db()
    assert patient.email == "new.address@example.com"
    assert APIClient().post(REFRESH_URL, {"refresh": refresh}).status_code == 401
    assert login("new.address@example.com", DEFAULT_PASSWORD).status_code == 200
    assert login(old_email, DEFAULT_PASSWORD).status_code == 401
    (notice,) = mail.outbox
    assert notice.to == [old_email]
    assert "new.address@example.com" not in notice.body
    (event,) = audit_rows("user.email_changed")
    assert (event.actor_id, event.target_id, event.data) == (
        patient.pk,
        str(patient.pk),
        {"fields": ["email"]},
    )
    assert old_email not in str(event.data)


def test_a_link_works_once(patient_client, django_capture_on_commit_callbacks):
    token = mailed_token(django_capture_on_commit_callbacks, patient_client)
    assert APIClient().post(CONFIRM_URL, {"token": token}).status_code == 200

    response = APIClient().post(CONFIRM_URL, {"token": token})

    assert response.status_code == 400
    assert response.json() == {"token": [BAD_EMAIL_CHANGE_LINK]}
    assert len(audit_rows("user.email_changed")) == 1


def test_a_link_dies_after_password_reset_timeout(
    patient, patient_client, django_capture_on_commit_callbacks
):
    token = mailed_token(django_capture_on_commit_callbacks, patient_client)
    later = timezone.now() + timezone.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)

    with time_machine.travel(later, tick=False):
        response = APIClient().post(CONFIRM_URL, {"token": token})

    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    patient.refresh_from_db()
    assert patient.email != "new.address@example.com"


@pytest.mark.parametrize("token", ["", "x", "abc:def:ghi", "a" * 1001])
def test_a_forged_or_malformed_token_is_400(token):
    response = APIClient().post(CONFIRM_URL, {"token": token})

    assert response.status_code == 400
    assert set(response.json()) == {"token"}


def test_an_older_link_dies_when_a_newer_one_was_confirmed(
    patient_client, django_capture_on_commit_callbacks
):
    first = mailed_token(django_capture_on_commit_callbacks, patient_client)
    mail.outbox.clear()
    second = mailed_token(
        django_capture_on_commit_callbacks, patient_client, email="other.new@example.com"
    )
    assert APIClient().post(CONFIRM_URL, {"token": second}).status_code == 200

    assert APIClient().post(CONFIRM_URL, {"token": first}).status_code == 400


def test_an_address_taken_before_confirming_is_400(
    patient, patient_client, django_capture_on_commit_callbacks
):
    token = mailed_token(django_capture_on_commit_callbacks, patient_client)
    PatientFactory(email="new.address@example.com")

    response = APIClient().post(CONFIRM_URL, {"token": token})

    assert response.status_code == 400
    assert response.json() == {"email": [EMAIL_TAKEN]}


def test_a_suspended_account_cannot_confirm(
    patient, patient_client, django_capture_on_commit_callbacks
):
    token = mailed_token(django_capture_on_commit_callbacks, patient_client)
    User.objects.filter(pk=patient.pk).update(suspended_at=timezone.now())

    assert APIClient().post(CONFIRM_URL, {"token": token}).status_code == 400


# ---------------------------------------------------------------------------
# The page the mailed link opens
# ---------------------------------------------------------------------------
def test_the_page_confirms_on_post_only(
    patient, patient_client, django_capture_on_commit_callbacks
):
    token = mailed_token(django_capture_on_commit_callbacks, patient_client)
    browser = Client(enforce_csrf_checks=True)
    path = f"/portal/email/confirm/{token}/"

    page = browser.get(path)
    assert page.status_code == 200
    assert b"<form" in page.content
    assert "no-store" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    patient.refresh_from_db()
    assert patient.email != "new.address@example.com"
    assert not AuditEvent.objects.filter(action="user.email_changed").exists()

    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)[1].decode()
    done = browser.post(path, {"csrfmiddlewaretoken": csrf})

    assert done.status_code == 200
    assert b"new.address@example.com" in done.content
    patient.refresh_from_db()
    assert patient.email == "new.address@example.com"

    again = browser.post(path, {"csrfmiddlewaretoken": csrf})
    assert again.status_code == 400
    assert BAD_EMAIL_CHANGE_LINK.encode() in again.content


def test_the_page_refuses_a_post_without_csrf(patient_client, django_capture_on_commit_callbacks):
    token = mailed_token(django_capture_on_commit_callbacks, patient_client)

    response = Client(enforce_csrf_checks=True).post(f"/portal/email/confirm/{token}/")

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="user.email_changed").exists()
