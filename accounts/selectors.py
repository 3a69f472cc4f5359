"""Reads of accounts that carry rules."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import DoctorProfile, User


def user_list_visible_to(*, user: User) -> QuerySet[User]:
    """Staff and admins see every user; nobody else sees the user list."""
    if getattr(user, "role", None) in (User.Role.STAFF, User.Role.ADMIN):
        return User.objects.all().order_by("id")
    return User.objects.none()


def doctor_list_public(*, ratings: bool = True) -> QuerySet[DoctorProfile]:
    """Doctors the public may see: active, unsuspended users with the doctor role, with their
    rating derived from visible reviews in the same query (`ratings=False` leaves it out, for
    a mere check that a doctor is public)."""
    from scheduling.selectors import with_ratings

    doctors = (
        DoctorProfile.objects.select_related("user")
        .filter(
            user__role=User.Role.DOCTOR,
            user__is_active=True,
            user__suspended_at__isnull=True,
        )
        .order_by("user__last_name", "user__first_name", "user_id")
    )
    return with_ratings(doctors) if ratings else doctors


def doctor_profile_of(*, user: User) -> QuerySet[DoctorProfile]:
    """The doctor's own profile (whatever their status), with its rating."""
    from scheduling.selectors import with_ratings

    return with_ratings(DoctorProfile.objects.select_related("user").filter(user=user))
