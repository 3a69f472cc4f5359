"""Fixtures for the scheduling tests (the role users and clients are in tests/support)."""

import pytest

from tests.support.clients import client_for


@pytest.fixture
def other_doctor_client(other_doctor):
    return client_for(other_doctor)
