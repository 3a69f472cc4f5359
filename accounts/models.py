"""Users (email login, one role each) and doctor profiles."""

from __future__ import annotations

import uuid
import zoneinfo
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from core.roles import Role

LANGUAGE_CHOICES = [("en", "English"), ("es", "Español")]

E164_VALIDATOR = RegexValidator(
    r"^\+[1-9]\d{1,14}$", gettext_lazy("Enter a phone number in E.164 form, e.g. +34600123456.")
)


def validate_timezone(value: str) -> None:
    """Accept only IANA time zone names known to zoneinfo."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            gettext("'%(value)s' is not a known IANA time zone.") % {"value": value}, code="invalid"
        )


def photo_upload_to(instance: User, filename: str) -> str:
    """Random storage keys: a photo's URL reveals nothing about its owner."""
    suffix = PurePath(filename).suffix.lower() or ".jpg"
    return f"photos/{uuid.uuid4().hex}{suffix}"


def default_doctor_timezone() -> str:
    return settings.TIME_ZONE


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("Users must have an email address.")
        fields.setdefault("role", User.Role.PATIENT)
        fields.update(User.role_flags(fields["role"]))
        user = self.model(email=normalize_email(email), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields["role"] = User.Role.ADMIN
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email: str) -> User:
        return self.get(email=normalize_email(email))


class User(AbstractBaseUser, PermissionsMixin):
    Role = Role

    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=16, blank=True, validators=[E164_VALIDATOR])
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PATIENT)
    # "" follows the browser (Accept-Language) and the clinic's LANGUAGE_CODE for mail.
    language = models.CharField(
        max_length=8, blank=True, default="", choices=[("", "Default"), *LANGUAGE_CHOICES]
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.CharField(max_length=500, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)
    photo = models.ImageField(upload_to=photo_upload_to, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    # Names are optional (blank=True): `createsuperuser --noinput --email` must work alone.
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["role", "last_name", "first_name"], name="user_role_name_idx"),
        ]
        constraints = [
            # Emails are stored lower-cased, so plain uniqueness is case-insensitive.
            models.CheckConstraint(condition=Q(email=Lower(F("email"))), name="user_email_lower"),
            models.CheckConstraint(
                condition=Q(role__in=["patient", "doctor", "staff", "admin"]),
                name="user_role_valid",
            ),
            models.CheckConstraint(
                condition=Q(language__in=["", "en", "es"]), name="user_language_valid"
            ),
            # Only admins are superusers; only staff and admins reach the Django admin.
            models.CheckConstraint(
                condition=Q(is_superuser=False) | Q(role="admin"), name="user_superuser_is_admin"
            ),
            models.CheckConstraint(
                condition=Q(is_staff=False) | Q(role__in=["staff", "admin"]),
                name="user_is_staff_matches_role",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @staticmethod
    def role_flags(role: str) -> dict[str, bool]:
        """The Django-admin flags that go with a role."""
        return {
            "is_staff": role in (User.Role.STAFF, User.Role.ADMIN),
            "is_superuser": role == User.Role.ADMIN,
        }

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def can_sign_in(self) -> bool:
        return self.is_active and self.suspended_at is None


class DoctorProfile(models.Model):
    """The public face of a doctor; its primary key is the doctor's user id."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="doctor_profile",
    )
    specialty = models.CharField(max_length=100)
    bio = models.TextField(max_length=2000, blank=True)
    license_number = models.CharField(max_length=50, blank=True)
    location = models.CharField(max_length=200, blank=True)
    hospital = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(
        max_length=64, default=default_doctor_timezone, validators=[validate_timezone]
    )

    class Meta:
        ordering = ["user__last_name", "user__first_name", "user_id"]
        indexes = [
            models.Index(Lower("specialty"), name="doctor_specialty_ci_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user.get_full_name()} ({self.specialty})"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class RevokedTokenFamily(models.Model):
    """A login's refresh tokens (its family: the first and every rotation of it), revoked at
    once: by logout, or because a rotated-out token of it was presented again."""

    class Reason(models.TextChoices):
        LOGOUT = "logout", "Logout"
        REUSE = "reuse", "A rotated-out token was used again"

    family = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", null=True
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    revoked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"token family {self.family} ({self.reason})"


class DoctorSpecialty(models.Model):
    """One of a doctor's specialties, in the doctor's order; position 0 is the profile's
    `specialty` (doctor_profile_update keeps the two in sync).

    A row per specialty rather than a JSON list: "any specialty, case-insensitively" is then
    an indexed `lower(name) = %s` lookup (doctor_specialty_name_ci_idx) on PostgreSQL and
    SQLite alike, where a JSON list has no portable, indexable element lookup (SQLite has no
    JSON `contains`). The public shape still shows a plain list of strings.
    """

    doctor = models.ForeignKey(
        DoctorProfile, on_delete=models.CASCADE, related_name="specialty_rows"
    )
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["doctor_id", "position"]
        indexes = [models.Index(Lower("name"), name="doctor_specialty_name_ci_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["doctor", "position"], name="doctor_specialty_position_unique"
            ),
            models.UniqueConstraint("doctor", Lower("name"), name="doctor_specialty_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name
