"""The "Front desk" group after migrate, seed_demo and createsuperuser."""

import datetime
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from accounts.groups import FRONT_DESK_GROUP, FRONT_DESK_PERMISSIONS, ensure_front_desk_group
from accounts.models import DoctorProfile, User
from accounts.services import auth_login
from audit.models import AuditEvent
from scheduling.models import AvailabilityTemplate, DoctorVisitType, TimeBlock, VisitType
from tests.support.factories import StaffFactory

pytestmark = pytest.mark.django_db

ADMIN_ONLY_CODENAMES = {"change_user", "delete_user", "view_auditevent", "delete_auditevent"}


def front_desk_codenames() -> set[tuple[str, str]]:
    group = Group.objects.get(name=FRONT_DESK_GROUP)
    return set(group.permissions.values_list("content_type__app_label", "codename"))


# ---------------------------------------------------------------------------
# The Front desk group
# ---------------------------------------------------------------------------
def test_front_desk_group_exists_after_migrate_with_its_permissions():
    granted = front_desk_codenames()
    assert {
        ("accounts", "view_user"),
        ("accounts", "add_user"),
        ("accounts", "view_doctorprofile"),
    } <= granted


def test_front_desk_gets_every_listed_permission_whose_model_exists():
    existing = {
        (app, codename)
        for app, codename in FRONT_DESK_PERMISSIONS
        if Permission.objects.filter(content_type__app_label=app, codename=codename).exists()
    }
    assert front_desk_codenames() == existing


def test_front_desk_cannot_change_users_or_touch_the_audit_log():
    assert not {codename for _, codename in front_desk_codenames()} & ADMIN_ONLY_CODENAMES


def test_staff_user_in_the_group_has_its_permissions_in_the_admin():
    staff = StaffFactory()
    assert staff.has_perm("accounts.view_user")
    assert staff.has_perm("accounts.add_user")
    assert not staff.has_perm("accounts.change_user")
    assert not staff.has_perm("accounts.delete_user")


def test_group_handler_is_idempotent_and_restores_a_deleted_group():
    before = front_desk_codenames()
    Group.objects.filter(name=FRONT_DESK_GROUP).delete()
    accounts = apps.get_app_config("accounts")
    ensure_front_desk_group(sender=accounts)
    ensure_front_desk_group(sender=accounts)
    assert Group.objects.filter(name=FRONT_DESK_GROUP).count() == 1
    assert front_desk_codenames() == before


def test_migrate_on_an_empty_database_creates_the_group(tmp_path):
    # A brand-new database in a separate process: what `make run` does on a fresh machine.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "medappt.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
    }
    script = (
        "import django\n"
        "django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0, interactive=False)\n"
        "from django.contrib.auth.models import Group\n"
        "group = Group.objects.get(name='Front desk')\n"
        "print(sorted(group.permissions.values_list('codename', flat=True)))\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    granted = result.stdout.strip().splitlines()[-1]
    for codename in ("view_user", "add_user", "view_doctorprofile"):
        assert f"'{codename}'" in granted


# ---------------------------------------------------------------------------
# seed_demo
# ---------------------------------------------------------------------------
def seed() -> str:
    out = StringIO()
    with override_settings(DEBUG=True):  # as `make run` seeds; without DEBUG it refuses
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    return {
        "users": list(
            User.objects.order_by("pk").values(
                "pk",
                "email",
                "password",
                "role",
                "first_name",
                "last_name",
                "is_staff",
                "is_superuser",
                "is_active",
                "date_joined",
            )
        ),
        "profiles": list(DoctorProfile.objects.order_by("pk").values()),
        "memberships": list(
            User.groups.through.objects.order_by("pk").values("user_id", "group_id")
        ),
        "groups": list(Group.objects.order_by("pk").values("pk", "name")),
        "audit_events": AuditEvent.objects.count(),
    }


def test_seed_demo_creates_an_admin():
    seed()
    admin = User.objects.get(role=User.Role.ADMIN)
    assert admin.is_superuser
    assert admin.is_staff


def test_seed_demo_creates_a_front_desk_user_in_the_group():
    seed()
    desk = User.objects.get(role=User.Role.STAFF)
    assert desk.is_staff
    assert not desk.is_superuser
    assert desk.groups.filter(name=FRONT_DESK_GROUP).exists()


def test_seed_demo_creates_doctors_with_profiles_in_several_timezones():
    seed()
    doctors = User.objects.filter(role=User.Role.DOCTOR)
    assert doctors.count() >= 3
    assert all(DoctorProfile.objects.filter(user=doctor).exists() for doctor in doctors)
    zones = set(DoctorProfile.objects.values_list("timezone", flat=True))
    assert len(zones) >= 3


def test_seed_demo_creates_patients():
    seed()
    assert User.objects.filter(role=User.Role.PATIENT).count() >= 2


def test_seed_demo_prints_working_logins():
    output = seed()
    for user in User.objects.all():
        assert user.email in output
    password = next(
        line.split("password for all:")[1].strip(" )\n:")
        for line in output.splitlines()
        if "password for all:" in line
    )
    for role in User.Role.values:
        user = User.objects.filter(role=role).first()
        assert auth_login(email=user.email, password=password)["access"]


def test_seed_demo_twice_creates_nothing_new_and_changes_nothing():
    seed()
    first = snapshot()
    output = seed()
    assert snapshot() == first
    assert "admin@demo.medappt" in output


def test_seed_demo_leaves_existing_users_as_they_are():
    seed()
    admin = User.objects.get(email="admin@demo.medappt")
    admin.first_name = "Renamed"
    admin.save(update_fields=["first_name"])
    seed()
    admin.refresh_from_db()
    assert admin.first_name == "Renamed"


# ---------------------------------------------------------------------------
# createsuperuser
# ---------------------------------------------------------------------------
def test_createsuperuser_noinput_creates_a_clinic_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-password-42")
    call_command("createsuperuser", "--noinput", "--email", "Boss@Example.COM", stdout=StringIO())
    user = User.objects.get()
    assert user.email == "boss@example.com"
    assert user.role == User.Role.ADMIN
    assert user.is_staff
    assert user.is_superuser
    assert user.is_active
    assert user.check_password("a-long-admin-password-42")


def test_createsuperuser_refuses_an_email_that_is_taken_in_another_case(monkeypatch, patient):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-password-42")
    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "createsuperuser", "--noinput", "--email", patient.email.upper(), stdout=StringIO()
        )
    assert not User.objects.filter(role=User.Role.ADMIN).exists()


def test_seed_demo_gives_doctors_visit_types_and_standing_schedules():
    seed()

    assert set(VisitType.objects.values_list("slug", "duration_minutes")) == {
        ("first-consultation", 30),
        ("follow-up", 15),
    }
    doctors = User.objects.filter(role=User.Role.DOCTOR)
    assert DoctorVisitType.objects.filter(active=True).count() == 2 * doctors.count()
    assert AvailabilityTemplate.objects.count() == 3 * doctors.count()
    future = TimeBlock.objects.filter(start__gt=timezone.now())
    assert set(future.values_list("source", flat=True)) == {"template"}
    tagged = future.filter(visit_type__slug="follow-up").first()
    assert tagged.end - tagged.start == datetime.timedelta(minutes=15)
    assert future.filter(visit_type__isnull=True).exists()
