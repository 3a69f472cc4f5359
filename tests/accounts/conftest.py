"""Fixtures for the accounts tests (the role users and clients live in the root conftest)."""

import pytest
from rest_framework.throttling import SimpleRateThrottle

from tests.accounts.helpers import TEST_RESET_URL


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
