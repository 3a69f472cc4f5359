"""Leave and clinic closures (DESIGN-R2 §R2-5; docs/api-rules.md, leave).

A leave is written under its doctor's exclusive user lock; a closure (doctor null, admins
only) under the locks of every doctor with blocks in it, by ascending id. Creating one
withdraws the free future blocks inside (one bulk update: no per-block field history, one
`leave.created` event with the counts), releases their live holds and reports the booked
visits it keeps; the bookable predicate (scheduling.selectors.in_active_leave) keeps every
block inside unbookable while the leave is active, even one freed later. Resolving moves or
cancels those visits one transaction each, so a run that stops halfway is simply run again.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit.services import audit_record
from core.exceptions import (
    BLOCK_TOO_SOON,
    BLOCK_WITHDRAWN,
    DOCTOR_ON_LEAVE,
    ILLEGAL_TRANSITION,
    LEAVE_OVERLAP,
    PATIENT_OVERLAP,
    SLOT_HELD,
    SLOT_TAKEN,
    Conflict,
)
from core.locking import actor_id, lock_users, service_transaction
from core.response_cache import ANY_AVAILABILITY, availability_scope, bump
from core.roles import CLINIC_ROLES
from scheduling import selectors
from scheduling.models import (
    ACTIVE_STATUSES,
    CLOSURE_CATEGORIES,
    DOCTOR_LEAVE_CATEGORIES,
    OPEN_HOLD,
    Appointment,
    CancellationCode,
    Leave,
    SlotHold,
    TimeBlock,
)
from scheduling.services import hold_rules
from scheduling.services.appointments import appointment_cancel, appointment_reschedule
from scheduling.services.checks import (
    check_doctor,
    conflict_from_integrity_error,
    leave_overlap_conflict,
)
from scheduling.services.templates import availability_materialize_doctor, template_doctor_ids
from scheduling.services.waitlist_offers import waitlist_rounds_withdraw
from scheduling.services.waitlist_queue import waitlist_queue_blocks

MAX_LEAVE_DAYS = 366
# Stored on each visit a resolution cancels (like "Account deactivated"): data, not a message.
LEAVE_CANCEL_REASON = "Doctor on leave"
RESOLVE_ACTIONS = ("cancel", "reschedule")
# How many candidate blocks a reschedule tries (taken meanwhile, the patient busy then).
RESCHEDULE_TRIES = 10
# A candidate that one of these refuses is skipped for the next one.
_TRY_NEXT_BLOCK = {
    SLOT_TAKEN,
    SLOT_HELD,
    PATIENT_OVERLAP,
    DOCTOR_ON_LEAVE,
    BLOCK_WITHDRAWN,
    BLOCK_TOO_SOON,
}
NO_FREE_BLOCK = "no_free_block"


# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------
def check_may_manage(*, actor: User, doctor_id: int | None) -> None:
    """Closures are admins' only; a doctor manages their own leave; staff and admins any
    doctor's (403 otherwise)."""
    role = getattr(actor, "role", None)
    if doctor_id is None:
        if role != User.Role.ADMIN:
            raise PermissionDenied(gettext("Only admins manage clinic closures."))
    elif role == User.Role.DOCTOR:
        if actor.pk != doctor_id:
            raise PermissionDenied(gettext("Doctors manage only their own leave."))
    elif role not in CLINIC_ROLES:
        raise PermissionDenied(gettext("You may not manage leave."))


def _check_leave(
    *,
    actor: User,
    doctor: User | None,
    start: datetime.datetime,
    end: datetime.datetime,
    category: str,
) -> None:
    check_may_manage(actor=actor, doctor_id=doctor.pk if doctor is not None else None)
    if doctor is not None:
        check_doctor(doctor)
    if end <= start:
        raise ValidationError({"end": [gettext("The end must be after the start.")]})
    if end <= timezone.now():
        raise ValidationError({"end": [gettext("The leave must end in the future.")]})
    if end - start > datetime.timedelta(days=MAX_LEAVE_DAYS):
        raise ValidationError(
            {"end": [gettext("A leave lasts at most %(days)d days.") % {"days": MAX_LEAVE_DAYS}]}
        )
    allowed = DOCTOR_LEAVE_CATEGORIES if doctor is not None else CLOSURE_CATEGORIES
    if category not in allowed:
        raise ValidationError(
            {"category": [gettext("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)}]}
        )


def _same_kind_overlapping(
    *, doctor_id: int | None, start: datetime.datetime, end: datetime.datetime
) -> QuerySet[Leave]:
    """Active leaves the new one may not overlap: the doctor's own, or (a closure) closures."""
    leaves = Leave.objects.filter(cancelled_at__isnull=True, start__lt=end, end__gt=start)
    if doctor_id is None:
        return leaves.filter(doctor__isnull=True)
    return leaves.filter(doctor_id=doctor_id)


def _blocks_in(
    *, doctor_ids: list[int] | None, start: datetime.datetime, end: datetime.datetime, now
) -> QuerySet[TimeBlock]:
    """Unwithdrawn future blocks overlapping [start, end) (of these doctors; None: any)."""
    blocks = TimeBlock.objects.filter(
        withdrawn_at__isnull=True, start__lt=end, end__gt=start, start__gt=now
    )
    return blocks if doctor_ids is None else blocks.filter(doctor_id__in=doctor_ids)


def _affected(
    *, doctor_ids: list[int] | None, start: datetime.datetime, end: datetime.datetime, now
) -> list[Appointment]:
    """The future active visits overlapping [start, end) (of these doctors; None: any)."""
    appointments = Appointment.objects.filter(
        status__in=ACTIVE_STATUSES, start__lt=end, end__gt=start, start__gt=now
    )
    if doctor_ids is not None:
        appointments = appointments.filter(doctor_id__in=doctor_ids)
    return list(appointments.order_by("start", "id"))


def _doctors_with_blocks(*, start: datetime.datetime, end: datetime.datetime, now) -> list[int]:
    ids = _blocks_in(doctor_ids=None, start=start, end=end, now=now).values_list(
        "doctor_id", flat=True
    )
    return sorted(set(ids.order_by()))


def _bump(doctor_ids: list[int]) -> None:
    bump(*(availability_scope(pk) for pk in doctor_ids), ANY_AVAILABILITY)


# ---------------------------------------------------------------------------
# Preview, create, cancel
# ---------------------------------------------------------------------------
@dataclass
class LeavePreview:
    free_blocks: int
    affected_appointments: list[Appointment]


@dataclass
class LeaveCreated:
    leave: Leave
    removed_blocks: int
    affected_appointments: list[Appointment]


def leave_preview(
    *,
    actor: User,
    doctor: User | None,
    start: datetime.datetime,
    end: datetime.datetime,
    category: str,
) -> LeavePreview:
    """What leave_create would do now, changing nothing: the free blocks it would withdraw
    and the visits it would keep (an overlap is the same 409 as creating)."""
    _check_leave(actor=actor, doctor=doctor, start=start, end=end, category=category)
    doctor_id = doctor.pk if doctor is not None else None
    if _same_kind_overlapping(doctor_id=doctor_id, start=start, end=end).exists():
        raise leave_overlap_conflict()
    now = timezone.now()
    doctor_ids = [doctor_id] if doctor_id is not None else None
    free = (
        _blocks_in(doctor_ids=doctor_ids, start=start, end=end, now=now)
        .exclude(selectors.has_active_appointment())
        .count()
    )
    return LeavePreview(
        free_blocks=free,
        affected_appointments=_affected(doctor_ids=doctor_ids, start=start, end=end, now=now),
    )


@service_transaction
def leave_create(
    *,
    actor: User,
    doctor: User | None,
    start: datetime.datetime,
    end: datetime.datetime,
    category: str,
    note: str = "",
) -> LeaveCreated:
    """A doctor's leave (a closure: doctor None, admins only), overlapping no other active one
    of the doctor (closures: no other closure; 409 leave_overlap). Free blocks inside are
    withdrawn and their live holds released; booked visits stay and are reported."""
    _check_leave(actor=actor, doctor=doctor, start=start, end=end, category=category)
    now = timezone.now()
    doctor_id = doctor.pk if doctor is not None else None
    # Step 1: the doctor's row (a closure: every doctor with blocks in it, ascending), so no
    # block is created, moved or booked in the span while the leave is written.
    doctor_ids = (
        [doctor_id]
        if doctor_id is not None
        else _doctors_with_blocks(start=start, end=end, now=now)
    )
    lock_users(exclusive=doctor_ids, shared=[actor_id(actor)])
    if _same_kind_overlapping(doctor_id=doctor_id, start=start, end=end).exists():
        raise leave_overlap_conflict()
    try:
        with transaction.atomic():  # leave_no_overlap (PostgreSQL) decides a race
            leave = Leave.objects.create(
                doctor=doctor,
                start=start,
                end=end,
                category=category,
                note=note,
                created_by=actor,
            )
    except IntegrityError as error:
        raise conflict_from_integrity_error(error, LEAVE_OVERLAP) from error
    # Step 3: the blocks inside; the free ones are withdrawn in one update.
    blocks = list(
        _blocks_in(doctor_ids=doctor_ids, start=start, end=end, now=now)
        .select_for_update(of=("self",))
        .annotate(booked=selectors.has_active_appointment())
        .order_by("start", "id")
    )
    free_ids = [block.pk for block in blocks if not block.booked]
    removed = TimeBlock.objects.filter(pk__in=free_ids, withdrawn_at__isnull=True).update(
        withdrawn_at=now
    )
    # Step 4: their holds (a patient's, or a waitlist round's) end now.
    released = 0
    holds = SlotHold.objects.select_for_update(of=("self",)).filter(
        OPEN_HOLD, time_block_id__in=free_ids
    )
    for hold in holds.order_by("id"):
        expired = hold.expires_at <= now
        reason = SlotHold.ReleaseReason.EXPIRED if expired else SlotHold.ReleaseReason.RELEASED
        released += hold_rules.hold_close(
            hold=hold, now=now, reason=reason, actor=None if expired else actor
        )
    # Step 5: a waitlist round on a withdrawn block ends without counting a missed offer.
    withdrawn_offers = waitlist_rounds_withdraw(block_ids=free_ids)
    affected = _affected(doctor_ids=doctor_ids, start=start, end=end, now=now)
    _bump(doctor_ids)
    audit_record(
        action="leave.created",
        target=leave,
        actor=actor,
        data={
            "doctor": doctor_id,
            "category": category,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "doctors": doctor_ids,
            "removed_blocks": removed,
            "released_holds": released,
            "withdrawn_offers": withdrawn_offers,
            "affected_appointments": len(affected),
            "source": "leave",
        },
    )
    return LeaveCreated(leave=leave, removed_blocks=removed, affected_appointments=affected)


def rematerialize_after_leave(*, doctor_ids: list[int]) -> None:
    """When a leave is cancelled, the doctors' standing schedules fill the span again (in the
    cancel's transaction, under the locks it took): the blocks the leave withdrew stay
    withdrawn, and the templates make new free blocks where no live block is."""
    for doctor_id in doctor_ids:
        availability_materialize_doctor(doctor_id=doctor_id)


@service_transaction
def leave_cancel(*, actor: User, leave: Leave) -> Leave:
    """Cancel an active leave (again: 409 illegal_transition): its blocks that are still
    unwithdrawn become bookable again, and the templates re-materialise the span."""
    check_may_manage(actor=actor, doctor_id=leave.doctor_id)
    # A closure's cancel re-materialises every doctor with a standing schedule: their users
    # are locked first, as the lock order says, before the leave's row.
    exclusive = [leave.doctor_id] if leave.doctor_id is not None else template_doctor_ids()
    lock_users(exclusive=exclusive, shared=[actor_id(actor)])
    leave = Leave.objects.select_for_update().get(pk=leave.pk)
    if leave.cancelled_at is not None:
        raise Conflict(ILLEGAL_TRANSITION, gettext("This leave is already cancelled."))
    now = timezone.now()
    leave.cancelled_at = now
    leave.save(update_fields=["cancelled_at"])
    doctor_ids = (
        [leave.doctor_id]
        if leave.doctor_id is not None
        else sorted(
            set(_doctors_with_blocks(start=leave.start, end=leave.end, now=now)) | set(exclusive)
        )
    )
    audit_record(
        action="leave.cancelled",
        target=leave,
        actor=actor,
        data={"doctor": leave.doctor_id, "doctors": doctor_ids},
    )
    rematerialize_after_leave(doctor_ids=exclusive)
    _bump(doctor_ids)
    # Blocks freed during the leave may be offered to the waitlist now (the job checks).
    blocks = _blocks_in(doctor_ids=doctor_ids, start=leave.start, end=leave.end, now=now)
    waitlist_queue_blocks(list(blocks.values_list("pk", flat=True)))
    return leave


# ---------------------------------------------------------------------------
# Resolve: the visits a leave kept, cancelled or moved one by one
# ---------------------------------------------------------------------------
@dataclass
class Unresolved:
    appointment: Appointment
    code: str


@dataclass
class LeaveResolution:
    cancelled: list[Appointment] = field(default_factory=list)
    rescheduled: list[Appointment] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)


def reschedule_candidates(
    *, appointment: Appointment, until: datetime.datetime
) -> QuerySet[TimeBlock]:
    """Bookable blocks of the appointment's doctor and length starting before `until`,
    earliest first."""
    length = appointment.end - appointment.start
    return (
        selectors.time_block_list_bookable(start=timezone.now())
        .filter(
            doctor_id=appointment.doctor_id,
            visit_type_id=appointment.visit_type_id,  # general (null) matches general only
            start__lt=until,
            end=F("start") + length,
        )
        .exclude(pk=appointment.time_block_id)
        .order_by("start", "id")
    )


def _reschedule_to_earliest(
    *, actor: User, appointment: Appointment, until: datetime.datetime
) -> Appointment | None:
    candidates = reschedule_candidates(appointment=appointment, until=until)
    for block in list(candidates[:RESCHEDULE_TRIES]):
        try:
            return appointment_reschedule(actor=actor, appointment=appointment, time_block=block)
        except Conflict as error:
            if error.code not in _TRY_NEXT_BLOCK:
                raise
    return None


def _resolved_meanwhile(appointment: Appointment, leave: Leave) -> bool:
    """The visit is no longer an active one inside the leave."""
    appointment.refresh_from_db(fields=["status", "start", "end", "time_block"])
    inside = appointment.start < leave.end and appointment.end > leave.start
    return appointment.status not in ACTIVE_STATUSES or not inside


@service_transaction
def _leave_resolved(*, actor: User, leave: Leave, action: str, result: LeaveResolution) -> None:
    audit_record(
        action="leave.resolved",
        target=leave,
        actor=actor,
        data={
            "action": action,
            "cancelled": [a.pk for a in result.cancelled],
            "rescheduled": [a.pk for a in result.rescheduled],
            "unresolved": [u.appointment.pk for u in result.unresolved],
        },
    )


def leave_resolve(*, actor: User, leave: Leave, action: str) -> LeaveResolution:
    """Cancel (as the clinic, code `leave`, no notice window) or move to the earliest bookable
    block of the same doctor and length (before the leave's end + LEAVE_RESCHEDULE_SEARCH_DAYS)
    each future active visit the active leave kept: one transaction and its mails per visit,
    so a second run finds only what could not be resolved (reported in `unresolved`)."""
    check_may_manage(actor=actor, doctor_id=leave.doctor_id)
    if action not in RESOLVE_ACTIONS:
        raise ValidationError({"action": [gettext("Choose cancel or reschedule.")]})
    leave = Leave.objects.get(pk=leave.pk)
    if leave.cancelled_at is not None:
        raise Conflict(ILLEGAL_TRANSITION, gettext("This leave is cancelled."))
    doctor_ids = [leave.doctor_id] if leave.doctor_id is not None else None
    until = leave.end + datetime.timedelta(days=settings.LEAVE_RESCHEDULE_SEARCH_DAYS)
    result = LeaveResolution()
    now = timezone.now()
    for appointment in _affected(doctor_ids=doctor_ids, start=leave.start, end=leave.end, now=now):
        try:
            if action == "cancel":
                done = appointment_cancel(
                    actor=actor,
                    appointment=appointment,
                    reason=LEAVE_CANCEL_REASON,
                    code=CancellationCode.LEAVE,
                )
                result.cancelled.append(done)
                continue
            moved = _reschedule_to_earliest(actor=actor, appointment=appointment, until=until)
        except Conflict as error:
            if _resolved_meanwhile(appointment, leave):
                continue  # a concurrent run (or someone at the desk) got there first
            result.unresolved.append(Unresolved(appointment=appointment, code=error.code))
            continue
        if moved is None:
            result.unresolved.append(Unresolved(appointment=appointment, code=NO_FREE_BLOCK))
        else:
            result.rescheduled.append(moved)
    _leave_resolved(actor=actor, leave=leave, action=action, result=result)
    return result
