"""JWT edge cases (docs/api-rules.md): every refused token is a 401 whose body is exactly
{"detail": "..."} with a WWW-Authenticate challenge, on private, public and write endpoints.

accounts/tests/test_api_auth.py covers the same refusals for the status code; here the
shape of the answer is the point, since simplejwt's own bodies also carry `code` and
`messages` (which token class refused it and why).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from tests.accounts.helpers import token_pair
from tests.support.factories import PatientFactory

pytestmark = pytest.mark.django_db

ME_URL = "/api/v1/auth/me/"
DOCTORS_URL = "/api/v1/doctors/"
REGISTER_URL = "/api/v1/auth/register/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
TOKEN_URL = "/api/v1/auth/token/"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def _token_for(case: str) -> str:
    """A token that must be refused, for the named case."""
    user = PatientFactory()
    access, refresh = token_pair(user)
    if case == "alg_none":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{_b64(json.dumps(_claims(access)).encode())}."
    if case == "alg_none_with_signature":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{_b64(json.dumps(_claims(access)).encode())}.{access.split('.')[2]}"
    if case == "wrong_signature":
        return pyjwt.encode(_claims(access), "k" * 64, algorithm="HS256")
    if case == "tampered_claims":
        header, _, signature = access.split(".")
        claims = {**_claims(access), "user_id": str(PatientFactory().pk)}
        return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    if case == "expired":
        minted = timezone.now() - timedelta(minutes=settings.JWT_ACCESS_MINUTES, seconds=1)
        with time_machine.travel(minted, tick=False):
            stale, _ = token_pair(user)
        return stale
    if case == "refresh_as_access":
        return refresh
    if case == "garbage":
        return "not.a.jwt"
    if case == "deactivated":
        User.objects.filter(pk=user.pk).update(is_active=False)
    elif case == "suspended":
        User.objects.filter(pk=user.pk).update(suspended_at=timezone.now())
    elif case == "deleted":
        user.delete()
    return access


CASES = [
    "alg_none",
    "alg_none_with_signature",
    "wrong_signature",
    "tampered_claims",
    "expired",
    "refresh_as_access",
    "garbage",
    "deactivated",
    "suspended",
    "deleted",
]
REQUESTS = {
    "private-read": ("get", ME_URL, None),
    "public-read": ("get", DOCTORS_URL, None),
    "public-write": (
        "post",
        REGISTER_URL,
        {"email": "x@example.com", "password": "a-long-passphrase", "first_name": "X"},
    ),
}


def assert_exact_401(response) -> None:
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"detail"}, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("request_name", list(REQUESTS))
@pytest.mark.parametrize("case", CASES)
def test_a_refused_token_is_an_exact_401(case, request_name):
    method, url, data = REQUESTS[request_name]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_token_for(case)}")

    response = getattr(client, method)(url, data)

    assert_exact_401(response)
    assert not User.objects.filter(email="x@example.com").exists()


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Bearer a b", "Basic dXNlcjpwYXNz"])
def test_a_malformed_authorization_header_is_an_exact_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_exact_401(client.get(DOCTORS_URL))


def test_no_credentials_on_a_private_endpoint_is_an_exact_401(anon_client):
    assert_exact_401(anon_client.get(ME_URL))


def test_a_deleted_users_token_does_not_leak_whether_the_user_existed(db):
    deleted = _token_for("deleted")
    forged = _token_for("wrong_signature")
    first, second = APIClient(), APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Bearer {deleted}")
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert_exact_401(first.get(ME_URL))
    assert_exact_401(second.get(ME_URL))


@pytest.mark.parametrize("case", ["garbage", "wrong_signature", "expired", "deleted"])
def test_a_refused_refresh_is_an_exact_401(case):
    user = PatientFactory()
    _, refresh = token_pair(user)
    if case == "garbage":
        refresh = "not.a.jwt"
    elif case == "wrong_signature":
        refresh = pyjwt.encode(_claims(refresh), "k" * 64, algorithm="HS256")
    elif case == "expired":
        minted = timezone.now() - timedelta(days=settings.JWT_REFRESH_DAYS, seconds=1)
        with time_machine.travel(minted, tick=False):
            _, refresh = token_pair(user)
    elif case == "deleted":
        user.delete()

    assert_exact_401(APIClient().post(REFRESH_URL, {"refresh": refresh}))


def test_an_access_token_used_as_refresh_is_an_exact_401():
    access, _ = token_pair(PatientFactory())
    assert_exact_401(APIClient().post(REFRESH_URL, {"refresh": access}))


def test_a_refused_login_is_an_exact_401():
    assert_exact_401(APIClient().post(TOKEN_URL, {"email": "no@example.com", "password": "x"}))
