"""Security review, round 2 (issue 15): findings 1 and 4 (login and reset limits shared by the
API and the admin, per (email, network) with a per-email ceiling, IPv6 grouped by /64)."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditEvent
from core.throttles import client_network
from tests.accounts.helpers import PASSWORD_RESET_URL, REGISTER_URL, login
from tests.support.factories import DEFAULT_PASSWORD, PatientFactory, StaffFactory
from tests.support.races import race

pytestmark = pytest.mark.django_db

ADMIN_LOGIN_URL = "/admin/login/"
TOKEN_URL = "/api/v1/auth/token/"


def admin_login(email: str, password: str, **extra: str):
    return Client().post(
        ADMIN_LOGIN_URL, {"username": email, "password": password, "next": "/admin/"}, **extra
    )


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0


def reset(email: str, address: str):
    return APIClient().post(PASSWORD_RESET_URL, {"email": email}, REMOTE_ADDR=address)


# ---------------------------------------------------------------------------
# Finding 1: the admin login counts failures per email, with the API's counters
# ---------------------------------------------------------------------------
def test_admin_login_failures_are_limited_per_email_and_address(throttle_rates):
    throttle_rates(login="100/min", login_failures="2/min")
    staff = StaffFactory()
    for _ in range(2):
        response = admin_login(staff.email, "wrong-guess", REMOTE_ADDR="198.51.100.70")
        assert response.status_code == 200  # the form again, with its error

    throttled = admin_login(staff.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.70")

    assert_throttled(throttled)
    assert "_auth_user_id" not in throttled.client.session
    elsewhere = admin_login(staff.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.71")
    assert elsewhere.status_code == 302


def test_admin_and_api_login_failures_share_one_count_per_email(throttle_rates):
    throttle_rates(login="100/min", login_failures="100/min", login_failures_email="3/min")
    staff = StaffFactory()
    assert login(staff.email, "wrong-guess", REMOTE_ADDR="198.51.100.72").status_code == 401
    assert admin_login(staff.email, "wrong-guess", REMOTE_ADDR="198.51.100.73").status_code == 200
    assert login(staff.email.upper(), "wrong", REMOTE_ADDR="198.51.100.74").status_code == 401

    assert_throttled(admin_login(staff.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.75"))
    assert_throttled(login(staff.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.76"))


def test_a_successful_admin_login_gives_its_place_back(throttle_rates):
    throttle_rates(login="100/min", login_failures="1/min", login_failures_email="1/min")
    staff = StaffFactory()
    for _ in range(3):
        assert admin_login(staff.email, DEFAULT_PASSWORD).status_code == 302

    assert admin_login(staff.email, "wrong-guess").status_code == 200
    assert_throttled(admin_login(staff.email, DEFAULT_PASSWORD))


def api_login(n: int, address: str):
    return login(f"someone{n}@example.com", "wrong-guess", REMOTE_ADDR=address)


def api_register(n: int, address: str):
    body = {
        "email": f"new{n}@example.com",
        "password": "a-long-enough-pass",
        "first_name": "New",
        "last_name": "Patient",
    }
    return APIClient().post(REGISTER_URL, body, REMOTE_ADDR=address)


def api_reset(n: int, address: str):
    return reset(f"nobody{n}@example.com", address)


def admin(n: int, address: str):
    return admin_login(f"someone{n}@example.com", "wrong-guess", REMOTE_ADDR=address)


@pytest.mark.parametrize(
    ("scope", "attempt"),
    [
        ("login", api_login),
        ("register", api_register),
        ("password_reset", api_reset),
        ("login", admin),
    ],
    ids=["api_login", "register", "password_reset", "admin_login"],
)
def test_ipv6_clients_share_one_per_address_limit_per_64_network(throttle_rates, scope, attempt):
    throttle_rates(**{scope: "2/min"})
    assert attempt(1, "2001:db8:1:2::1").status_code != 429
    assert attempt(2, "2001:db8:1:2:ffff:ffff:ffff:fffe").status_code != 429

    assert_throttled(attempt(3, "2001:db8:1:2:abcd::5"))
    assert attempt(4, "2001:db8:1:3::1").status_code != 429  # the next /64 is someone else
    assert attempt(5, "198.51.100.80").status_code != 429


def test_ipv4_clients_are_still_counted_per_address(throttle_rates):
    throttle_rates(login="1/min")
    assert api_login(1, "198.51.100.81").status_code == 401
    assert_throttled(api_login(2, "198.51.100.81"))
    assert api_login(3, "198.51.100.82").status_code == 401


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # an IPv4 client seen through IPv6
        ("not-an-address", "unknown"),
    ],
)
def test_throttles_count_an_ipv6_client_by_its_64_network(address, network):
    assert client_network(RequestFactory().get("/", REMOTE_ADDR=address)) == network


def test_login_failures_from_one_64_network_share_one_count(throttle_rates, patient):
    throttle_rates(login="100/min", login_failures="2/min")
    assert login(patient.email, "wrong", REMOTE_ADDR="2001:db8:9:9::1").status_code == 401
    assert login(patient.email, "wrong", REMOTE_ADDR="2001:db8:9:9::2").status_code == 401

    assert_throttled(login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="2001:db8:9:9::3"))
    assert login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="2001:db8:9:a::1").status_code == 200


# ---------------------------------------------------------------------------
# Finding 4: failures elsewhere do not lock the owner out, up to a per-email ceiling
# ---------------------------------------------------------------------------
def test_the_new_ceilings_are_settings_with_their_defaults():
    assert django_settings.THROTTLE_LOGIN_EMAIL_CEILING == "50/hour"
    assert django_settings.THROTTLE_PASSWORD_RESET_EMAIL_CEILING == "20/hour"
    rates = SimpleRateThrottle.THROTTLE_RATES
    assert rates["login_failures"] == django_settings.THROTTLE_LOGIN
    assert rates["login_failures_email"] == django_settings.THROTTLE_LOGIN_EMAIL_CEILING
    assert rates["password_reset_email"] == django_settings.THROTTLE_PASSWORD_RESET_EMAIL_CEILING


def test_an_attackers_failures_do_not_lock_out_a_correct_login_from_another_address(
    throttle_rates, patient
):
    throttle_rates(login="100/min", login_failures="3/min")
    attacker = [login(patient.email, f"guess-{n}", REMOTE_ADDR="203.0.113.66") for n in range(6)]
    assert [r.status_code for r in attacker] == [401] * 3 + [429] * 3

    assert login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.90").status_code == 200
    assert_throttled(login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.66"))


def test_an_attackers_failures_do_not_lock_out_a_correct_admin_login_from_another_address(
    throttle_rates,
):
    throttle_rates(login="100/min", login_failures="3/min")
    staff = StaffFactory()
    for n in range(5):
        login(staff.email, f"guess-{n}", REMOTE_ADDR="203.0.113.67")
        admin_login(staff.email, f"guess-{n}", REMOTE_ADDR="203.0.113.67")

    owner = admin_login(staff.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.91")
    assert owner.status_code == 302


def test_the_per_email_ceiling_refuses_even_a_correct_login_once_reached(throttle_rates, patient):
    throttle_rates(login="100/min", login_failures="100/min", login_failures_email="4/hour")
    for n in range(4):
        assert login(patient.email, "wrong", REMOTE_ADDR=f"203.0.113.{n + 1}").status_code == 401

    refused = login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.92")

    assert_throttled(refused)
    assert int(refused["Retry-After"]) > 60  # the hour's window, not the minute's
    assert_throttled(admin_login(patient.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.93"))
    assert login("someone.else@example.com", "x", REMOTE_ADDR="198.51.100.92").status_code == 401


def test_reset_requests_from_elsewhere_do_not_block_the_owners_request(throttle_rates, patient):
    throttle_rates(password_reset="3/hour")
    attacker = [reset(patient.email, "203.0.113.9").status_code for _ in range(4)]
    assert attacker == [202, 202, 202, 429]

    assert reset(patient.email, "198.51.100.94").status_code == 202


def test_reset_requests_per_email_stop_at_the_ceiling(throttle_rates, patient):
    throttle_rates(password_reset="100/hour", password_reset_email="3/hour")
    for n in range(3):
        assert reset(patient.email, f"203.0.113.{n + 30}").status_code == 202

    assert_throttled(reset(patient.email.upper(), "198.51.100.95"))
    assert reset("someone.else@example.com", "198.51.100.95").status_code == 202


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_guesses_from_one_address_get_no_more_than_the_strict_limit(
    throttle_rates,
):
    throttle_rates(login="100/min", login_failures="3/min", login_failures_email="100/min")
    target = PatientFactory()

    def guess(n: int):
        client = APIClient()
        body = {"email": target.email, "password": f"guess-{n}"}
        return lambda: client.post(TOKEN_URL, body, REMOTE_ADDR="203.0.113.99", format="json")

    outcomes = race(*(guess(n) for n in range(10)))

    assert sorted(status for status, _ in outcomes) == [401] * 3 + [429] * 7
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 3
