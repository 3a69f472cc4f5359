"""Invalidation of the cached public reads when users and doctor profiles change.

No domain rules here (STYLE.md rule 7): these receivers only give cached answers new
versions (core/response_cache.py). Signals catch every write path that saves or deletes
a model (services, the admin, factories); writes that bypass them bump explicitly.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from accounts.models import DoctorProfile, User
from core.response_cache import DIRECTORY, availability_scope, bump

# What the directory and availability show of a doctor's user row, or decide on.
PUBLIC_USER_FIELDS = frozenset(
    {"first_name", "last_name", "photo", "role", "is_active", "suspended_at"}
)


def _user_changed(
    sender: type[User],
    instance: User,
    created: bool = False,
    update_fields: frozenset[str] | None = None,
    **kwargs,
) -> None:
    if update_fields is not None and not PUBLIC_USER_FIELDS & set(update_fields):
        return  # a password, last login, ...: nothing public
    if instance.role != User.Role.DOCTOR and (
        created or (update_fields is not None and "role" not in update_fields)
    ):
        return  # not a doctor, and not one a moment ago either
    bump(DIRECTORY, availability_scope(instance.pk))


def _profile_changed(sender: type[DoctorProfile], instance: DoctorProfile, **kwargs) -> None:
    # Availability answers 404 for a doctor without a profile: its scope changes too.
    bump(DIRECTORY, availability_scope(instance.user_id))


def connect() -> None:
    """Called from AccountsConfig.ready()."""
    for signal, name in ((post_save, "saved"), (post_delete, "deleted")):
        signal.connect(_user_changed, sender=User, dispatch_uid=f"response_cache.user_{name}")
        signal.connect(
            _profile_changed, sender=DoctorProfile, dispatch_uid=f"response_cache.profile_{name}"
        )
