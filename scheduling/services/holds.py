"""Slot holds: a patient keeps a block for HOLD_TTL_SECONDS, then books it (which converts the
hold) or lets it go (docs/api-rules.md, holds)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit.services import audit_record
from core.exceptions import HOLD_LIMIT, ILLEGAL_TRANSITION, PATIENT_OVERLAP, SLOT_HELD, Conflict
from core.locking import actor_id, lock_users, service_transaction
from core.response_cache import ANY_AVAILABILITY, availability_scope, bump
from scheduling.models import OPEN_HOLD, SlotHold, TimeBlock
from scheduling.services import hold_rules
from scheduling.services.appointments import (
    _check_bookable,
    _check_patient_free,
    _lock_block_for_booking,
    check_bookable_patient,
)

Reason = SlotHold.ReleaseReason


def _live_holds_of(patient: User, now: datetime.datetime):
    return SlotHold.objects.filter(OPEN_HOLD, patient=patient, expires_at__gt=now)


@service_transaction
def slot_hold_create(*, actor: User, patient: User, time_block: TimeBlock) -> SlotHold:
    """Hold a bookable block for the patient for HOLD_TTL_SECONDS: every booking rule applies
    (their own live holds count as overlap); another's live hold is 409 slot_held; more than
    HOLD_MAX_PER_PATIENT live holds is 409 hold_limit."""
    # As in booking: the patient's row, exclusively, serializes their holds (the limit, the
    # overlap); the doctor's, shared, keeps a deactivation from passing the checks.
    users = lock_users(exclusive=[patient.pk], shared=[time_block.doctor_id, actor_id(actor)])
    patient = users[patient.pk]
    check_bookable_patient(patient)
    block = _lock_block_for_booking(time_block)
    now = timezone.now()
    live = hold_rules.live_hold_on(block, now=now)  # closes an expired one first
    _check_bookable(block, now=now)
    if live is not None:
        raise Conflict(SLOT_HELD, gettext("This time block is already held."))
    _check_patient_free(patient=patient, start=block.start, end=block.end)
    mine = _live_holds_of(patient, now)
    if mine.filter(time_block__start__lt=block.end, time_block__end__gt=block.start).exists():
        raise Conflict(PATIENT_OVERLAP, gettext("You already hold a time block at that time."))
    if mine.count() >= settings.HOLD_MAX_PER_PATIENT:
        raise Conflict(
            HOLD_LIMIT,
            gettext("At most %(limit)d held time blocks at a time.")
            % {"limit": settings.HOLD_MAX_PER_PATIENT},
        )
    try:
        with transaction.atomic():
            hold = SlotHold.objects.create(
                time_block=block,
                doctor_id=block.doctor_id,
                patient=patient,
                expires_at=now + datetime.timedelta(seconds=settings.HOLD_TTL_SECONDS),
            )
    except IntegrityError as error:  # slot_hold_one_open_per_block
        raise Conflict(SLOT_HELD, gettext("This time block has just been held.")) from error
    hold.time_block = block
    audit_record(
        action="slot_hold.created",
        target=hold,
        actor=actor,
        data={"patient": patient.pk, "doctor": block.doctor_id, "time_block": block.pk},
    )
    bump(availability_scope(block.doctor_id), ANY_AVAILABILITY)
    return hold


@service_transaction
def slot_hold_release(*, actor: User, hold: SlotHold) -> SlotHold:
    """Let a hold go: released (or expired, when its time was up); again is no change; a
    converted hold is 409 illegal_transition."""
    lock_users(shared=[actor_id(actor)])
    hold = SlotHold.objects.select_for_update(of=("self",)).get(pk=hold.pk)
    if hold.converted_at is not None:
        raise Conflict(ILLEGAL_TRANSITION, gettext("This hold was booked; cancel the appointment."))
    if hold.released_at is None:
        now = timezone.now()
        if hold.expires_at <= now:
            hold_rules.hold_close(hold=hold, now=now, reason=Reason.EXPIRED, actor=None)
        else:
            hold_rules.hold_close(hold=hold, now=now, reason=Reason.RELEASED, actor=actor)
    return hold


@service_transaction
def _slot_hold_expire(*, hold_id: int, now: datetime.datetime) -> bool:
    hold = SlotHold.objects.filter(OPEN_HOLD, pk=hold_id, expires_at__lte=now).first()
    if hold is None:
        return False
    return hold_rules.hold_close(hold=hold, now=now, reason=Reason.EXPIRED, actor=None)


def slot_holds_expire() -> int:
    """Close every expired open hold (by the system), each by a conditional update in its own
    transaction: safe twice and beside the writes that close them under their block lock."""
    now = timezone.now()
    due = SlotHold.objects.filter(OPEN_HOLD, expires_at__lte=now).order_by("id")
    return sum(_slot_hold_expire(hold_id=pk, now=now) for pk in due.values_list("pk", flat=True))
