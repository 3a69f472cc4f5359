"""Fixtures for the accounts tests (the role users and clients live in the root conftest)."""

import time

import pytest
from rest_framework.throttling import SimpleRateThrottle

from accounts.tests.helpers import TEST_RESET_URL
from accounts.throttles import CacheRateThrottle


@pytest.fixture(autouse=True)
def _throttle_windows_start_with_the_test(monkeypatch):
    """Start each test at a day boundary of the throttles' clock.

    Throttle counters start again each minute, hour and day (accounts/throttles.py), so a test
    that counts up to a limit must not straddle a boundary. time_machine still moves this clock.
    """
    offset = time.time() % 86400
    monkeypatch.setattr(CacheRateThrottle, "timer", staticmethod(lambda: time.time() - offset))


@pytest.fixture
def reset_url(settings):
    """A known PASSWORD_RESET_URL, so tests can find the uid and token in a mailed link."""
    settings.PASSWORD_RESET_URL = TEST_RESET_URL
    return TEST_RESET_URL


@pytest.fixture
def throttle_rates(monkeypatch):
    """Set throttle rates for one test.

    DRF copies DEFAULT_THROTTLE_RATES onto SimpleRateThrottle.THROTTLE_RATES when it is
    imported, so overriding REST_FRAMEWORK through the settings fixture changes nothing.
    """

    def set_rates(**rates: str) -> None:
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **rates}
        )

    return set_rates
