"""Fixtures for the scheduling tests (the role users and clients live in the root conftest)."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


def jwt_client(user) -> APIClient:
    """A fresh APIClient carrying a real access token of `user` (None: anonymous)."""
    client = APIClient()
    if user is not None:
        access = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def other_doctor_client(other_doctor):
    return jwt_client(other_doctor)
