"""Reads of accounts that carry rules."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from accounts import hooks
from accounts.models import DoctorProfile, User
from core.roles import CLINIC_ROLES


def user_list_visible_to(*, user: User) -> QuerySet[User]:
    """Staff and admins see every user; nobody else sees the user list."""
    if getattr(user, "role", None) in CLINIC_ROLES:
        return User.objects.all().order_by("id")
    return User.objects.none()


def user_future_commitments(*, user: User) -> int:
    """How many future active appointments (or other commitments the apps above register)
    the user still has."""
    return sum(count(user) for count in hooks.future_commitments)


def user_photo_owners(*, viewer: User) -> QuerySet[User]:
    """Active users whose photo may be asked for, each carrying whether the apps above let the
    viewer see it (`photo_shown_to_viewer`: a doctor and their patients), in the same query."""
    owners = User.objects.filter(is_active=True)
    if not viewer.is_authenticated:
        return owners
    expressions = [e for e in (may_see(viewer) for may_see in hooks.photo_viewers) if e is not None]
    if expressions:
        condition = Q()
        for expression in expressions:
            condition |= Q(expression)
        owners = owners.annotate(
            photo_shown_to_viewer=ExpressionWrapper(condition, output_field=BooleanField())
        )
    return owners


def user_photo_visible_to(*, viewer: User, owner: User) -> bool:
    """Doctors' photos are public; others' go to the owner, staff and their doctors. `owner`
    comes from user_photo_owners(viewer=viewer)."""
    if owner.role == User.Role.DOCTOR:
        return True
    if not viewer.is_authenticated:
        return False
    if viewer.pk == owner.pk or viewer.role in CLINIC_ROLES:
        return True
    return bool(getattr(owner, "photo_shown_to_viewer", False))


def doctor_specialties(profile: DoctorProfile) -> list[str]:
    """The doctor's specialties in order (prefetched rows when there are; a profile made
    without rows shows its one `specialty`)."""
    names = [row.name for row in profile.specialty_rows.all()]
    return names or ([profile.specialty] if profile.specialty else [])
