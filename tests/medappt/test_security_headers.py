"""Browser-facing hardening on the API (SECURITY.md): security headers on every
kind of answer, and CORS only for the configured origins."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

APP_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://evil.example.net"
DOCTORS_URL = "/api/v1/doctors/"
REGISTER_URL = "/api/v1/auth/register/"


def assert_security_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", DOCTORS_URL, 200),
        ("get", "/api/v1/users/", 401),
        ("get", "/api/v1/nope/", 404),
        ("put", "/api/v1/auth/me/", 405),
        ("post", REGISTER_URL, 400),
        ("get", "/api/schema/", 200),
    ],
)
def test_api_responses_carry_the_security_headers(anon_client, method, url, status):
    response = getattr(anon_client, method)(url)
    assert response.status_code == status
    assert_security_headers(response)


def test_the_early_413_carries_the_security_headers_too(anon_client, settings):
    response = anon_client.generic(
        "POST",
        REGISTER_URL,
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.MAX_JSON_BODY_BYTES + 1),
    )
    assert response.status_code == 413
    assert_security_headers(response)


def test_the_admin_login_page_cannot_be_framed(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert_security_headers(response)


def test_hsts_is_sent_on_https_without_debug(anon_client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = anon_client.get(DOCTORS_URL, secure=True)
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


def test_plain_http_is_redirected_to_https_but_probes_are_not(anon_client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = anon_client.get(DOCTORS_URL)
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/v1/doctors/"
    assert anon_client.get("/healthz").status_code == 200


# ---------------------------------------------------------------------------
# CORS: CORS_ALLOWED_ORIGINS only, /api/ only
# ---------------------------------------------------------------------------
@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP_ORIGIN]


def test_an_allowed_origin_may_read_api_responses(anon_client, cors):
    response = anon_client.get(DOCTORS_URL, HTTP_ORIGIN=APP_ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_another_origin_gets_no_cors_grant(anon_client, cors):
    response = anon_client.get(DOCTORS_URL, HTTP_ORIGIN=OTHER_ORIGIN)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_an_allowed_origin_passes_the_preflight_for_an_authenticated_write(anon_client, cors):
    response = anon_client.options(
        "/api/v1/appointments/",
        HTTP_ORIGIN=APP_ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "authorization" in response["Access-Control-Allow-Headers"]


def test_another_origin_fails_the_preflight(anon_client, cors):
    response = anon_client.options(
        "/api/v1/appointments/",
        HTTP_ORIGIN=OTHER_ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert "Access-Control-Allow-Origin" not in response


def test_no_origin_is_allowed_by_default(anon_client):
    response = anon_client.get(DOCTORS_URL, HTTP_ORIGIN=APP_ORIGIN)
    assert "Access-Control-Allow-Origin" not in response


def test_cors_covers_only_the_api_not_the_admin(client, cors):
    response = client.get("/admin/login/", HTTP_ORIGIN=APP_ORIGIN)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
