"""Security review, round 2 (issue 15): findings 2 and 12 (no refresh token text at rest, token
families with reuse detection and audited refreshes, an absolute session lifetime)."""

from __future__ import annotations

import importlib
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.apps import apps
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import RevokedTokenFamily
from audit.models import AuditEvent
from tests.accounts.helpers import LOGOUT_URL, ME_URL, REFRESH_URL, audit_rows, bearer_client, login
from tests.support.factories import DEFAULT_PASSWORD, PatientFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db


def signed_in(user, **extra: str) -> tuple[str, str]:
    """(access, refresh) from a real login at auth/token/."""
    response = login(user.email, DEFAULT_PASSWORD, **extra)
    assert response.status_code == 200, response.content
    return response.json()["access"], response.json()["refresh"]


def refresh(token: str):
    return APIClient().post(REFRESH_URL, {"refresh": token})


def claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


# ---------------------------------------------------------------------------
# Finding 2: no usable refresh token at rest; refreshes audited; reuse revokes the family
# ---------------------------------------------------------------------------
def test_no_refresh_token_text_is_stored_at_login_or_refresh(patient):
    _, first = signed_in(patient)
    second = refresh(first).json()["refresh"]

    rows = OutstandingToken.objects.filter(user=patient)
    assert rows.count() == 2
    assert set(rows.values_list("jti", flat=True)) == {claims(first)["jti"], claims(second)["jti"]}
    assert set(rows.values_list("token", flat=True)) == {""}


def test_the_admin_shows_no_outstanding_or_blacklisted_tokens(clinic_admin, patient):
    signed_in(patient)
    client = Client()
    client.force_login(clinic_admin)

    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"Outstanding tokens" not in index.content
    assert b"token_blacklist" not in index.content
    for model in ("outstandingtoken", "blacklistedtoken"):
        assert client.get(f"/admin/token_blacklist/{model}/").status_code == 404


def test_the_data_migration_blanks_the_token_text_already_stored(patient):
    stored = OutstandingToken.objects.create(
        user=patient,
        jti="0" * 32,
        token="eyJhbGciOiJIUzI1NiJ9.a-live-token.signature",
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    migration = importlib.import_module("accounts.migrations.0002_refresh_token_families")

    migration.blank_stored_refresh_tokens(apps, None)

    stored.refresh_from_db()
    assert stored.token == ""
    assert stored.jti == "0" * 32  # still there: blacklisting goes by jti


def test_a_refresh_is_audited_with_the_family_never_the_token(patient):
    _, token = signed_in(patient, REMOTE_ADDR="203.0.113.50")

    new = refresh(token).json()["refresh"]

    (event,) = audit_rows("auth.token_refreshed")
    assert event.actor_id == patient.pk
    assert event.target_id == str(patient.pk)
    assert event.data == {"family": claims(token)["family"]}
    assert token not in str(event.data)
    assert new not in str(event.data)


def test_the_family_is_set_at_login_and_carried_by_rotation(patient):
    _, first = signed_in(patient)
    _, other_login = signed_in(patient)
    second = refresh(first).json()["refresh"]
    third = refresh(second).json()["refresh"]

    family = claims(first)["family"]
    assert family
    assert claims(second)["family"] == claims(third)["family"] == family
    assert claims(other_login)["family"] != family


def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(patient):
    _, first = signed_in(patient)
    _, other_session = signed_in(patient)
    second = refresh(first).json()["refresh"]
    third = refresh(second).json()["refresh"]

    reused = refresh(first)  # a stolen copy of a token the owner already rotated

    assert reused.status_code == 401
    assert refresh(third).status_code == 401  # the family's live token died with it
    assert refresh(second).status_code == 401
    (event,) = audit_rows("auth.token_reuse_detected")
    assert event.data == {"family": claims(first)["family"]}
    assert event.target_id == str(patient.pk)
    assert first not in str(event.data)
    # Another login of the same user is another family: untouched.
    assert refresh(other_session).status_code == 200


def test_logout_revokes_the_session_even_with_an_older_token_of_it(patient):
    access, first = signed_in(patient)
    second = refresh(first).json()["refresh"]

    assert bearer_client(access).post(LOGOUT_URL, {"refresh": first}).status_code == 204

    assert refresh(second).status_code == 401
    assert bearer_client(access).get(ME_URL).status_code == 200  # until it expires, by design


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_one_wins_and_the_second_use_revokes_the_family():
    user = PatientFactory()
    _, token = signed_in(user)

    outcomes = race(*(lambda: refresh(token) for _ in range(2)))

    assert sorted(status for status, _ in outcomes) == [200, 401]
    (winner,) = (body for status, body in outcomes if status == 200)
    # One token used twice: whoever sent it, the family ends, the winner's new token with it.
    assert refresh(winner["refresh"]).status_code == 401
    assert RevokedTokenFamily.objects.get().family == claims(token)["family"]
    assert AuditEvent.objects.filter(action="auth.token_reuse_detected").count() == 1
    assert AuditEvent.objects.filter(action="auth.token_refreshed").count() == 1


# ---------------------------------------------------------------------------
# Finding 12: an absolute session lifetime, JWT_SESSION_MAX_DAYS
# ---------------------------------------------------------------------------
def test_the_session_maximum_is_a_setting_of_30_days():
    assert django_settings.JWT_SESSION_MAX_DAYS == 30


def test_rotation_never_extends_a_session_past_its_maximum(patient):
    start = timezone.now().replace(microsecond=0)
    session_end = start + timedelta(days=django_settings.JWT_SESSION_MAX_DAYS)
    with time_machine.travel(start, tick=False):
        _, token = signed_in(patient)
    assert claims(token)["auth_time"] == int(start.timestamp())

    for days in (6, 12, 18, 24, 29):
        with time_machine.travel(start + timedelta(days=days), tick=False):
            response = refresh(token)
        assert response.status_code == 200, days
        token = response.json()["refresh"]
        assert claims(token)["exp"] <= int(session_end.timestamp())
        assert claims(token)["auth_time"] == int(start.timestamp())

    with time_machine.travel(session_end + timedelta(seconds=1), tick=False):
        assert refresh(token).status_code == 401


def test_a_refresh_after_the_session_maximum_is_refused_even_if_the_token_is_unexpired(
    settings, patient
):
    _, token = signed_in(patient)
    settings.JWT_SESSION_MAX_DAYS = 1  # shortened after the login: the token outlives it

    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        response = refresh(token)

    assert response.status_code == 401
    (event,) = audit_rows("auth.refresh_failed")
    assert event.data == {"reason": "session_expired"}
