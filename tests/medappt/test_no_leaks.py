"""Nothing secret leaks (SECURITY.md): passwords, tokens and reset links never
reach a log record, an audit event, the field history or an error body; a crash under /api/
answers JSON without a traceback."""

from __future__ import annotations

import json
import logging

import pytest
from auditlog.models import LogEntry
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEvent
from core.middleware import HEALTH_VIEWS
from tests.accounts.helpers import TEST_RESET_URL, reset_link_parts
from tests.support.factories import DEFAULT_PASSWORD, PatientFactory, StaffFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
FIRST = "first-Long-passphrase-4821"
SECOND = "second-Long-passphrase-9313"
THIRD = "third-Long-passphrase-7730"
WRONG = "wrong-Guess-passphrase-5567"
EMAIL = "leak.check@example.com"


@pytest.fixture
def everything_logged(caplog):
    """Capture every record of every logger down to DEBUG, as a verbose deployment would."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def rendered(record: logging.LogRecord) -> str:
    """All a handler could write for the record: message, arguments, traceback, extras."""
    text = [logging.Formatter().format(record), repr(record.args)]
    text += [repr(value) for key, value in vars(record).items() if key not in ("msg", "args")]
    return "\n".join(text)


def token_secrets(*tokens: str) -> set[str]:
    """Each token, and its signature on its own (a log line might keep only part)."""
    return set(tokens) | {token.rsplit(".", 1)[-1] for token in tokens}


def assert_nothing_secret(secrets: set[str], caplog, error_bodies: list[bytes]) -> None:
    secrets = {secret for secret in secrets if secret}
    assert caplog.records, "logging was not captured"
    for record in caplog.records:
        text = rendered(record)
        for secret in secrets:
            assert secret not in text, (record.name, record.getMessage(), secret)
    for row in AuditEvent.objects.values():
        dumped = json.dumps(row, default=str)
        for secret in secrets:
            assert secret not in dumped, (row["action"], secret)
    for row in LogEntry.objects.values():
        dumped = json.dumps(row, default=str)
        for secret in secrets:
            assert secret not in dumped, (row["object_repr"], secret)
    for body in error_bodies:
        text = body.decode("utf-8", "replace")
        assert "Traceback" not in text
        for secret in secrets:
            assert secret not in text, (text, secret)


def test_no_secret_of_the_account_lifecycle_leaks(
    everything_logged, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_URL = TEST_RESET_URL
    anon = APIClient()
    responses = []

    def send(client: APIClient, path: str, data: dict, expected: int):
        response = client.post(f"{API}/{path}", data)
        assert response.status_code == expected, (path, response.content)
        responses.append(response)
        return response

    send(anon, "auth/register/", {"email": EMAIL, "password": FIRST, "first_name": "Li"}, 400)
    send(
        anon,
        "auth/register/",
        {"email": EMAIL, "password": FIRST, "first_name": "Lia", "last_name": "Check"},
        201,
    )
    send(anon, "auth/token/", {"email": EMAIL, "password": WRONG}, 401)
    send(anon, "auth/token/", {"email": WRONG, "password": FIRST}, 401)
    first = send(anon, "auth/token/", {"email": EMAIL, "password": FIRST}, 200).json()
    rotated = send(anon, "auth/token/refresh/", {"refresh": first["refresh"]}, 200).json()
    send(anon, "auth/token/refresh/", {"refresh": first["refresh"]}, 401)  # reused
    send(anon, "auth/token/refresh/", {"refresh": first["access"]}, 401)  # wrong kind
    user = APIClient()
    user.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated['access']}")
    send(user, "auth/password/change/", {"current_password": WRONG, "new_password": SECOND}, 400)
    send(user, "auth/password/change/", {"current_password": FIRST, "new_password": "12345"}, 400)
    send(user, "auth/password/change/", {"current_password": FIRST, "new_password": SECOND}, 204)
    with django_capture_on_commit_callbacks(execute=True):
        send(anon, "auth/password/reset/", {"email": EMAIL}, 202)
    (message,) = mail.outbox
    uid, reset_token = reset_link_parts(message)
    link = TEST_RESET_URL.format(uid=uid, token=reset_token)
    bad_confirm = {"uid": uid, "token": reset_token + "x", "new_password": THIRD}
    send(anon, "auth/password/reset/confirm/", bad_confirm, 400)
    send(anon, "auth/password/reset/confirm/", {**bad_confirm, "token": reset_token}, 204)
    send(anon, "auth/password/reset/confirm/", {**bad_confirm, "token": reset_token}, 400)
    last = send(anon, "auth/token/", {"email": EMAIL, "password": THIRD}, 200).json()
    user.credentials(HTTP_AUTHORIZATION=f"Bearer {last['access']}")
    send(user, "auth/logout/", {"refresh": last["refresh"]}, 204)
    send(user, "auth/logout/", {"refresh": "garbage." + last["refresh"]}, 400)

    secrets = {FIRST, SECOND, THIRD, WRONG, reset_token, link, f"{uid}/{reset_token}"}
    secrets |= token_secrets(*first.values(), *rotated.values(), *last.values())
    assert_nothing_secret(
        secrets,
        everything_logged,
        [response.content for response in responses if response.status_code >= 400],
    )
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert actions >= {
        "auth.registered",
        "auth.login_failed",
        "auth.login_succeeded",
        "auth.refresh_failed",
        "auth.password_changed",
        "auth.password_reset_requested",
        "auth.password_reset",
        "auth.logout",
    }
    assert LogEntry.objects.filter(object_pk=str(User.objects.get(email=EMAIL).pk)).exists()


def test_no_secret_of_an_admin_login_leaks(everything_logged, client):
    staff = StaffFactory()
    response = client.post("/admin/login/", {"username": staff.email, "password": WRONG})
    assert response.status_code == 200
    response = client.post("/admin/login/", {"username": staff.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302

    assert_nothing_secret({WRONG, DEFAULT_PASSWORD}, everything_logged, [])
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 1


# ---------------------------------------------------------------------------
# An unhandled exception: JSON under /api/, no traceback, nothing of the request echoed
# ---------------------------------------------------------------------------
@pytest.fixture
def crashing_registration(monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("simulated failure deep in a service")

    monkeypatch.setattr("accounts.views.services.user_register", crash)


def test_a_crash_under_the_api_is_a_json_500_without_a_traceback(
    everything_logged, crashing_registration, settings
):
    assert settings.DEBUG is False
    client = APIClient(raise_request_exception=False)
    payload = {"email": EMAIL, "password": FIRST, "first_name": "Li", "last_name": "Check"}

    response = client.post(f"{API}/auth/register/", payload, HTTP_X_REQUEST_ID="crash-0001")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"}
    assert response["X-Request-ID"] == "crash-0001"
    text = response.content.decode()
    for fragment in ("Traceback", "RuntimeError", "simulated failure", "File ", FIRST, EMAIL):
        assert fragment not in text
    assert response["X-Content-Type-Options"] == "nosniff"
    # Operators get the traceback in the log, with the request id, and still no password.
    errors = [r for r in everything_logged.records if r.name == "django.request"]
    assert errors
    assert errors[0].exc_info is not None
    assert_nothing_secret({FIRST}, everything_logged, [response.content])


def test_a_crash_of_an_authenticated_request_does_not_log_its_token(everything_logged, monkeypatch):
    patient = PatientFactory()
    tokens = APIClient().post(
        f"{API}/auth/token/", {"email": patient.email, "password": DEFAULT_PASSWORD}
    )
    access = tokens.json()["access"]

    def crash(**kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("accounts.views.services.user_update", crash)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    response = client.patch(f"{API}/auth/me/", {"first_name": "New"})

    assert response.status_code == 500
    assert set(response.json()) == {"detail"}
    assert_nothing_secret(
        token_secrets(access, tokens.json()["refresh"]) | {DEFAULT_PASSWORD},
        everything_logged,
        [response.content],
    )


def test_a_crash_outside_the_api_keeps_djangos_plain_page_without_a_traceback(
    everything_logged, monkeypatch
):
    def crash(request):
        raise RuntimeError("simulated failure")

    monkeypatch.setitem(HEALTH_VIEWS, "/healthz", crash)
    client = APIClient(raise_request_exception=False)

    response = client.get("/healthz")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Traceback" not in response.content
    assert b"simulated failure" not in response.content


# ---------------------------------------------------------------------------
# Errors Django answers itself (outside DRF) are JSON under /api/ too
# ---------------------------------------------------------------------------
def test_a_refused_host_under_the_api_is_a_json_400(anon_client):
    response = anon_client.get(f"{API}/doctors/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


def test_a_refused_host_elsewhere_keeps_djangos_page(anon_client):
    response = anon_client.get("/admin/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_an_unknown_api_path_posted_without_a_csrf_token_is_a_json_404():
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/v1/nope/", {"a": 1})
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
