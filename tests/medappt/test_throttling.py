"""Throttles (SECURITY.md): every limit, the client address behind proxies,
counters shared through Redis, and failing open when the cache is down."""

from __future__ import annotations

import logging

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditEvent
from scheduling.models import Appointment
from tests.support.factories import DEFAULT_PASSWORD, PatientFactory, StaffFactory, TimeBlockFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db

API = "/api/v1"
TOKEN_URL = f"{API}/auth/token/"
REGISTER_URL = f"{API}/auth/register/"
PASSWORD_RESET_URL = f"{API}/auth/password/reset/"
PASSWORD_CHANGE_URL = f"{API}/auth/password/change/"
APPOINTMENTS_URL = f"{API}/appointments/"
ADMIN_LOGIN_URL = "/admin/login/"

needs_redis = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="counters shared through Redis: set REDIS_URL"
)


@pytest.fixture
def rates(monkeypatch):
    """Set throttle rates for one test (DRF copies them onto the class at import)."""

    def set_rates(**scoped: str) -> None:
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **scoped}
        )

    return set_rates


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    if response["Content-Type"].startswith("application/json"):
        assert set(response.json()) == {"detail"}


def login(email: str, password: str, **extra: str):
    return APIClient().post(TOKEN_URL, {"email": email, "password": password}, **extra)


def admin_login(email: str, password: str, **extra: str):
    return Client().post(
        ADMIN_LOGIN_URL, {"username": email, "password": password, "next": "/admin/"}, **extra
    )


def registration(n: int) -> dict[str, str]:
    return {
        "email": f"new{n}@example.com",
        "password": "a-long-enough-pass",
        "first_name": "New",
        "last_name": "Patient",
    }


# ---------------------------------------------------------------------------
# Every limit: allowed up to the rate, then 429 with Retry-After
# ---------------------------------------------------------------------------
def test_logins_are_limited_per_client_address(rates, patient):
    rates(login="3/min", login_failures="100/min")
    for _ in range(3):
        assert login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 200

    assert_throttled(login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.1"))
    assert login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.2").status_code == 200


def test_failed_logins_are_limited_per_email_whatever_the_address(rates, patient):
    rates(login="100/min", login_failures="3/min", login_failures_email="3/min")
    for n in range(3):
        response = login(patient.email, "wrong-guess", REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert response.status_code == 401

    assert_throttled(login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.50"))
    assert login("someone.else@example.com", "x", REMOTE_ADDR="198.51.100.50").status_code == 401


def test_successful_logins_do_not_count_as_failures(rates, patient):
    rates(login="100/min", login_failures="2/min")
    for n in range(5):
        assert (
            login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR=f"198.51.100.{n}").status_code == 200
        )

    assert [login(patient.email, "wrong-guess").status_code for _ in range(2)] == [401, 401]
    assert_throttled(login(patient.email, DEFAULT_PASSWORD))


def test_invalid_login_requests_do_not_count_as_failures(rates, patient):
    rates(login="100/min", login_failures="2/min")
    for _ in range(5):
        response = APIClient().post(TOKEN_URL, {"email": patient.email}, format="json")
        assert response.status_code == 400

    assert [login(patient.email, "wrong-guess").status_code for _ in range(2)] == [401, 401]
    assert_throttled(login(patient.email, "wrong-guess"))


def test_a_login_refused_per_address_does_not_count_against_the_email(rates, patient):
    rates(login="1/min", login_failures="2/min", login_failures_email="2/min")
    assert login(patient.email, "wrong-guess", REMOTE_ADDR="198.51.100.21").status_code == 401
    assert_throttled(login(patient.email, "wrong-guess", REMOTE_ADDR="198.51.100.21"))

    # The refused request checked no password: the email has one failure, not two.
    assert login(patient.email, "wrong-guess", REMOTE_ADDR="198.51.100.22").status_code == 401
    assert_throttled(login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.23"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_guesses_from_many_addresses_get_no_more_than_the_limit(rates):
    rates(login="100/min", login_failures="3/min", login_failures_email="3/min")
    target = PatientFactory()

    def guess(n: int):
        client = APIClient()
        body = {"email": target.email, "password": f"guess-{n}"}
        return lambda: client.post(TOKEN_URL, body, REMOTE_ADDR=f"203.0.113.{n}", format="json")

    outcomes = race(*(guess(n) for n in range(10)))

    # Counted only after each password check, all ten used to be checked at once.
    assert sorted(status for status, _ in outcomes) == [401] * 3 + [429] * 7
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 3


def test_registrations_are_limited_per_client_address(rates, anon_client):
    rates(register="3/min")
    for n in range(3):
        assert anon_client.post(REGISTER_URL, registration(n)).status_code == 201

    assert_throttled(anon_client.post(REGISTER_URL, registration(9)))
    assert (
        anon_client.post(REGISTER_URL, registration(9), REMOTE_ADDR="10.9.9.9").status_code == 201
    )


def test_password_reset_requests_are_limited_per_client_address(rates, anon_client):
    rates(password_reset="3/hour")
    for n in range(3):
        response = anon_client.post(PASSWORD_RESET_URL, {"email": f"nobody{n}@example.com"})
        assert response.status_code == 202

    assert_throttled(anon_client.post(PASSWORD_RESET_URL, {"email": "nobody9@example.com"}))


def test_password_reset_requests_are_limited_per_email_whatever_the_address(
    rates, anon_client, patient
):
    rates(password_reset="3/hour", password_reset_email="3/hour")
    for n in range(3):
        response = anon_client.post(
            PASSWORD_RESET_URL, {"email": patient.email}, REMOTE_ADDR=f"10.0.0.{n + 1}"
        )
        assert response.status_code == 202

    throttled = anon_client.post(
        PASSWORD_RESET_URL, {"email": patient.email.upper()}, REMOTE_ADDR="10.0.0.99"
    )
    assert_throttled(throttled)


def test_password_changes_are_limited_per_user(rates, patient, patient_client, other_patient):
    rates(password_change="3/min")
    wrong = {"current_password": "wrong", "new_password": "a-brand-new-long-passphrase"}
    for _ in range(3):
        assert patient_client.post(PASSWORD_CHANGE_URL, wrong).status_code == 400

    assert_throttled(patient_client.post(PASSWORD_CHANGE_URL, wrong))
    other = APIClient()
    other.force_authenticate(other_patient)
    assert other.post(PASSWORD_CHANGE_URL, wrong).status_code == 400


def test_bookings_are_limited_per_user(rates, patient, patient_client, other_patient, doctor):
    rates(booking="2/min")
    blocks = TimeBlockFactory.create_batch(4, doctor=doctor)
    for block in blocks[:2]:
        response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk})
        assert response.status_code == 201, response.content

    assert_throttled(patient_client.post(APPOINTMENTS_URL, {"time_block": blocks[2].pk}))
    assert not Appointment.objects.filter(time_block=blocks[2]).exists()
    other = APIClient()
    other.force_authenticate(other_patient)
    assert other.post(APPOINTMENTS_URL, {"time_block": blocks[3].pk}).status_code == 201


def test_admin_logins_are_limited_per_client_address(rates):
    rates(login="3/min")
    staff = StaffFactory()
    for _ in range(3):
        response = admin_login(staff.email, "wrong-guess", REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 200  # the form again, with its error

    throttled = admin_login(staff.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert_throttled(throttled)
    assert "_auth_user_id" not in throttled.client.session
    assert admin_login(staff.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 302


def test_admin_and_api_logins_share_one_counter_per_address(rates, patient):
    rates(login="2/min", login_failures="100/min")
    assert login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.3").status_code == 200
    assert admin_login(patient.email, "wrong", REMOTE_ADDR="198.51.100.3").status_code == 200

    assert_throttled(admin_login(patient.email, "wrong", REMOTE_ADDR="198.51.100.3"))
    assert_throttled(login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.3"))


def test_admin_login_get_is_not_counted(rates):
    rates(login="1/min")
    for _ in range(3):
        assert Client().get(ADMIN_LOGIN_URL).status_code == 200
    staff = StaffFactory()
    assert admin_login(staff.email, DEFAULT_PASSWORD).status_code == 302


# ---------------------------------------------------------------------------
# Failed admin logins are audited like API ones
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["wrong_password", "unknown_email", "not_staff", "suspended"])
def test_a_refused_admin_login_is_audited_with_the_email_and_source(case):
    staff = StaffFactory()
    email, password = staff.email, DEFAULT_PASSWORD
    if case == "wrong_password":
        password = "wrong-guess"
    elif case == "unknown_email":
        email = "Nobody@Example.com"
    elif case == "not_staff":
        email = PatientFactory().email
    elif case == "suspended":
        staff.suspended_at = staff.date_joined
        staff.save(update_fields=["suspended_at"])

    response = admin_login(email, password, REMOTE_ADDR="203.0.113.5")

    assert response.status_code == 200
    (event,) = AuditEvent.objects.filter(action="auth.login_failed")
    assert event.data == {"email": email.lower(), "source": "admin"}
    assert event.ip == "203.0.113.5"
    assert event.actor_id is None
    assert password not in str(event.data)


def test_a_refused_admin_login_with_a_non_address_keeps_only_its_hash():
    admin_login("not an address", "wrong-guess")

    (event,) = AuditEvent.objects.filter(action="auth.login_failed")
    assert event.data["source"] == "admin"
    assert len(event.data["email"]) == 64
    assert "not an address" not in str(event.data)


def test_a_successful_admin_login_writes_no_failure():
    staff = StaffFactory()
    assert admin_login(staff.email, DEFAULT_PASSWORD).status_code == 302
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()


# ---------------------------------------------------------------------------
# The client address: X-Forwarded-For is trusted only as far as TRUSTED_PROXY_COUNT says
# ---------------------------------------------------------------------------
def test_a_forged_forwarded_for_neither_dodges_the_limit_nor_the_audited_address(
    rates, settings, patient
):
    settings.TRUSTED_PROXY_COUNT = 0
    rates(login="3/min", login_failures="100/min")
    for n in range(3):
        response = login(
            patient.email, "wrong", REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}"
        )
        assert response.status_code == 401

    throttled = login(
        patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="9.9.9.9"
    )

    assert_throttled(throttled)
    addresses = set(AuditEvent.objects.values_list("ip", flat=True))
    assert addresses == {"198.51.100.20"}


def test_behind_one_proxy_the_rightmost_forwarded_address_is_the_client(rates, settings, patient):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    rates(login="3/min", login_failures="100/min")
    for n in range(3):
        response = login(
            patient.email,
            "wrong",
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 203.0.113.40",  # a forged entry, then the client
        )
        assert response.status_code == 401

    forged_left = login(
        patient.email,
        DEFAULT_PASSWORD,
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="7.7.7.7, 203.0.113.40",
    )
    assert_throttled(forged_left)
    another_client = login(
        patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.41"
    )
    assert another_client.status_code == 200
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert set(failed.values_list("ip", flat=True)) == {"203.0.113.40"}


# ---------------------------------------------------------------------------
# A cache outage: the throttles fail open, with a warning
# ---------------------------------------------------------------------------
@pytest.fixture
def unreachable_cache(monkeypatch):
    """Throttle counters in a Redis nobody listens on (connections are refused at once)."""
    broken = RedisCache(
        "redis://127.0.0.1:1/0",
        {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}},
    )
    monkeypatch.setattr(SimpleRateThrottle, "cache", broken)
    return broken


def throttle_warnings(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "medappt.throttling" and record.levelno == logging.WARNING
    ]


def test_logins_still_work_when_the_cache_is_down(rates, unreachable_cache, patient, caplog):
    rates(login="1/min", login_failures="1/min")
    caplog.set_level(logging.WARNING, logger="medappt.throttling")

    assert login(patient.email, "wrong-guess").status_code == 401
    assert login(patient.email, DEFAULT_PASSWORD).status_code == 200
    assert login(patient.email, DEFAULT_PASSWORD).status_code == 200

    warnings = throttle_warnings(caplog)
    assert warnings
    assert {"login", "login_failures"} <= {record.args[0] for record in warnings}
    assert all(DEFAULT_PASSWORD not in record.getMessage() for record in caplog.records)


def test_bookings_and_admin_logins_still_work_when_the_cache_is_down(
    rates, unreachable_cache, patient_client, doctor, caplog
):
    rates(booking="1/min", login="1/min")
    caplog.set_level(logging.WARNING, logger="medappt.throttling")
    first, second = TimeBlockFactory.create_batch(2, doctor=doctor)
    staff = StaffFactory()

    assert patient_client.post(APPOINTMENTS_URL, {"time_block": first.pk}).status_code == 201
    assert patient_client.post(APPOINTMENTS_URL, {"time_block": second.pk}).status_code == 201
    assert admin_login(staff.email, "wrong").status_code == 200
    assert admin_login(staff.email, DEFAULT_PASSWORD).status_code == 302
    assert {"booking", "login"} <= {record.args[0] for record in throttle_warnings(caplog)}


# ---------------------------------------------------------------------------
# Counters live in Redis, so every worker and host sees the same ones
# ---------------------------------------------------------------------------
@needs_redis
def test_counters_are_shared_between_separate_cache_connections(rates, monkeypatch, patient):
    rates(login="2/min", login_failures="100/min")
    assert django_settings.CACHES["default"]["BACKEND"].endswith("RedisCache")

    def as_a_new_worker():
        # A fresh backend with its own connection pool and no state of this process's.
        monkeypatch.setattr(SimpleRateThrottle, "cache", caches.create_connection("default"))

    for _ in range(2):
        as_a_new_worker()
        assert (
            login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.60").status_code == 200
        )

    as_a_new_worker()
    assert_throttled(login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.60"))

    raw = redis.Redis.from_url(django_settings.REDIS_URL)
    assert raw.keys("*throttle_login_198.51.100.60_*")
