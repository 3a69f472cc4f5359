"""Paths and small helpers shared by the accounts API tests."""

from __future__ import annotations

import re

from django.core.mail import EmailMultiAlternatives
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import DoctorProfile, User
from audit.models import AuditEvent

API = "/api/v1"
REGISTER_URL = f"{API}/auth/register/"
TOKEN_URL = f"{API}/auth/token/"
REFRESH_URL = f"{API}/auth/token/refresh/"
LOGOUT_URL = f"{API}/auth/logout/"
ME_URL = f"{API}/auth/me/"
PASSWORD_CHANGE_URL = f"{API}/auth/password/change/"
PASSWORD_RESET_URL = f"{API}/auth/password/reset/"
PASSWORD_RESET_CONFIRM_URL = f"{API}/auth/password/reset/confirm/"
USERS_URL = f"{API}/users/"
DOCTORS_URL = f"{API}/doctors/"
DOCTOR_ME_URL = f"{API}/doctors/me/"

# What the tests set PASSWORD_RESET_URL to (accounts/tests/conftest.py `reset_url`).
TEST_RESET_URL = "https://app.example.test/reset/{uid}/{token}/"
RESET_LINK_PATTERN = re.compile(
    r"https://app\.example\.test/reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
)

# A password every Django validator accepts, and one for "after the change".
NEW_PASSWORD = "a-brand-new-long-passphrase"

USER_FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "role",
    "language",
    "is_active",
    "suspended_at",
    "suspension_reason",
    "date_joined",
    "photo_url",
}


def user_url(user_or_id: User | int | str) -> str:
    pk = getattr(user_or_id, "pk", user_or_id)
    return f"{USERS_URL}{pk}/"


def doctor_url(user_or_id: User | int | str) -> str:
    pk = getattr(user_or_id, "pk", user_or_id)
    return f"{DOCTORS_URL}{pk}/"


def token_pair(user: User) -> tuple[str, str]:
    """A fresh (access, refresh) pair for the user, as a login would issue."""
    refresh = RefreshToken.for_user(user)
    return str(refresh.access_token), str(refresh)


def bearer_client(access: str, **defaults: str) -> APIClient:
    client = APIClient(**defaults)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def login(email: str, password: str, **extra: str):
    """POST auth/token/ from a fresh anonymous client; returns the response."""
    return APIClient().post(TOKEN_URL, {"email": email, "password": password}, **extra)


def reset_link_parts(message: EmailMultiAlternatives) -> tuple[str, str]:
    """The (uid, token) of the reset or invite link in a mail's plain-text body."""
    match = RESET_LINK_PATTERN.search(message.body)
    assert match, message.body
    return match["uid"], match["token"]


def row_counts() -> dict[str, int]:
    """Row counts of every table an accounts write can touch."""
    return {
        "users": User.objects.count(),
        "profiles": DoctorProfile.objects.count(),
        "audit": AuditEvent.objects.count(),
        "outstanding": OutstandingToken.objects.count(),
        "blacklisted": BlacklistedToken.objects.count(),
    }


def audit_rows(action: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))
