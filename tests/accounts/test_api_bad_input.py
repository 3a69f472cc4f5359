"""Bad input on every accounts write endpoint: 400 and nothing written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.models import DoctorProfile, User
from tests.accounts.helpers import (
    DOCTOR_ME_URL,
    LOGOUT_URL,
    ME_URL,
    NEW_PASSWORD,
    PASSWORD_CHANGE_URL,
    PASSWORD_RESET_CONFIRM_URL,
    PASSWORD_RESET_URL,
    REFRESH_URL,
    REGISTER_URL,
    TOKEN_URL,
    USERS_URL,
    bearer_client,
    row_counts,
    token_pair,
    user_url,
)
from tests.support.factories import (
    DEFAULT_PASSWORD,
    AdminFactory,
    DoctorFactory,
    PatientFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

MISSING = object()  # drop the field from the valid body


@dataclass
class World:
    patient: User
    target: User
    doctor: User
    clients: dict[str, APIClient]
    refresh: str
    reset_uid: str
    reset_token: str


@pytest.fixture
def world(db) -> World:
    patient = PatientFactory()
    target = PatientFactory()
    doctor = DoctorFactory()
    staff = StaffFactory()
    admin = AdminFactory()
    access, refresh = token_pair(patient)
    return World(
        patient=patient,
        target=target,
        doctor=doctor,
        clients={
            "anon": APIClient(),
            "patient": bearer_client(access),
            "doctor": bearer_client(token_pair(doctor)[0]),
            "staff": bearer_client(token_pair(staff)[0]),
            "admin": bearer_client(token_pair(admin)[0]),
        },
        refresh=refresh,
        reset_uid=urlsafe_base64_encode(force_bytes(target.pk)),
        reset_token=default_token_generator.make_token(target),
    )


@dataclass
class Endpoint:
    caller: str
    method: str
    path: Callable[[World], str]
    valid: Callable[[World], dict[str, Any]]
    ok: int
    bad: list[tuple[str, dict[str, Any] | str]]


# Raw bodies every endpoint refuses: not JSON, or JSON that is not an object.
RAW = [
    ("malformed-json", '{"email": "a@example.com", '),
    ("trailing-garbage", "{} x"),
    ("json-array", "[]"),
    ("json-string", '"hello"'),
    ("json-null", "null"),
]
NAMES = [
    ("first-name-list", {"first_name": ["Ana"]}),
    ("last-name-object", {"last_name": {"x": 1}}),
    ("first-name-null", {"first_name": None}),
    ("first-name-blank", {"first_name": "   "}),
    ("first-name-151", {"first_name": "x" * 151}),
    ("last-name-151", {"last_name": "x" * 151}),
    ("first-name-nul", {"first_name": "An\x00a"}),
    ("phone-not-e164", {"phone": "600123456"}),
    ("phone-number", {"phone": 34600123456}),
    ("phone-17", {"phone": "+" + "1" * 16}),
]
EMAILS = [
    ("email-number", {"email": 5}),
    ("email-list", {"email": ["a@example.com"]}),
    ("email-invalid", {"email": "not-an-email"}),
    ("email-255", {"email": "a" * 243 + "@example.com"}),
    ("email-nul", {"email": "a\x00b@example.com"}),
]

ENDPOINTS = {
    "register": Endpoint(
        "anon",
        "post",
        lambda w: REGISTER_URL,
        lambda w: {
            "email": "new@example.com",
            "password": NEW_PASSWORD,
            "first_name": "New",
            "last_name": "Person",
        },
        201,
        [
            ("empty-object", "{}"),
            ("no-email", {"email": MISSING}),
            ("no-password", {"password": MISSING}),
            ("no-first-name", {"first_name": MISSING}),
            ("password-number", {"password": 123456789012}),
            ("password-list", {"password": [NEW_PASSWORD]}),
            ("password-129", {"password": "x7" * 64 + "y"}),
            ("password-nul", {"password": NEW_PASSWORD + "\x00"}),
            *EMAILS,
            *NAMES,
        ],
    ),
    "token": Endpoint(
        "anon",
        "post",
        lambda w: TOKEN_URL,
        lambda w: {"email": w.patient.email, "password": DEFAULT_PASSWORD},
        200,
        [
            ("empty-object", "{}"),
            ("no-password", {"password": MISSING}),
            ("email-list", {"email": [1]}),
            ("email-object", {"email": {"$ne": ""}}),
            ("email-255", {"email": "a" * 243 + "@example.com"}),
            ("email-nul", {"email": "a\x00b@example.com"}),
            ("password-list", {"password": [DEFAULT_PASSWORD]}),
            ("password-blank", {"password": ""}),
            ("password-129", {"password": "x" * 129}),
        ],
    ),
    "refresh": Endpoint(
        "anon",
        "post",
        lambda w: REFRESH_URL,
        lambda w: {"refresh": w.refresh},
        200,
        [
            ("empty-object", "{}"),
            ("refresh-list", {"refresh": [1]}),
            ("refresh-null", {"refresh": None}),
            ("refresh-4097", {"refresh": "x" * 4097}),
        ],
    ),
    "logout": Endpoint(
        "patient",
        "post",
        lambda w: LOGOUT_URL,
        lambda w: {"refresh": w.refresh},
        204,
        [
            ("empty-object", "{}"),
            ("refresh-list", {"refresh": ["a", "b"]}),
            ("refresh-number", {"refresh": 42}),
            ("refresh-4097", {"refresh": "x" * 4097}),
        ],
    ),
    "me": Endpoint(
        "patient",
        "patch",
        lambda w: ME_URL,
        lambda w: {"first_name": "Changed"},
        200,
        NAMES,
    ),
    "password-change": Endpoint(
        "patient",
        "post",
        lambda w: PASSWORD_CHANGE_URL,
        lambda w: {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        204,
        [
            ("empty-object", "{}"),
            ("no-new-password", {"new_password": MISSING}),
            ("current-list", {"current_password": [DEFAULT_PASSWORD]}),
            ("new-object", {"new_password": {"a": 1}}),
            ("new-129", {"new_password": "x7" * 64 + "y"}),
            ("new-weak", {"new_password": "123"}),
        ],
    ),
    "password-reset": Endpoint(
        "anon",
        "post",
        lambda w: PASSWORD_RESET_URL,
        lambda w: {"email": w.target.email},
        202,
        [("empty-object", "{}"), *EMAILS],
    ),
    "password-reset-confirm": Endpoint(
        "anon",
        "post",
        lambda w: PASSWORD_RESET_CONFIRM_URL,
        lambda w: {"uid": w.reset_uid, "token": w.reset_token, "new_password": NEW_PASSWORD},
        204,
        [
            ("empty-object", "{}"),
            ("no-token", {"token": MISSING}),
            ("uid-list", {"uid": ["MQ"]}),
            ("uid-65", {"uid": "M" * 65}),
            ("token-129", {"token": "x" * 129}),
            ("token-object", {"token": {"a": 1}}),
            ("new-129", {"new_password": "x7" * 64 + "y"}),
            ("new-weak", {"new_password": "password"}),
        ],
    ),
    "user-create": Endpoint(
        "staff",
        "post",
        lambda w: USERS_URL,
        lambda w: {"email": "walk.in@example.com", "first_name": "Walk", "last_name": "In"},
        201,
        [
            ("empty-object", "{}"),
            ("no-email", {"email": MISSING}),
            ("no-last-name", {"last_name": MISSING}),
            ("send-invite-maybe", {"send_invite": "maybe"}),
            ("send-invite-list", {"send_invite": [True]}),
            *EMAILS,
            *NAMES,
        ],
    ),
    "user-update": Endpoint(
        "admin",
        "patch",
        lambda w: user_url(w.target),
        lambda w: {"first_name": "Changed", "email": "changed@example.com"},
        200,
        [*EMAILS, *NAMES, ("email-null", {"email": None})],
    ),
    "suspend": Endpoint(
        "admin",
        "post",
        lambda w: user_url(w.target) + "suspend/",
        lambda w: {"reason": "Abusive calls"},
        200,
        [
            ("empty-object", "{}"),
            ("reason-list", {"reason": ["x"]}),
            ("reason-null", {"reason": None}),
            ("reason-501", {"reason": "x" * 501}),
            ("reason-nul", {"reason": "x\x00"}),
        ],
    ),
    "promote": Endpoint(
        "admin",
        "post",
        lambda w: user_url(w.target) + "promote-to-doctor/",
        lambda w: {
            "specialty": "Dermatology",
            "bio": "Skin.",
            "license_number": "LIC-9",
            "location": "Room 2",
            "timezone": "Europe/Madrid",
        },
        200,
        [
            ("empty-object", "{}"),
            ("no-specialty", {"specialty": MISSING}),
            ("specialty-list", {"specialty": ["GP"]}),
            ("specialty-101", {"specialty": "x" * 101}),
            ("bio-2001", {"bio": "x" * 2001}),
            ("license-51", {"license_number": "x" * 51}),
            ("location-201", {"location": "x" * 201}),
            ("timezone-65", {"timezone": "x" * 65}),
            ("timezone-number", {"timezone": 5}),
            ("timezone-unknown", {"timezone": "Mars/Olympus"}),
        ],
    ),
    "doctor-me": Endpoint(
        "doctor",
        "patch",
        lambda w: DOCTOR_ME_URL,
        lambda w: {"bio": "New bio.", "location": "Room 9", "timezone": "Asia/Tokyo"},
        200,
        [
            ("bio-2001", {"bio": "x" * 2001}),
            ("bio-list", {"bio": ["x"]}),
            ("bio-null", {"bio": None}),
            ("location-201", {"location": "x" * 201}),
            ("timezone-blank", {"timezone": ""}),
            ("timezone-number", {"timezone": 5}),
            ("timezone-unknown", {"timezone": "Mars/Olympus"}),
            ("bio-nul", {"bio": "a\x00b"}),
        ],
    ),
}


def _send(world: World, endpoint: Endpoint, body: dict[str, Any] | str):
    client = world.clients[endpoint.caller]
    send = getattr(client, endpoint.method)
    if isinstance(body, str):
        return send(endpoint.path(world), data=body, content_type="application/json")
    return send(endpoint.path(world), body, format="json")


def _snapshot() -> tuple:
    return (
        row_counts(),
        list(User.objects.order_by("pk").values()),
        list(DoctorProfile.objects.order_by("pk").values()),
    )


@pytest.mark.parametrize("name", ENDPOINTS)
def test_the_valid_body_of_each_endpoint_succeeds(world, name):
    endpoint = ENDPOINTS[name]

    response = _send(world, endpoint, endpoint.valid(world))

    assert response.status_code == endpoint.ok, response.content


BAD_CASES = [
    pytest.param(name, body, id=f"{name}-{case}")
    for name, endpoint in ENDPOINTS.items()
    for case, body in [*endpoint.bad, *RAW]
]


@pytest.mark.parametrize(("name", "change"), BAD_CASES)
def test_bad_input_is_400_and_writes_nothing(world, name, change):
    endpoint = ENDPOINTS[name]
    if isinstance(change, str):
        body = change
    else:
        body = {**endpoint.valid(world), **change}
        body = {key: value for key, value in body.items() if value is not MISSING}
    before = _snapshot()

    response = _send(world, endpoint, body)

    assert response.status_code == 400, response.content
    assert isinstance(response.json(), dict)
    assert _snapshot() == before
