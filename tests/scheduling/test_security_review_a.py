"""Security review, round 2 (issue 15): seed_demo without DEBUG (finding 14, SECURITY.md)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.services import auth_login
from core.exceptions import Unauthenticated
from scheduling.seeding import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_without_debug_refuses_and_creates_nothing(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--allow-demo-admin"):
        seed()
    assert not User.objects.exists()


def test_seed_demo_without_debug_but_allowed_uses_a_random_password(settings):
    settings.DEBUG = False
    output = seed("--allow-demo-admin")

    assert DEMO_PASSWORD not in output
    (password,) = re.findall(r"password for the accounts created now: (\S+)\)", output)
    assert len(password) >= 16
    admin = User.objects.get(email="admin@demo.medappt")
    assert admin.role == User.Role.ADMIN
    assert auth_login(email=admin.email, password=password)["access"]
    with pytest.raises(Unauthenticated):
        auth_login(email=admin.email, password=DEMO_PASSWORD)


def test_each_run_without_debug_gets_its_own_password(settings):
    settings.DEBUG = False
    pattern = r"password for the accounts created now: (\S+)\)"
    first = re.findall(pattern, seed("--allow-demo-admin"))
    second = re.findall(pattern, seed("--allow-demo-admin"))
    assert first != second


def test_seed_demo_with_debug_keeps_the_published_password(settings):
    settings.DEBUG = True
    output = seed()
    assert f"password for all: {DEMO_PASSWORD}" in output
    assert auth_login(email="admin@demo.medappt", password=DEMO_PASSWORD)["access"]
