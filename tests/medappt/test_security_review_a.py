"""Security review, round 2 (issue 15): regression tests for the findings closed on sec-a.

Each section names its finding; SECURITY.md's last section says how each is prevented.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import RequestFactory

from core.context import client_ip
from tests.medappt import test_settings
from tests.medappt.test_settings import PRODUCTION_ENV

# The settings tests' fixture: start-up checked in a fresh interpreter with a given env.
run_django = test_settings.run_django


# ---------------------------------------------------------------------------
# Finding 6: X-Forwarded-For only from a peer in TRUSTED_PROXIES
# ---------------------------------------------------------------------------
def _request(remote_addr: str, forwarded: str):
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR=forwarded)


def test_forwarded_for_from_a_peer_outside_trusted_proxies_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(_request("203.0.113.9", "198.51.100.7")) == "203.0.113.9"


def test_forwarded_for_is_ignored_while_trusted_proxies_is_empty(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request("10.0.0.1", "198.51.100.7")) == "10.0.0.1"


@pytest.mark.parametrize(
    "proxies", [["10.0.0.0/8"], ["192.0.2.1", "10.0.0.1/32"], ["::1", "10.0.0.0/24"]]
)
def test_forwarded_for_from_a_trusted_proxy_is_honoured(settings, proxies):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = proxies
    assert client_ip(_request("10.0.0.1", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"


def test_trusted_proxies_defaults_to_none_and_a_malformed_entry_stops_start_up(run_django):
    code = "from django.conf import settings\nprint(settings.TRUSTED_PROXIES)\n"
    result = run_django(PRODUCTION_ENV, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

    result = run_django({**PRODUCTION_ENV, "TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:")
    assert "TRUSTED_PROXIES" in last_line


# ---------------------------------------------------------------------------
# Finding 8: inputs that gave an unauthenticated 500 are 400s with the usual shape
# ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("depth", [33, 5_000, 100_000])
def test_a_deeply_nested_json_body_is_a_400(anon_client, depth):
    body = "[" * depth + "]" * depth
    response = anon_client.generic(
        "POST", "/api/v1/auth/register/", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "available_from=9999-12-31T00:00:00Z",
        "available_to=0001-01-01T00:00:00Z",
        "available_from=9999-12-31T23:59:59%2B14:00",
        "available_to=0001-01-01T00:00:00-14:00",
    ],
)
def test_doctor_availability_filter_at_the_ends_of_time_is_a_400_or_a_list(anon_client, query):
    response = anon_client.get(f"/api/v1/doctors/?{query}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert set(response.json()) <= {"available_from", "available_to"}


@pytest.mark.django_db
def test_json_nested_within_the_bound_is_parsed_as_usual(anon_client):
    from core.parsers import MAX_JSON_DEPTH

    body = {"email": "a@example.com"}
    for _ in range(MAX_JSON_DEPTH - 1):
        body = {"nested": body}
    response = anon_client.post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 400
    assert "detail" not in response.json()  # field errors: the body was parsed


# ---------------------------------------------------------------------------
# Finding 11: the audit chain key must not be the SECRET_KEY
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("debug", ["false", "true"])
def test_start_up_fails_when_the_audit_chain_key_is_the_secret_key(run_django, debug):
    env = {**PRODUCTION_ENV, "DEBUG": debug, "AUDIT_CHAIN_KEY": PRODUCTION_ENV["SECRET_KEY"]}
    result = run_django(env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:")
    assert "AUDIT_CHAIN_KEY" in last_line


# ---------------------------------------------------------------------------
# Finding 13: the schema is generated once per process and language, and throttled
# ---------------------------------------------------------------------------
@pytest.fixture
def generations(monkeypatch):
    """How many times the OpenAPI schema was generated (from a cold cache)."""
    from drf_spectacular.generators import SchemaGenerator

    from core import docs

    docs.forget_schemas()
    calls = []
    original = SchemaGenerator.get_schema

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    yield calls
    docs.forget_schemas()


@pytest.mark.django_db
def test_the_schema_is_generated_once_and_then_served_from_memory(anon_client, generations):
    first = anon_client.get("/api/schema/?format=json")
    second = anon_client.get("/api/schema/?format=json")
    yaml = anon_client.get("/api/schema/")

    assert (first.status_code, second.status_code, yaml.status_code) == (200, 200, 200)
    assert first.json() == second.json()
    assert len(generations) == 1


@pytest.mark.django_db
def test_the_schema_cache_is_keyed_by_language_and_version(anon_client, generations):
    anon_client.get("/api/schema/?format=json")
    anon_client.get("/api/schema/?format=json&lang=es")
    anon_client.get("/api/schema/?format=json&lang=es")
    assert len(generations) == 2

    versioned = anon_client.get("/api/schema/?format=json&version=2.0")
    assert versioned.json()["info"]["version"] == "1.0.0 (2.0)"
    assert len(generations) == 3


@pytest.mark.django_db
def test_the_schema_cache_stays_small_whatever_the_query(anon_client, generations):
    from core import docs

    for n in range(docs.MAX_CACHED_SCHEMAS + 5):
        response = anon_client.get(f"/api/schema/?format=json&version=v{n}&lang=zz-{n}")
        assert response.status_code == 200
    assert len(docs._schemas) <= docs.MAX_CACHED_SCHEMAS


@pytest.mark.django_db
def test_the_schema_is_throttled_per_address(anon_client, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**SimpleRateThrottle.THROTTLE_RATES, "schema": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    for _ in range(2):
        assert anon_client.get("/api/schema/", REMOTE_ADDR="198.51.100.1").status_code == 200

    refused = anon_client.get("/api/schema/", REMOTE_ADDR="198.51.100.1")
    assert refused.status_code == 429
    assert refused["Retry-After"]
    assert set(refused.json()) == {"detail"}
    assert anon_client.get("/api/schema/", REMOTE_ADDR="198.51.100.2").status_code == 200


def test_the_schema_throttle_has_a_default_rate(settings):
    assert settings.THROTTLE_SCHEMA == "30/min"
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["schema"] == "30/min"


# ---------------------------------------------------------------------------
# Finding 15: JWTs are signed with JWT_SIGNING_KEY, which defaults to SECRET_KEY
# ---------------------------------------------------------------------------
JWT_CHECK = """
import datetime, json, jwt
from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

now = datetime.datetime.now(datetime.UTC)
claims = {"token_type": "access", "exp": now + datetime.timedelta(minutes=5),
          "iat": now, "jti": "abc", "user_id": "1"}
verdicts = {}
for name, key in [("secret_key", settings.SECRET_KEY), ("jwt_key", settings.JWT_SIGNING_KEY)]:
    try:
        AccessToken(jwt.encode(claims, key, algorithm="HS256"))
        verdicts[name] = "accepted"
    except TokenError:
        verdicts[name] = "refused"
issued = AccessToken()
verdicts["issued_verifies_with_jwt_key"] = bool(
    jwt.decode(str(issued), settings.JWT_SIGNING_KEY, algorithms=["HS256"],
               options={"verify_exp": False}))
print(json.dumps(verdicts))
"""


def test_a_token_signed_with_the_secret_key_is_refused_when_the_jwt_key_differs(run_django):
    env = {**PRODUCTION_ENV, "JWT_SIGNING_KEY": "a-separate-jwt-signing-key-0123456789abcdef"}
    result = run_django(env, code=JWT_CHECK)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "secret_key": "refused",
        "jwt_key": "accepted",
        "issued_verifies_with_jwt_key": True,
    }


def test_the_jwt_signing_key_defaults_to_the_secret_key(run_django):
    code = "from django.conf import settings as s\nprint(s.JWT_SIGNING_KEY == s.SECRET_KEY)\n"
    result = run_django(PRODUCTION_ENV, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


# ---------------------------------------------------------------------------
# Finding 16: admin sessions, CSP on the admin and the API docs, no-store on the API
# ---------------------------------------------------------------------------
def _csp(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_admin_sessions_last_eight_hours_by_default(run_django):
    code = "from django.conf import settings as s\nprint(s.SESSION_COOKIE_AGE)\n"
    result = run_django(PRODUCTION_ENV, code=code)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 8 * 3600
    result = run_django({**PRODUCTION_ENV, "SESSION_COOKIE_AGE": "3600"}, code=code)
    assert int(result.stdout) == 3600


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/login/", "/admin/", "/api/docs/", "/api/redoc/"])
def test_admin_and_docs_pages_carry_a_csp_without_inline_scripts(client, url):
    response = client.get(url)
    assert response.status_code in (200, 302)
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["default-src"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/", "/admin/login/"])
def test_docs_and_admin_pages_have_no_inline_script(client, url):
    import re

    html = client.get(url).content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    for attributes, body in scripts:
        # Executable scripts come from files; JSON data blocks are not executed.
        assert "src=" in attributes or "application/json" in attributes, (attributes, body)


@pytest.mark.django_db
def test_swagger_ui_loads_its_start_script_from_a_url(client):
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "method", "url"),
    [
        ("patient", "get", "/api/v1/auth/me/"),
        ("patient", "get", "/api/v1/appointments/"),
        ("admin", "get", "/api/v1/users/"),
        ("admin", "get", "/api/v1/audit/events/"),
        ("anon", "get", "/api/v1/doctors/"),
        ("anon", "get", "/api/v1/users/"),
        ("anon", "get", "/api/v1/nope/"),
        ("anon", "post", "/api/v1/auth/token/"),
        ("anon", "get", "/api/schema/"),
    ],
)
def test_every_api_response_is_no_store(role_clients, role, method, url):
    response = getattr(role_clients[role], method)(url)
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_early_413_is_no_store_too(anon_client, settings):
    response = anon_client.generic(
        "POST",
        "/api/v1/auth/register/",
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.MAX_JSON_BODY_BYTES + 1),
    )
    assert response.status_code == 413
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_a_doctors_photo_keeps_its_own_public_cache_header(settings, tmp_path, doctor):
    from tests.accounts.test_api_photos import image_bytes, put_photo
    from tests.support.clients import client_for

    settings.MEDIA_ROOT = tmp_path / "media"
    assert put_photo(client_for(doctor), image_bytes("JPEG")).status_code == 200
    response = client_for(None).get(f"/api/v1/users/{doctor.pk}/photo/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=86400"


ADMIN_PAGES = [
    "/admin/",
    "/admin/scheduling/appointment/",
    "/admin/scheduling/appointment/add/",
    "/admin/scheduling/timeblock/",
    "/admin/scheduling/timeblock/add/",
    "/admin/accounts/user/",
    "/admin/accounts/user/add/",
    "/admin/audit/auditevent/",
    "/admin/password_change/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_pages_need_no_inline_script_or_event_handler(client, clinic_admin, url):
    import re

    client.force_login(clinic_admin)
    response = client.get(url)
    assert response.status_code == 200, url
    assert _csp(response)["script-src"] == ["'self'"]
    html = response.content.decode()
    for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL):
        assert "src=" in attributes or "application/json" in attributes, (attributes, body)
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), "inline event handler"
    assert "javascript:" not in html


# ---------------------------------------------------------------------------
# Finding 18: a client's X-Request-ID is accepted only in a strict format, and the server
# keeps its own id beside it
# ---------------------------------------------------------------------------
CLIENT_ID = "0f8e2c44-3b1e-4c8a-9d8f-1b2c3d4e5f60"


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", ["abcd1234", "A-b-C-1-2-3", "a" * 64, CLIENT_ID])
def test_a_strict_client_request_id_is_echoed(anon_client, incoming):
    response = anon_client.get("/api/v1/doctors/", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] == incoming


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming", ["abc", "short-7", "a" * 65, "req.123", "req_123456", "has space1", "ünïcode12"]
)
def test_a_client_request_id_outside_the_strict_format_is_replaced(anon_client, incoming):
    response = anon_client.get("/api/v1/doctors/", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_audit_rows_keep_the_server_id_and_the_clients_beside_it(anon_client):
    from audit.models import AuditEvent

    response = anon_client.post(
        "/api/v1/auth/register/",
        {
            "email": "new.patient@example.com",
            "password": "a-long-and-unusual-passphrase",
            "first_name": "New",
            "last_name": "Patient",
        },
        format="json",
        HTTP_X_REQUEST_ID=CLIENT_ID,
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == CLIENT_ID

    event = AuditEvent.objects.get(action="auth.registered")
    assert re.fullmatch(r"[0-9a-f]{32}", event.request_id)
    assert event.request_id != CLIENT_ID
    assert event.data["client_request_id"] == CLIENT_ID


@pytest.mark.django_db
def test_the_log_line_names_both_ids(anon_client, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="medappt.request")
    anon_client.get("/api/v1/doctors/", HTTP_X_REQUEST_ID=CLIENT_ID)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "medappt.request"]
    server_id = re.search(r" request_id=([0-9a-f]{32})", line)
    assert server_id, line
    assert line.endswith(f" client_request_id={CLIENT_ID}")


# ---------------------------------------------------------------------------
# Finding 19: the README describes the throttles as the code counts (atomic fixed windows)
# ---------------------------------------------------------------------------
def test_the_readme_does_not_describe_the_old_read_then_write_counters():
    from django.conf import settings

    readme = " ".join((settings.BASE_DIR / "README.md").read_text().split())
    assert "read-then-written" not in readme
    assert "overshoot" not in readme
    assert "one atomic round trip" in readme
