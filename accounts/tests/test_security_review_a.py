"""Security review, round 2 (issue 15): accounts findings closed on sec-a (SECURITY.md)."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient

from accounts.services import auth_admin_login_failed
from accounts.tests.helpers import TOKEN_URL
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------
# Finding 9: a non-email login string is never stored as a bare sha256
# ---------------------------------------------------------------------------
def _failed_login_digest() -> str:
    event = AuditEvent.objects.filter(action="auth.login_failed").order_by("-id").first()
    return event.data["email"]


@pytest.mark.parametrize("attempted", ["hunter2", "correct horse battery staple", "Zoë 2026!"])
def test_a_password_typed_as_the_email_is_not_stored_as_its_sha256(attempted):
    APIClient().post(TOKEN_URL, {"email": attempted, "password": "x"}, format="json")

    stored = _failed_login_digest()
    assert stored != hashlib.sha256(attempted.encode()).hexdigest()
    assert attempted not in stored
    assert len(stored) == 64  # still one opaque digest per string, so repeats correlate


def test_the_digest_is_keyed_by_the_server(settings):
    APIClient().post(TOKEN_URL, {"email": "hunter2", "password": "x"}, format="json")
    first = _failed_login_digest()

    settings.SECRET_KEY = "another-server-secret-for-this-test"
    APIClient().post(TOKEN_URL, {"email": "hunter2", "password": "x"}, format="json")
    assert _failed_login_digest() != first


def test_the_admin_login_keys_its_digest_the_same_way():
    auth_admin_login_failed(email="hunter2")
    assert _failed_login_digest() != hashlib.sha256(b"hunter2").hexdigest()
