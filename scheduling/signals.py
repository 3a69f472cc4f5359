"""Invalidation of the cached public reads when blocks, appointments and reviews change.

No domain rules here (STYLE.md rule 7): these receivers only give cached answers new
versions (core/response_cache.py). Signals catch every write path that saves or deletes
a model (services, the admin, factories); writes that bypass them (bulk_create, queryset
update, COPY) bump explicitly.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from core.response_cache import ANY_AVAILABILITY, DIRECTORY, availability_scope, bump
from scheduling.models import Appointment, DoctorVisitType, Leave, Review, TimeBlock, VisitType

# Whether an appointment holds its block, and which block: what availability depends on.
APPOINTMENT_SLOT_FIELDS = frozenset({"status", "time_block", "doctor", "start", "end"})
# What the directory's ratings are derived from.
REVIEW_RATING_FIELDS = frozenset({"rating", "hidden_at", "doctor"})


def _touches(update_fields: frozenset[str] | None, fields: frozenset[str]) -> bool:
    """A save without update_fields (or a delete) may change anything."""
    return update_fields is None or bool(fields & set(update_fields))


def _block_changed(sender: type[TimeBlock], instance: TimeBlock, **kwargs) -> None:
    bump(availability_scope(instance.doctor_id), ANY_AVAILABILITY)


def _appointment_changed(
    sender: type[Appointment],
    instance: Appointment,
    update_fields: frozenset[str] | None = None,
    **kwargs,
) -> None:
    if _touches(update_fields, APPOINTMENT_SLOT_FIELDS):  # not reason, notes, reminders
        bump(availability_scope(instance.doctor_id), ANY_AVAILABILITY)


def _leave_changed(sender: type[Leave], instance: Leave, **kwargs) -> None:
    # A closure's doctors are bumped by its service, which knows them; every doctor's
    # availability shows in availability:any.
    scopes = [availability_scope(instance.doctor_id)] if instance.doctor_id else []
    bump(*scopes, ANY_AVAILABILITY)


def _review_changed(
    sender: type[Review], instance: Review, update_fields: frozenset[str] | None = None, **kwargs
) -> None:
    if _touches(update_fields, REVIEW_RATING_FIELDS):  # not a comment alone
        bump(DIRECTORY)


def _visit_type_changed(sender: type[VisitType], instance: VisitType, **kwargs) -> None:
    bump(DIRECTORY)  # the doctor shape lists the active types each doctor offers


def _offer_changed(sender: type[DoctorVisitType], instance: DoctorVisitType, **kwargs) -> None:
    bump(availability_scope(instance.doctor_id), ANY_AVAILABILITY, DIRECTORY)


def connect() -> None:
    """Called from SchedulingConfig.ready()."""
    receivers = (
        (TimeBlock, _block_changed, "block"),
        (Appointment, _appointment_changed, "appointment"),
        (Review, _review_changed, "review"),
        (VisitType, _visit_type_changed, "visit_type"),
        (DoctorVisitType, _offer_changed, "doctor_visit_type"),
        (Leave, _leave_changed, "leave"),
    )
    for model, receiver, label in receivers:
        post_save.connect(receiver, sender=model, dispatch_uid=f"response_cache.{label}_saved")
        post_delete.connect(receiver, sender=model, dispatch_uid=f"response_cache.{label}_deleted")
