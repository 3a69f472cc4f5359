"""Idempotent demo clinic: an admin, a front-desk user, doctors and patients."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.groups import FRONT_DESK_GROUP
from accounts.models import DoctorProfile, User

# Demo data only: printed on purpose so people can log in to the demo clinic.
DEMO_PASSWORD = "medappt-demo-2026"  # noqa: S105

DOCTORS = [
    # email, first, last, specialty, location, timezone
    ("ana.garcia@demo.medappt", "Ana", "García", "Cardiology", "Madrid Centro", "Europe/Madrid"),
    ("james.okafor@demo.medappt", "James", "Okafor", "Dermatology", "Brooklyn", "America/New_York"),
    ("mei.tanaka@demo.medappt", "Mei", "Tanaka", "Pediatrics", "Shibuya", "Asia/Tokyo"),
    ("lucas.silva@demo.medappt", "Lucas", "Silva", "General practice", "Main clinic", "UTC"),
]
PATIENTS = [
    ("paula.patient@demo.medappt", "Paula", "Patient"),
    ("peter.patient@demo.medappt", "Peter", "Patient"),
    ("priya.patient@demo.medappt", "Priya", "Patient"),
]


class Command(BaseCommand):
    help = (
        "Create the demo clinic (admin, front desk, doctors in several time zones, patients). "
        "Idempotent: existing demo users are left as they are, so a second run changes nothing."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            logins = self._seed_people()
        self.stdout.write(
            self.style.SUCCESS(f"Demo clinic ready. Logins (password for all: {DEMO_PASSWORD}):")
        )
        for role, email in logins:
            self.stdout.write(f"  {role:<8} {email}")

    def _user(self, email: str, first: str, last: str, role: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email, DEMO_PASSWORD, first_name=first, last_name=last, role=role
            )
        return user

    def _seed_people(self) -> list[tuple[str, str]]:
        logins = []
        admin = self._user("admin@demo.medappt", "Ada", "Admin", User.Role.ADMIN)
        logins.append(("admin", admin.email))
        desk = self._user("desk@demo.medappt", "Frank", "Desk", User.Role.STAFF)
        desk.groups.add(Group.objects.get(name=FRONT_DESK_GROUP))
        logins.append(("staff", desk.email))
        for email, first, last, specialty, location, zone in DOCTORS:
            doctor = self._user(email, first, last, User.Role.DOCTOR)
            DoctorProfile.objects.get_or_create(
                user=doctor,
                defaults={
                    "specialty": specialty,
                    "location": location,
                    "timezone": zone,
                    "bio": f"{first} {last} practises {specialty.lower()} at {location}.",
                    "license_number": f"DEMO-{doctor.pk:05d}",
                },
            )
            logins.append(("doctor", doctor.email))
        for email, first, last in PATIENTS:
            logins.append(("patient", self._user(email, first, last, User.Role.PATIENT).email))
        return logins
