"""Security review, round 2 (issue 15): accounts findings closed on sec-a (SECURITY.md)."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient

from accounts.services import auth_admin_login_failed
from audit.models import AuditEvent
from tests.accounts.helpers import TOKEN_URL

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


# ---------------------------------------------------------------------------
# Finding 13: photo uploads are throttled per user
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("patient", "/api/v1/auth/me/photo/"),
        ("doctor", "/api/v1/auth/me/photo/"),
        ("doctor", "/api/v1/doctors/me/photo/"),
    ],
)
def test_photo_uploads_are_throttled_per_user(
    request, settings, tmp_path, throttle_rates, role, url
):
    from tests.accounts.test_api_photos import image_bytes, put_photo
    from tests.support.clients import client_for

    settings.MEDIA_ROOT = tmp_path / "media"
    throttle_rates(upload="2/hour")
    client = client_for(request.getfixturevalue(role))
    for _ in range(2):
        assert put_photo(client, image_bytes("JPEG"), url=url).status_code == 200

    refused = put_photo(client, image_bytes("JPEG"), url=url)
    assert refused.status_code == 429
    assert refused["Retry-After"]
    # Deleting is not an upload; another user has their own count.
    assert client.delete(url).status_code == 204
    other = client_for(request.getfixturevalue("other_patient"))
    assert put_photo(other, image_bytes("JPEG")).status_code == 200


def test_the_two_photo_urls_of_a_doctor_share_one_count(settings, tmp_path, throttle_rates, doctor):
    from tests.accounts.test_api_photos import image_bytes, put_photo
    from tests.support.clients import client_for

    settings.MEDIA_ROOT = tmp_path / "media"
    throttle_rates(upload="1/hour")
    client = client_for(doctor)
    assert put_photo(client, image_bytes("JPEG"), url="/api/v1/auth/me/photo/").status_code == 200
    refused = put_photo(client, image_bytes("JPEG"), url="/api/v1/doctors/me/photo/")
    assert refused.status_code == 429


def test_the_upload_throttle_has_a_default_rate(settings):
    assert settings.THROTTLE_UPLOAD == "10/hour"
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["upload"] == "10/hour"
