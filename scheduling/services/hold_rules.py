"""What every write that locks a block does with its hold (step 4 of the lock order, after the
block): close an expired open hold, find the live one, convert it into a booking.

Booking, reschedule, block writes and holds call these under their block lock, so no job is
needed for a hold to expire (the expire_holds job only tidies up what nobody touched).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from accounts.models import User
from audit.services import audit_record
from core.exceptions import HOLD_EXPIRED, SLOT_HELD, Conflict
from core.response_cache import ANY_AVAILABILITY, availability_scope, bump
from scheduling.models import OPEN_HOLD, Appointment, SlotHold, TimeBlock
from scheduling.services.waitlist_queue import waitlist_queue_block

Reason = SlotHold.ReleaseReason


def hold_close(*, hold: SlotHold, now: datetime.datetime, reason: str, actor: User | None) -> bool:
    """Close an open hold by a conditional update (only one writer closes it); audited, and the
    block shows again in the public lists once this commits."""
    closed = SlotHold.objects.filter(OPEN_HOLD, pk=hold.pk).update(
        released_at=now, release_reason=reason
    )
    if closed != 1:
        return False
    hold.released_at, hold.release_reason = now, reason
    action = "slot_hold.expired" if reason == Reason.EXPIRED else "slot_hold.released"
    audit_record(action=action, target=hold, actor=actor, data={"time_block": hold.time_block_id})
    bump(availability_scope(hold.doctor_id), ANY_AVAILABILITY)
    waitlist_queue_block(hold.time_block_id)  # the block may be free again
    return True


def live_hold_on(block: TimeBlock, *, now: datetime.datetime) -> SlotHold | None:
    """The block's live hold, locked (the caller holds the block's lock); an expired open hold
    is closed first, by the system."""
    hold = SlotHold.objects.select_for_update(of=("self",)).filter(OPEN_HOLD, time_block=block)
    hold = hold.first()
    if hold is not None and hold.expires_at <= now:
        hold_close(hold=hold, now=now, reason=Reason.EXPIRED, actor=None)
        return None
    return hold


def check_not_held(block: TimeBlock, *, now: datetime.datetime) -> None:
    """Block PATCH and DELETE: a live hold keeps the block as it is (409 slot_held)."""
    if live_hold_on(block, now=now) is not None:
        raise Conflict(SLOT_HELD, gettext("This time block is held by a patient."))


def hold_for_booking(
    *, block: TimeBlock, patient_id: int, named: SlotHold | None, now: datetime.datetime
) -> SlotHold | None:
    """A booking of `block` for the patient: the live hold it converts (theirs, named or not),
    or None. Another patient's live hold is 409 slot_held; a named hold no longer live is 409
    hold_expired. (A named hold of another patient or block was refused before: 400.)"""
    live = live_hold_on(block, now=now)
    if live is not None and live.patient_id != patient_id:
        raise Conflict(SLOT_HELD, gettext("This time block is held by another patient."))
    if named is not None and (live is None or live.pk != named.pk):
        raise Conflict(HOLD_EXPIRED, gettext("This hold has expired or was released."))
    return live


def hold_convert(*, hold: SlotHold, appointment: Appointment, now: datetime.datetime) -> None:
    """The booking's transaction ends the hold: converted into the appointment."""
    SlotHold.objects.filter(pk=hold.pk).update(converted_at=now, appointment=appointment)
    hold.converted_at, hold.appointment = now, appointment


def check_named_hold(*, hold: SlotHold | None, patient_id: int, block_id: int) -> None:
    """A named hold must be the patient's own, on the block booked (400 otherwise)."""
    if hold is not None and (hold.patient_id != patient_id or hold.time_block_id != block_id):
        raise ValidationError({"hold": [gettext("This hold is not yours for this time block.")]})
