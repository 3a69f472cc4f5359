"""Request ids, the per-request log line, client_ip() and the audit context (docs/operations.md)."""

import logging
import re

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.test import RequestFactory

from accounts.models import User
from audit.models import AuditEvent
from core.context import client_ip

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
LOG_LINE = re.compile(
    r"(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms "
    r"request_id=(?P<request_id>[0-9a-f]{32})"
    r"(?: client_request_id=(?P<client_request_id>[A-Za-z0-9-]{8,64}))?"
)


def request_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "medappt.request"]


# ---------------------------------------------------------------------------
# X-Request-ID
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", "/api/v1/doctors/", 200),
        ("get", "/api/v1/users/", 401),
        ("get", "/api/nope/", 404),
        ("put", "/api/v1/auth/me/", 405),
        ("get", "/healthz", 200),
        ("get", "/readyz", 200),
        ("get", "/not-the-api/", 404),
    ],
)
def test_every_response_carries_a_request_id(anon_client, method, url, status):
    response = getattr(anon_client, method)(url)
    assert response.status_code == status
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])


def test_a_refused_host_still_gets_a_request_id(anon_client):
    response = anon_client.get("/api/v1/doctors/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])


def test_each_request_gets_its_own_generated_id(anon_client):
    first = anon_client.get("/api/v1/doctors/")["X-Request-ID"]
    second = anon_client.get("/api/v1/doctors/")["X-Request-ID"]
    assert first != second


@pytest.mark.parametrize(
    "incoming", ["abcd1234", "req-123-ABC-def", "a" * 64, "0f8e2c44-3b1e-4c8a-9d8f-1b2c3d4e5f60"]
)
def test_well_formed_incoming_request_id_is_echoed(anon_client, incoming):
    response = anon_client.get("/api/v1/doctors/", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        *("", "a" * 65, "has space", "semi;colon", "new\\nline", "ünïcode", "<script>", "a/b"),
        *("abc", "req-123_ABC.def"),  # too short; `.` and `_` are no longer accepted
    ],
)
def test_malformed_incoming_request_id_is_replaced(anon_client, incoming):
    response = anon_client.get("/api/v1/doctors/", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] != incoming
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])


# ---------------------------------------------------------------------------
# One log line per request
# ---------------------------------------------------------------------------
def test_one_log_line_per_request_with_method_path_status_duration_and_id(anon_client, caplog):
    caplog.set_level(logging.INFO, logger="medappt.request")
    response = anon_client.get("/api/v1/doctors/?search=house", HTTP_X_REQUEST_ID="trace-0001")
    assert response.status_code == 200

    lines = request_lines(caplog)
    assert len(lines) == 1
    match = LOG_LINE.fullmatch(lines[0].getMessage())
    assert match, lines[0].getMessage()
    assert match["method"] == "GET"
    assert match["path"] == "/api/v1/doctors/"
    assert match["status"] == "200"
    assert float(match["ms"]) >= 0
    assert match["client_request_id"] == "trace-0001"  # beside the server's own request_id
    assert lines[0].levelno == logging.INFO


def test_log_line_names_the_error_status_and_the_generated_id(anon_client, caplog):
    caplog.set_level(logging.INFO, logger="medappt.request")
    response = anon_client.post("/api/v1/users/", {})
    assert response.status_code == 401

    (line,) = request_lines(caplog)
    match = LOG_LINE.fullmatch(line.getMessage())
    assert match["method"] == "POST"
    assert match["status"] == "401"
    assert match["request_id"] == response["X-Request-ID"]


def test_log_line_has_no_query_string_or_token(anon_client, caplog, patient):
    caplog.set_level(logging.DEBUG)
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer secret.jwt.value")
    anon_client.get("/api/v1/doctors/?token=reset-token-123&uid=MQ&search=x")

    (line,) = request_lines(caplog)
    message = line.getMessage()
    assert "?" not in message
    assert "reset-token-123" not in message
    assert "uid=" not in message
    for record in caplog.records:
        assert "secret.jwt.value" not in record.getMessage()
        assert "reset-token-123" not in record.getMessage()


def test_a_path_cannot_forge_a_second_log_line(anon_client, caplog):
    caplog.set_level(logging.INFO, logger="medappt.request")
    anon_client.get("/api/v1/doctors/%0A2030-01-01%20INFO%20medappt.request%20GET%20/x%20200")
    (line,) = request_lines(caplog)
    message = line.getMessage()
    assert "\n" not in message
    assert "\r" not in message
    assert LOG_LINE.fullmatch(message)["status"] == "404"


def test_health_probes_are_logged_too(anon_client, caplog):
    caplog.set_level(logging.INFO, logger="medappt.request")
    anon_client.get("/healthz")
    (line,) = request_lines(caplog)
    assert LOG_LINE.fullmatch(line.getMessage())["path"] == "/healthz"


# ---------------------------------------------------------------------------
# client_ip()
# ---------------------------------------------------------------------------
def request_with(remote_addr: str = "10.0.0.1", forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


def test_client_ip_without_trusted_proxies_ignores_a_forged_forwarded_for(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_with("10.0.0.1", "6.6.6.6")) == "10.0.0.1"
    assert client_ip(request_with("10.0.0.1")) == "10.0.0.1"


def test_client_ip_with_one_proxy_is_the_last_forwarded_entry(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_with("10.0.0.1", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    assert client_ip(request_with("10.0.0.1", "198.51.100.7")) == "198.51.100.7"


def test_client_ip_with_two_proxies_is_the_second_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    forwarded = "6.6.6.6, 198.51.100.7, 10.1.1.1"
    assert client_ip(request_with("10.0.0.1", forwarded)) == "198.51.100.7"


@pytest.mark.parametrize("forwarded", [None, "", "198.51.100.7", " , "])
def test_client_ip_with_fewer_entries_than_proxies_is_remote_addr(settings, forwarded):
    settings.TRUSTED_PROXY_COUNT = 2
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_with("10.0.0.1", forwarded)) == "10.0.0.1"


def test_client_ip_accepts_ipv6(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_with("10.0.0.1", "2001:db8::1")) == "2001:db8::1"


@pytest.mark.parametrize("bad", ["unknown", "1.2.3.4:5678", "<script>", "999.1.1.1"])
def test_client_ip_never_returns_something_that_is_not_an_address(settings, bad):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_with("10.0.0.1", bad)) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_with(bad)) is None


# ---------------------------------------------------------------------------
# Audit context
# ---------------------------------------------------------------------------
REGISTRATION = {
    "email": "context@example.com",
    "password": "a-long-enough-pass",
    "first_name": "Con",
    "last_name": "Text",
}


def test_audit_rows_carry_the_request_ip_user_agent_and_request_id(anon_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = anon_client.post(
        "/api/v1/auth/register/",
        REGISTRATION,
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7",
        HTTP_USER_AGENT="MedApp/2.1 (iPhone)",
        HTTP_X_REQUEST_ID="reg-00042",
    )
    assert response.status_code == 201

    event = AuditEvent.objects.get(action="auth.registered")
    assert event.ip == "198.51.100.7"
    assert event.user_agent == "MedApp/2.1 (iPhone)"
    assert GENERATED_ID.fullmatch(event.request_id)  # the server's own id
    assert event.data == {"client_request_id": "reg-00042"}
    assert event.target_id == str(response.json()["id"])


def test_audit_row_gets_the_generated_request_id_when_none_is_sent(anon_client):
    response = anon_client.post("/api/v1/auth/register/", REGISTRATION, REMOTE_ADDR="10.0.0.3")
    event = AuditEvent.objects.get(action="auth.registered")
    assert event.request_id == response["X-Request-ID"]
    assert event.ip == "10.0.0.3"


def test_a_garbage_forwarded_entry_is_not_stored_and_does_not_fail_the_request(
    anon_client, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = anon_client.post(
        "/api/v1/auth/register/",
        REGISTRATION,
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="not-an-address",
    )
    assert response.status_code == 201
    assert AuditEvent.objects.get(action="auth.registered").ip == "10.0.0.2"


def test_the_context_does_not_leak_into_the_next_request(anon_client):
    anon_client.post("/api/v1/auth/register/", REGISTRATION, HTTP_X_REQUEST_ID="first")
    anon_client.post(
        "/api/v1/auth/token/", {"email": "nobody@example.com", "password": "x"}, REMOTE_ADDR=""
    )
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.request_id not in ("", "first")
    assert failed.ip is None


@pytest.fixture
def user_history():
    """django-auditlog field history of User for this test (registered here if not yet)."""
    registered_here = not auditlog.contains(User)
    if registered_here:
        auditlog.register(User, exclude_fields=["password", "last_login"])
    yield
    if registered_here:
        auditlog.unregister(User)


def test_field_history_records_the_api_actor_and_the_client_ip_not_a_forged_one(
    user_history, patient, patient_client, settings
):
    settings.TRUSTED_PROXY_COUNT = 0
    response = patient_client.patch(
        "/api/v1/auth/me/",
        {"first_name": "Renamed"},
        REMOTE_ADDR="10.0.0.4",
        HTTP_X_FORWARDED_FOR="not-an-address, 6.6.6.6",
    )
    assert response.status_code == 200

    entry = LogEntry.objects.get_for_object(patient).latest("timestamp")
    assert "first_name" in entry.changes_dict
    assert entry.remote_addr == "10.0.0.4"
    assert entry.actor_id == patient.pk
