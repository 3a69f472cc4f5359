"""Time blocks: create one, create a weekly pattern, move, withdraw or delete."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User, validate_timezone
from audit.services import audit_record
from core.exceptions import (
    BLOCK_HAS_APPOINTMENT,
    BLOCK_IN_PAST,
    BLOCK_OVERLAP,
    BLOCK_WITHDRAWN,
    DOCTOR_ON_LEAVE,
    Conflict,
)
from core.locking import actor_id, lock_users, service_transaction
from core.response_cache import ANY_AVAILABILITY, availability_scope, bump
from scheduling import selectors
from scheduling.models import ACTIVE_STATUSES, TimeBlock, VisitType
from scheduling.services import hold_rules
from scheduling.services.checks import (
    MAX_BULK_DAYS,
    MAX_BULK_SLOTS,
    block_was_used,
    check_block_times,
    check_doctor,
    conflict_from_integrity_error,
    overlapping_blocks,
)
from scheduling.services.slots import day_slots
from scheduling.services.visit_types import check_tagged_length, check_visit_type_for_block
from scheduling.services.waitlist_queue import waitlist_queue_block, waitlist_queue_blocks


@service_transaction
def time_block_create(
    *,
    actor: User,
    doctor: User,
    start: datetime.datetime,
    end: datetime.datetime | None = None,
    visit_type: VisitType | None = None,
) -> TimeBlock:
    """A new free block for the doctor; it may not overlap their other blocks. A tagged block
    (an active type the doctor offers) lasts the type's duration: `end` may be left out."""
    check_doctor(doctor)
    if visit_type is not None:
        check_visit_type_for_block(doctor=doctor, visit_type=visit_type)
        if end is None:
            end = start + datetime.timedelta(minutes=visit_type.duration_minutes)
    if end is None:
        raise ValidationError({"end": [gettext("This field is required.")]})
    check_block_times(start=start, end=end)
    check_tagged_length(visit_type=visit_type, start=start, end=end)
    # Serializes block writes per doctor (SQLite has no exclusion constraint).
    lock_users(exclusive=[doctor.pk], shared=[actor_id(actor)])
    _check_not_on_leave(doctor_id=doctor.pk, start=start, end=end)
    if overlapping_blocks(doctor_id=doctor.pk, start=start, end=end).exists():
        raise Conflict(BLOCK_OVERLAP, gettext("This block overlaps another block of the doctor."))
    try:
        with transaction.atomic():
            block = TimeBlock.objects.create(
                doctor=doctor, start=start, end=end, visit_type=visit_type
            )
    except IntegrityError as error:
        raise conflict_from_integrity_error(error, BLOCK_OVERLAP) from error
    data = {"doctor": doctor.pk}
    if visit_type is not None:
        data["visit_type"] = visit_type.pk
    audit_record(action="time_block.created", target=block, actor=actor, data=data)
    waitlist_queue_block(block.pk)  # someone may be waiting for it
    return block


def _check_not_on_leave(*, doctor_id: int, start: datetime.datetime, end: datetime.datetime):
    """A single block may not lie in an active leave of its doctor or a closure (409). The
    caller holds the doctor's lock, under which leaves are written."""
    if selectors.active_leaves_overlapping(doctor_id=doctor_id, start=start, end=end).exists():
        raise Conflict(DOCTOR_ON_LEAVE, gettext("The doctor is on leave at this time."))


@dataclass(frozen=True)
class BulkResult:
    created: int
    skipped: int
    total: int
    on_leave: int = 0


def _bulk_candidates(
    *,
    date_from: datetime.date,
    date_to: datetime.date,
    weekdays: set[int],
    start_time: datetime.time,
    end_time: datetime.time,
    slot_minutes: int,
    zone: zoneinfo.ZoneInfo,
) -> list[tuple[datetime.datetime, datetime.datetime] | None]:
    """Every slot of the weekly pattern (scheduling/services/slots.py cuts each day); None
    for one in a DST gap. Stops past MAX_BULK_SLOTS."""
    candidates: list[tuple[datetime.datetime, datetime.datetime] | None] = []
    for offset in range((date_to - date_from).days + 1):
        day = date_from + datetime.timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        for slot in day_slots(
            day=day,
            start_time=start_time,
            end_time=end_time,
            slot_minutes=slot_minutes,
            zone=zone,
        ):
            candidates.append(slot)
            if len(candidates) > MAX_BULK_SLOTS:
                return candidates
    return candidates


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """An IANA zone by name; an unknown name is a 400 on `timezone`, not a crash."""
    try:
        validate_timezone(name)
        return zoneinfo.ZoneInfo(name)
    except (ValidationError, ValueError, zoneinfo.ZoneInfoNotFoundError) as error:
        message = gettext("'%(value)s' is not a known IANA time zone.") % {"value": name}
        raise ValidationError({"timezone": [message]}) from error


@service_transaction
def time_block_bulk_create(
    *,
    actor: User,
    doctor: User,
    date_from: datetime.date,
    date_to: datetime.date,
    weekdays: list[int],
    start_time: datetime.time,
    end_time: datetime.time,
    slot_minutes: int | None = None,
    timezone_name: str | None = None,
    visit_type: VisitType | None = None,
) -> BulkResult:
    """A weekly pattern of blocks in one transaction; past, overlapping and DST-gap slots skip.
    Tagged blocks last the type's duration (slot_minutes defaults to it; another value: 400).
    No per-block field history: one time_block.bulk_created event (DESIGN-R2 R2-0)."""
    check_doctor(doctor)
    slot_minutes = resolve_slot_minutes(
        doctor=doctor, visit_type=visit_type, slot_minutes=slot_minutes
    )
    if date_to < date_from:
        raise ValidationError(
            {"date_to": [gettext("Must not be before %(other)s.") % {"other": "date_from"}]}
        )
    if (date_to - date_from).days > MAX_BULK_DAYS:
        message = gettext("At most %(days)d days after %(other)s.") % {
            "days": MAX_BULK_DAYS,
            "other": "date_from",
        }
        raise ValidationError({"date_to": [message]})
    if end_time <= start_time:
        raise ValidationError(
            {"end_time": [gettext("Must be after %(other)s.") % {"other": "start_time"}]}
        )
    if not weekdays or not set(weekdays) <= set(range(7)):
        raise ValidationError(
            {"weekdays": [gettext("Give one or more weekdays, 0 (Monday) to 6.")]}
        )
    if not 5 <= slot_minutes <= 720:
        raise ValidationError({"slot_minutes": [gettext("Between 5 and 720 minutes.")]})
    profile = getattr(doctor, "doctor_profile", None)
    zone = zone_named(timezone_name or (profile.timezone if profile else settings.TIME_ZONE))
    try:
        candidates = _bulk_candidates(
            date_from=date_from,
            date_to=date_to,
            weekdays=set(weekdays),
            start_time=start_time,
            end_time=end_time,
            slot_minutes=slot_minutes,
            zone=zone,
        )
    except OverflowError as error:  # a slot beyond year 1 or 9999 once converted to UTC
        raise ValidationError(
            {"non_field_errors": [gettext("The dates are out of range.")]}
        ) from error
    if len(candidates) > MAX_BULK_SLOTS:
        raise ValidationError(
            {
                "non_field_errors": [
                    gettext("At most %(slots)d slots per call; narrow the range.")
                    % {"slots": MAX_BULK_SLOTS}
                ]
            }
        )

    lock_users(exclusive=[doctor.pk], shared=[actor_id(actor)])
    now = timezone.now()
    slots = [c for c in candidates if c is not None and c[0] > now]
    taken: list[tuple[datetime.datetime, datetime.datetime]] = []
    leaves: list[tuple[datetime.datetime, datetime.datetime]] = []
    if slots:
        taken = list(
            overlapping_blocks(
                doctor_id=doctor.pk, start=slots[0][0], end=slots[-1][1]
            ).values_list("start", "end")
        )
        leaves = selectors.leave_spans(doctor_id=doctor.pk, start=slots[0][0], end=slots[-1][1])
    accepted: list[TimeBlock] = []
    on_leave = 0
    for start, end in slots:
        if any(s < end and start < e for s, e in leaves):
            on_leave += 1
            continue
        if any(s < end and start < e for s, e in taken):
            continue
        taken.append((start, end))
        accepted.append(
            TimeBlock(
                doctor=doctor,
                start=start,
                end=end,
                visit_type=visit_type,
                source=TimeBlock.Source.BULK,
            )
        )
    try:
        with transaction.atomic():
            created = TimeBlock.objects.bulk_create(accepted)
    except IntegrityError as error:
        raise conflict_from_integrity_error(error, BLOCK_OVERLAP) from error
    # bulk_create sends no signals: the public cache is told here. No per-block field history
    # (DESIGN-R2 R2-0): the one audit event below records the operation.
    if created:
        bump(availability_scope(doctor.pk), ANY_AVAILABILITY)
    waitlist_queue_blocks([block.pk for block in created])  # someone may be waiting for them
    result = BulkResult(
        created=len(created),
        skipped=len(candidates) - len(created),
        total=len(candidates),
        on_leave=on_leave,
    )
    audit_record(
        action="time_block.bulk_created",
        target=doctor,
        actor=actor,
        data={
            "doctor": doctor.pk,
            "created": result.created,
            "skipped": result.skipped,
            "total": result.total,
            "on_leave": result.on_leave,
            "time_zone": zone.key,
            "source": "bulk",
            "visit_type": visit_type.pk if visit_type else None,
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        },
    )
    return result


def resolve_slot_minutes(
    *, doctor: User, visit_type: VisitType | None, slot_minutes: int | None
) -> int:
    """The slot length of a pattern: a tagged one takes the type's duration (an offered,
    active type; another slot_minutes is a 400); an untagged one needs slot_minutes."""
    if visit_type is not None:
        check_visit_type_for_block(doctor=doctor, visit_type=visit_type)
        if slot_minutes is not None and slot_minutes != visit_type.duration_minutes:
            message = gettext("A block of this visit type lasts %(minutes)d minutes.") % {
                "minutes": visit_type.duration_minutes
            }
            raise ValidationError({"slot_minutes": [message]})
        return visit_type.duration_minutes
    if slot_minutes is None:
        raise ValidationError({"slot_minutes": [gettext("This field is required.")]})
    return slot_minutes


def _lock_block(block: TimeBlock) -> TimeBlock:
    """The block's row, locked; TimeBlock.DoesNotExist if a concurrent request deleted it."""
    return TimeBlock.objects.select_for_update().get(pk=block.pk)


@service_transaction
def time_block_update(
    *,
    actor: User,
    block: TimeBlock,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
) -> TimeBlock:
    """Move a future block that no appointment ever used."""
    lock_users(exclusive=[block.doctor_id], shared=[actor_id(actor)])
    block = _lock_block(block)
    if block.start <= timezone.now():
        raise Conflict(BLOCK_IN_PAST, gettext("Past blocks cannot be changed."))
    if block.withdrawn_at is not None:
        raise Conflict(BLOCK_WITHDRAWN, gettext("This block has been withdrawn."))
    hold_rules.check_not_held(block, now=timezone.now())
    if block_was_used(block):
        raise Conflict(
            BLOCK_HAS_APPOINTMENT, gettext("This block has appointments and cannot change.")
        )
    new_start = start or block.start
    new_end = end or block.end
    check_block_times(start=new_start, end=new_end)
    check_tagged_length(visit_type=block.visit_type, start=new_start, end=new_end)
    _check_not_on_leave(doctor_id=block.doctor_id, start=new_start, end=new_end)
    if overlapping_blocks(
        doctor_id=block.doctor_id, start=new_start, end=new_end, exclude_id=block.pk
    ).exists():
        raise Conflict(BLOCK_OVERLAP, gettext("This block overlaps another block of the doctor."))
    changed = [
        name
        for name, value in (("start", new_start), ("end", new_end))
        if getattr(block, name) != value
    ]
    if not changed:
        return block
    block.start, block.end = new_start, new_end
    try:
        with transaction.atomic():
            block.save(update_fields=changed)
    except IntegrityError as error:
        raise conflict_from_integrity_error(error, BLOCK_OVERLAP) from error
    audit_record(action="time_block.updated", target=block, actor=actor, data={"fields": changed})
    return block


@service_transaction
def time_block_delete(*, actor: User, block: TimeBlock) -> str:
    """Delete a never-used future block, or withdraw one whose appointments are all over.

    Returns "deleted" or "withdrawn". A block with an active appointment stays (409).
    """
    lock_users(shared=[actor_id(actor)])
    block = _lock_block(block)
    if block.start <= timezone.now():
        raise Conflict(BLOCK_IN_PAST, gettext("Past blocks cannot be removed."))
    if block.withdrawn_at is not None:  # a concurrent request withdrew it first
        raise Conflict(BLOCK_WITHDRAWN, gettext("This block has been withdrawn."))
    hold_rules.check_not_held(block, now=timezone.now())
    if block.appointments.filter(status__in=ACTIVE_STATUSES).exists():
        raise Conflict(BLOCK_HAS_APPOINTMENT, gettext("Cancel or move the appointment first."))
    if block_was_used(block):
        block.withdrawn_at = timezone.now()
        block.save(update_fields=["withdrawn_at"])
        audit_record(action="time_block.withdrawn", target=block, actor=actor)
        return "withdrawn"
    audit_record(
        action="time_block.deleted",
        target=block,
        actor=actor,
        data={"doctor": block.doctor_id},
    )
    block.delete()
    return "deleted"
