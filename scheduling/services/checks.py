"""Rules that the time block and appointment services share."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from core.exceptions import (
    BLOCK_OVERLAP,
    LEAVE_OVERLAP,
    PATIENT_OVERLAP,
    SLOT_TAKEN,
    Conflict,
)
from scheduling.models import Appointment, SlotHold, TimeBlock

MIN_BLOCK = datetime.timedelta(minutes=5)
MAX_BLOCK = datetime.timedelta(hours=12)
MAX_BULK_SLOTS = 1000
MAX_BULK_DAYS = 366


def check_block_times(*, start: datetime.datetime, end: datetime.datetime) -> None:
    """A block is in the future and lasts 5 minutes to 12 hours (400 otherwise)."""
    if start <= timezone.now():
        raise ValidationError({"start": [gettext("The block must start in the future.")]})
    if end <= start:
        raise ValidationError({"end": [gettext("The end must be after the start.")]})
    if not MIN_BLOCK <= end - start <= MAX_BLOCK:
        raise ValidationError({"end": [gettext("A block lasts between 5 minutes and 12 hours.")]})


def check_doctor(doctor: User) -> None:
    if doctor.role != User.Role.DOCTOR or not doctor.is_active:
        raise ValidationError({"doctor": [gettext("This user is not an active doctor.")]})


def overlapping_blocks(*, doctor_id: int, start, end, exclude_id: int | None = None):
    blocks = TimeBlock.objects.filter(
        doctor_id=doctor_id, withdrawn_at__isnull=True, start__lt=end, end__gt=start
    )
    return blocks.exclude(pk=exclude_id) if exclude_id else blocks


def block_was_used(block: TimeBlock) -> bool:
    """An appointment or a slot hold (live or not) ever named it: it is withdrawn, never
    deleted or moved (the rows keep pointing at it)."""
    used = Appointment.objects.filter(Q(time_block=block) | Q(rescheduled_from=block)).exists()
    return used or SlotHold.objects.filter(time_block=block).exists()


def leave_overlap_conflict() -> Conflict:
    return Conflict(LEAVE_OVERLAP, gettext("This overlaps another active leave or closure."))


def conflict_from_integrity_error(error: IntegrityError, default: str) -> Conflict:
    """Name the rule a constraint violation broke (PostgreSQL names the constraint)."""
    text = str(error)
    if "leave_no_overlap" in text:
        return leave_overlap_conflict()
    if "appointment_patient_no_overlap" in text:
        return Conflict(PATIENT_OVERLAP, gettext("You already have an appointment at that time."))
    if "appointment_one_active_per_block" in text or "scheduling_appointment.time_block" in text:
        return Conflict(SLOT_TAKEN, gettext("This time block has just been booked."))
    if "time_block_no_overlap" in text or "time_block_doctor_start_unique" in text:
        return Conflict(BLOCK_OVERLAP, gettext("This block overlaps another block of the doctor."))
    if "scheduling_timeblock" in text:
        return Conflict(BLOCK_OVERLAP, gettext("This block overlaps another block of the doctor."))
    return Conflict(default, gettext("The change conflicts with the current state."))
