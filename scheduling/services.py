"""Every state change of scheduling: time blocks and the appointment lifecycle (DESIGN.md §4).

Each service is keyword-only, runs in one transaction, records its audit event in it and
is race-safe: the rows it decides on are locked (`select_for_update`), and the database
constraints behind each rule turn a lost race into an IntegrityError inside a savepoint,
which becomes the same 409 the check would have given.

Lock order. Every transaction takes its row locks in one global order, so two of them can
never wait on each other in a cycle (PostgreSQL's "deadlock detected"):

1. user rows, by ascending id (`lock_users`): FOR UPDATE for the users whose rules the
   service holds (the patient booking or rescheduling, the doctor whose blocks change, the
   user being deactivated); FOR KEY SHARE for those it only checks or references (the
   appointment's or block's doctor, the actor). PostgreSQL takes that key-share lock
   anyway, but late, for a foreign key to the row (an appointment's patient, doctor and
   cancelled_by, a field-history entry's actor); taken first, it cannot close a cycle;
2. the appointment (several: by start, then id);
3. the time block. (A reschedule's old block is only referenced: nothing that locks a
   block waits for another row after it.)

`service_transaction` reruns a transaction once if PostgreSQL still aborts it with a
deadlock or a serialization failure.
"""

from __future__ import annotations

import datetime
import functools
import logging
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg import errors as pg_errors

from accounts.models import User, validate_timezone
from audit.services import audit_record, field_history_bulk_created
from medappt.exceptions import (
    BLOCK_HAS_APPOINTMENT,
    BLOCK_IN_PAST,
    BLOCK_OVERLAP,
    BLOCK_TOO_SOON,
    BLOCK_WITHDRAWN,
    CANCELLATION_TOO_LATE,
    DOCTOR_UNAVAILABLE,
    ILLEGAL_TRANSITION,
    NOT_STARTED,
    PATIENT_OVERLAP,
    SLOT_TAKEN,
    TOO_MANY_ACTIVE,
    Conflict,
)
from medappt.response_cache import ANY_AVAILABILITY, availability_scope, bump
from scheduling import notifications
from scheduling.models import ACTIVE_STATUSES, Appointment, TimeBlock

Status = Appointment.Status

MIN_BLOCK = datetime.timedelta(minutes=5)
MAX_BLOCK = datetime.timedelta(hours=12)
MAX_BULK_SLOTS = 1000
MAX_BULK_DAYS = 366

logger = logging.getLogger(__name__)
Params = ParamSpec("Params")
Result = TypeVar("Result")


# ---------------------------------------------------------------------------
# Transactions and the lock order (module docstring)
# ---------------------------------------------------------------------------
def _aborted_by_lock_conflict(error: OperationalError) -> bool:
    return isinstance(error.__cause__, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)


def service_transaction(service: Callable[Params, Result]) -> Callable[Params, Result]:
    """`transaction.atomic`; the outermost transaction runs once more if PostgreSQL aborted it
    for a deadlock or a serialization failure (nothing of it was kept, no mail was sent)."""
    atomic_service = transaction.atomic(service)

    @functools.wraps(service)
    def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        if connection.in_atomic_block:  # only the outermost transaction can start over
            return atomic_service(*args, **kwargs)
        try:
            return atomic_service(*args, **kwargs)
        except OperationalError as error:
            if not _aborted_by_lock_conflict(error):
                raise
            logger.warning("%s: %s; retrying once", service.__name__, error.__cause__.sqlstate)
        return atomic_service(*args, **kwargs)

    return run


def _key_share_lock(user_id: int) -> None:
    """FOR KEY SHARE of one user row: it waits only for a FOR UPDATE lock (Django's API has
    no shared row lock). SQLite has no row locks: its write transaction serializes writers."""
    if connection.vendor != "postgresql":
        return
    sql, params = User.objects.filter(pk=user_id).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} FOR KEY SHARE", params)


def lock_users(
    *, exclusive: Iterable[int | None] = (), shared: Iterable[int | None] = ()
) -> dict[int, User]:
    """Step 1 of the lock order: the user rows by ascending id, FOR UPDATE for `exclusive`,
    FOR KEY SHARE for the rest of `shared` (None is skipped). Returns the exclusive ones, fresh."""
    is_exclusive = {pk: False for pk in shared if pk is not None}
    is_exclusive.update({pk: True for pk in exclusive if pk is not None})
    locked = {}
    for pk in sorted(is_exclusive):
        if is_exclusive[pk]:
            locked[pk] = User.objects.select_for_update().get(pk=pk)
        else:
            _key_share_lock(pk)
    return locked


def _actor_id(actor: User | None) -> int | None:
    return actor.pk if actor is not None else None


# ---------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------
def _check_block_times(*, start: datetime.datetime, end: datetime.datetime) -> None:
    """A block is in the future and lasts 5 minutes to 12 hours (400 otherwise)."""
    if start <= timezone.now():
        raise ValidationError({"start": ["The block must start in the future."]})
    if end <= start:
        raise ValidationError({"end": ["The end must be after the start."]})
    if not MIN_BLOCK <= end - start <= MAX_BLOCK:
        raise ValidationError({"end": ["A block lasts between 5 minutes and 12 hours."]})


def _check_doctor(doctor: User) -> None:
    if doctor.role != User.Role.DOCTOR or not doctor.is_active:
        raise ValidationError({"doctor": ["This user is not an active doctor."]})


def _overlapping_blocks(*, doctor_id: int, start, end, exclude_id: int | None = None):
    blocks = TimeBlock.objects.filter(
        doctor_id=doctor_id, withdrawn_at__isnull=True, start__lt=end, end__gt=start
    )
    return blocks.exclude(pk=exclude_id) if exclude_id else blocks


def _block_was_used(block: TimeBlock) -> bool:
    return Appointment.objects.filter(Q(time_block=block) | Q(rescheduled_from=block)).exists()


def _conflict_from_integrity_error(error: IntegrityError, default: str) -> Conflict:
    """Name the rule a constraint violation broke (PostgreSQL names the constraint)."""
    text = str(error)
    if "appointment_patient_no_overlap" in text:
        return Conflict(PATIENT_OVERLAP, "You already have an appointment at that time.")
    if "appointment_one_active_per_block" in text or "scheduling_appointment.time_block" in text:
        return Conflict(SLOT_TAKEN, "This time block has just been booked.")
    if "time_block_no_overlap" in text or "time_block_doctor_start_unique" in text:
        return Conflict(BLOCK_OVERLAP, "This block overlaps another block of the doctor.")
    if "scheduling_timeblock" in text:
        return Conflict(BLOCK_OVERLAP, "This block overlaps another block of the doctor.")
    return Conflict(default, "The change conflicts with the current state.")


# ---------------------------------------------------------------------------
# Time blocks
# ---------------------------------------------------------------------------
@service_transaction
def time_block_create(
    *, actor: User, doctor: User, start: datetime.datetime, end: datetime.datetime
) -> TimeBlock:
    """A new free block for the doctor; it may not overlap their other blocks."""
    _check_doctor(doctor)
    _check_block_times(start=start, end=end)
    # Serializes block writes per doctor (SQLite has no exclusion constraint).
    lock_users(exclusive=[doctor.pk], shared=[_actor_id(actor)])
    if _overlapping_blocks(doctor_id=doctor.pk, start=start, end=end).exists():
        raise Conflict(BLOCK_OVERLAP, "This block overlaps another block of the doctor.")
    try:
        with transaction.atomic():
            block = TimeBlock.objects.create(doctor=doctor, start=start, end=end)
    except IntegrityError as error:
        raise _conflict_from_integrity_error(error, BLOCK_OVERLAP) from error
    audit_record(action="time_block.created", target=block, actor=actor, data={"doctor": doctor.pk})
    return block


@dataclass(frozen=True)
class BulkResult:
    created: int
    skipped: int
    total: int


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
    """Every slot of the pattern in local wall-clock time; None for one in a DST gap.

    09:00 local stays 09:00 local across a daylight-saving change. A slot lasts exactly
    slot_minutes; a trailing partial slot is dropped; an ambiguous local time takes its
    first occurrence (fold=0).
    """
    slot = datetime.timedelta(minutes=slot_minutes)
    candidates: list[tuple[datetime.datetime, datetime.datetime] | None] = []
    for offset in range((date_to - date_from).days + 1):
        day = date_from + datetime.timedelta(days=offset)
        if day.weekday() in weekdays:
            local = datetime.datetime.combine(day, start_time)
            day_end = datetime.datetime.combine(day, end_time)
            while local <= day_end - slot:  # (not local + slot: no overflow on 9999-12-31)
                aware = local.replace(tzinfo=zone)
                round_trip = aware.astimezone(datetime.UTC).astimezone(zone)
                if round_trip.replace(tzinfo=None) != local:
                    candidates.append(None)  # this wall-clock time does not exist that day
                else:
                    start = aware.astimezone(datetime.UTC)
                    candidates.append((start, start + slot))
                if len(candidates) > MAX_BULK_SLOTS:
                    return candidates
                local += slot
    return candidates


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """An IANA zone by name; an unknown name is a 400 on `timezone`, not a crash."""
    try:
        validate_timezone(name)
        return zoneinfo.ZoneInfo(name)
    except (ValidationError, ValueError, zoneinfo.ZoneInfoNotFoundError) as error:
        raise ValidationError({"timezone": [f"'{name}' is not a known IANA time zone."]}) from error


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
    slot_minutes: int,
    timezone_name: str | None = None,
) -> BulkResult:
    """A weekly pattern of blocks in one transaction; past, overlapping and DST-gap slots skip."""
    _check_doctor(doctor)
    if date_to < date_from:
        raise ValidationError({"date_to": ["Must not be before date_from."]})
    if (date_to - date_from).days > MAX_BULK_DAYS:
        raise ValidationError({"date_to": [f"At most {MAX_BULK_DAYS} days after date_from."]})
    if end_time <= start_time:
        raise ValidationError({"end_time": ["Must be after start_time."]})
    if not weekdays or not set(weekdays) <= set(range(7)):
        raise ValidationError({"weekdays": ["Give one or more weekdays, 0 (Monday) to 6."]})
    if not 5 <= slot_minutes <= 720:
        raise ValidationError({"slot_minutes": ["Between 5 and 720 minutes."]})
    profile = getattr(doctor, "doctor_profile", None)
    zone = _zone(timezone_name or (profile.timezone if profile else settings.TIME_ZONE))
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
        raise ValidationError({"non_field_errors": ["The dates are out of range."]}) from error
    if len(candidates) > MAX_BULK_SLOTS:
        raise ValidationError(
            {"non_field_errors": [f"At most {MAX_BULK_SLOTS} slots per call; narrow the range."]}
        )

    lock_users(exclusive=[doctor.pk], shared=[_actor_id(actor)])
    now = timezone.now()
    slots = [c for c in candidates if c is not None and c[0] > now]
    taken: list[tuple[datetime.datetime, datetime.datetime]] = []
    if slots:
        taken = list(
            _overlapping_blocks(
                doctor_id=doctor.pk, start=slots[0][0], end=slots[-1][1]
            ).values_list("start", "end")
        )
    accepted: list[TimeBlock] = []
    for start, end in slots:
        if any(s < end and start < e for s, e in taken):
            continue
        taken.append((start, end))
        accepted.append(TimeBlock(doctor=doctor, start=start, end=end))
    try:
        with transaction.atomic():
            created = TimeBlock.objects.bulk_create(accepted)
    except IntegrityError as error:
        raise _conflict_from_integrity_error(error, BLOCK_OVERLAP) from error
    # bulk_create sends no signals: the field history and the public cache are told here.
    field_history_bulk_created(created, actor=actor)
    if created:
        bump(availability_scope(doctor.pk), ANY_AVAILABILITY)
    result = BulkResult(
        created=len(created), skipped=len(candidates) - len(created), total=len(candidates)
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
            "time_zone": zone.key,
        },
    )
    return result


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
    lock_users(exclusive=[block.doctor_id], shared=[_actor_id(actor)])
    block = _lock_block(block)
    if block.start <= timezone.now():
        raise Conflict(BLOCK_IN_PAST, "Past blocks cannot be changed.")
    if block.withdrawn_at is not None:
        raise Conflict(BLOCK_WITHDRAWN, "This block has been withdrawn.")
    if _block_was_used(block):
        raise Conflict(BLOCK_HAS_APPOINTMENT, "This block has appointments and cannot change.")
    new_start = start or block.start
    new_end = end or block.end
    _check_block_times(start=new_start, end=new_end)
    if _overlapping_blocks(
        doctor_id=block.doctor_id, start=new_start, end=new_end, exclude_id=block.pk
    ).exists():
        raise Conflict(BLOCK_OVERLAP, "This block overlaps another block of the doctor.")
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
        raise _conflict_from_integrity_error(error, BLOCK_OVERLAP) from error
    audit_record(action="time_block.updated", target=block, actor=actor, data={"fields": changed})
    return block


@service_transaction
def time_block_delete(*, actor: User, block: TimeBlock) -> str:
    """Delete a never-used future block, or withdraw one whose appointments are all over.

    Returns "deleted" or "withdrawn". A block with an active appointment stays (409).
    """
    lock_users(shared=[_actor_id(actor)])
    block = _lock_block(block)
    if block.start <= timezone.now():
        raise Conflict(BLOCK_IN_PAST, "Past blocks cannot be removed.")
    if block.withdrawn_at is not None:  # a concurrent request withdrew it first
        raise Conflict(BLOCK_WITHDRAWN, "This block has been withdrawn.")
    if block.appointments.filter(status__in=ACTIVE_STATUSES).exists():
        raise Conflict(BLOCK_HAS_APPOINTMENT, "Cancel or move the appointment first.")
    if _block_was_used(block):
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


# ---------------------------------------------------------------------------
# Booking
# ---------------------------------------------------------------------------
def _lock_block_for_booking(block: TimeBlock) -> TimeBlock:
    """Lock the block row (only it: not the doctor's) so one booking decides at a time.

    A block deleted since the caller looked it up is an unknown block (400), as if the
    request had named it after the deletion.
    """
    try:
        return (
            TimeBlock.objects.select_for_update(of=("self",))
            .select_related("doctor")
            .get(pk=block.pk)
        )
    except TimeBlock.DoesNotExist as error:
        raise ValidationError({"time_block": ["Unknown time block."]}) from error


def _check_bookable(block: TimeBlock, *, now: datetime.datetime) -> None:
    """The booking rules about the block itself and its doctor (§4 book)."""
    if block.withdrawn_at is not None:
        raise Conflict(BLOCK_WITHDRAWN, "This time block is no longer offered.")
    if block.start <= now:
        raise Conflict(BLOCK_IN_PAST, "This time block has already started.")
    lead = datetime.timedelta(minutes=settings.BOOKING_MIN_LEAD_MINUTES)
    if block.start < now + lead:
        raise Conflict(
            BLOCK_TOO_SOON,
            f"Blocks must be booked at least {settings.BOOKING_MIN_LEAD_MINUTES} minutes ahead.",
        )
    doctor = block.doctor
    if not doctor.is_active or doctor.suspended_at is not None or doctor.role != User.Role.DOCTOR:
        raise Conflict(DOCTOR_UNAVAILABLE, "This doctor is not taking appointments.")
    if block.appointments.filter(status__in=ACTIVE_STATUSES).exists():
        raise Conflict(SLOT_TAKEN, "This time block is already booked.")


def _check_patient_free(
    *, patient: User, start, end, exclude_id: int | None = None, count: bool = True
) -> None:
    active = Appointment.objects.filter(patient=patient, status__in=ACTIVE_STATUSES)
    if exclude_id is not None:
        active = active.exclude(pk=exclude_id)
    if active.filter(start__lt=end, end__gt=start).exists():
        raise Conflict(PATIENT_OVERLAP, "You already have an appointment at that time.")
    limit = settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT
    if count and active.count() >= limit:
        raise Conflict(TOO_MANY_ACTIVE, f"At most {limit} active appointments at a time.")


def check_bookable_patient(patient: User) -> None:
    """Staff and admins book only for an active, unsuspended patient (400 otherwise)."""
    if patient.role != User.Role.PATIENT or not patient.can_sign_in:
        raise ValidationError({"patient": ["This user is not an active patient."]})


@service_transaction
def appointment_book(
    *, actor: User, patient: User, time_block: TimeBlock, reason: str = ""
) -> Appointment:
    """Book a free, future block for a patient: a pending appointment."""
    # The patient's row, exclusively, holds the active-appointment cap under concurrency;
    # the doctor's, shared, keeps a deactivation or suspension from passing the checks.
    # A block's doctor never changes, so the (maybe stale) block names the right one.
    users = lock_users(exclusive=[patient.pk], shared=[time_block.doctor_id, _actor_id(actor)])
    patient = users[patient.pk]
    check_bookable_patient(patient)
    block = _lock_block_for_booking(time_block)
    now = timezone.now()
    _check_bookable(block, now=now)
    _check_patient_free(patient=patient, start=block.start, end=block.end)
    try:
        with transaction.atomic():
            appointment = Appointment.objects.create(
                patient=patient,
                doctor=block.doctor,
                time_block=block,
                start=block.start,
                end=block.end,
                reason=reason,
            )
    except IntegrityError as error:
        raise _conflict_from_integrity_error(error, SLOT_TAKEN) from error
    audit_record(
        action="appointment.booked",
        target=appointment,
        actor=actor,
        data={"patient": patient.pk, "doctor": block.doctor_id, "time_block": block.pk},
    )
    notifications.notify_booked(appointment)
    return appointment


# ---------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------
def _lock_appointment(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "doctor", "doctor__doctor_profile")
        .get(pk=appointment.pk)
    )


def _require_status(appointment: Appointment, *allowed: str) -> None:
    if appointment.status not in allowed:
        raise Conflict(
            ILLEGAL_TRANSITION,
            f"Not allowed while the appointment is {appointment.get_status_display().lower()}.",
        )


def _inside_notice_window(appointment: Appointment, *, now: datetime.datetime) -> bool:
    notice = datetime.timedelta(hours=settings.CANCELLATION_NOTICE_HOURS)
    return appointment.start - now < notice


def _is_patient_actor(actor: User | None, appointment: Appointment) -> bool:
    return actor is not None and actor.pk == appointment.patient_id


@service_transaction
def appointment_confirm(*, actor: User, appointment: Appointment) -> Appointment:
    """pending → confirmed."""
    lock_users(shared=[_actor_id(actor)])
    appointment = _lock_appointment(appointment)
    _require_status(appointment, Status.PENDING)
    appointment.status = Status.CONFIRMED
    appointment.confirmed_at = timezone.now()
    appointment.save(update_fields=["status", "confirmed_at", "updated_at"])
    audit_record(action="appointment.confirmed", target=appointment, actor=actor)
    notifications.notify_confirmed(appointment)
    return appointment


@service_transaction
def appointment_cancel(
    *, actor: User | None, appointment: Appointment, reason: str = ""
) -> Appointment:
    """pending/confirmed → cancelled; a patient may not cancel inside the notice window.

    `actor=None` is the system (expiry, deactivation by a command).
    """
    lock_users(shared=[_actor_id(actor)])  # cancelled_by and the field history reference it
    appointment = _lock_appointment(appointment)
    _require_status(appointment, *ACTIVE_STATUSES)
    now = timezone.now()
    if _is_patient_actor(actor, appointment) and _inside_notice_window(appointment, now=now):
        raise Conflict(
            CANCELLATION_TOO_LATE,
            f"Appointments cannot be cancelled less than {settings.CANCELLATION_NOTICE_HOURS} "
            "hours before they start; please call the clinic.",
        )
    appointment.status = Status.CANCELLED
    appointment.cancelled_at = now
    appointment.cancelled_by = actor
    appointment.cancellation_reason = reason
    appointment.save(
        update_fields=[
            "status",
            "cancelled_at",
            "cancelled_by",
            "cancellation_reason",
            "updated_at",
        ]
    )
    audit_record(
        action="appointment.cancelled",
        target=appointment,
        actor=actor,
        data={"has_reason": bool(reason)},
    )
    notifications.notify_cancelled(appointment, by=actor)
    return appointment


def _finish(*, actor: User | None, appointment: Appointment, status: str, action: str):
    lock_users(shared=[_actor_id(actor)])
    appointment = _lock_appointment(appointment)
    _require_status(appointment, Status.CONFIRMED)
    now = timezone.now()
    if appointment.start > now:
        raise Conflict(NOT_STARTED, "The appointment has not started yet.")
    appointment.status = status
    fields = ["status", "updated_at"]
    if status == Status.COMPLETED:
        appointment.completed_at = now
        fields.append("completed_at")
    appointment.save(update_fields=fields)
    audit_record(action=action, target=appointment, actor=actor)
    return appointment


@service_transaction
def appointment_complete(*, actor: User | None, appointment: Appointment) -> Appointment:
    """confirmed → completed, once the start has passed."""
    return _finish(
        actor=actor,
        appointment=appointment,
        status=Status.COMPLETED,
        action="appointment.completed",
    )


@service_transaction
def appointment_no_show(*, actor: User, appointment: Appointment) -> Appointment:
    """confirmed → no_show, once the start has passed."""
    return _finish(
        actor=actor, appointment=appointment, status=Status.NO_SHOW, action="appointment.no_show"
    )


@service_transaction
def appointment_reschedule(
    *, actor: User, appointment: Appointment, time_block: TimeBlock
) -> Appointment:
    """Move an active appointment to another free block of the same doctor, atomically.

    The old block is freed, the new one claimed, the status goes back to pending and the
    reminder is reset. Every booking rule applies to the target block.
    """
    # Another doctor's block can never be valid: 400 before any state rule's 409 (§5).
    # An appointment's doctor never changes, so this needs no lock.
    if time_block.doctor_id != appointment.doctor_id:
        raise ValidationError({"time_block": ["Choose a block of the same doctor."]})
    # Nor does its patient, so the (maybe stale) appointment names the rows to lock first;
    # the patient's exclusively, as in booking: one write at a time meets the overlap rule.
    lock_users(exclusive=[appointment.patient_id], shared=[appointment.doctor_id, _actor_id(actor)])
    appointment = _lock_appointment(appointment)
    _require_status(appointment, *ACTIVE_STATUSES)
    now = timezone.now()
    if _is_patient_actor(actor, appointment) and _inside_notice_window(appointment, now=now):
        raise Conflict(
            CANCELLATION_TOO_LATE,
            f"Appointments cannot be moved less than {settings.CANCELLATION_NOTICE_HOURS} "
            "hours before they start; please call the clinic.",
        )
    if time_block.pk == appointment.time_block_id:
        raise Conflict(SLOT_TAKEN, "The appointment is already in this block.")
    block = _lock_block_for_booking(time_block)
    _check_bookable(block, now=now)
    _check_patient_free(
        patient=appointment.patient,
        start=block.start,
        end=block.end,
        exclude_id=appointment.pk,
        count=False,
    )
    old_block_id = appointment.time_block_id
    appointment.rescheduled_from_id = old_block_id
    appointment.time_block = block
    appointment.start, appointment.end = block.start, block.end
    appointment.status = Status.PENDING
    appointment.confirmed_at = None
    appointment.reminder_sent_at = None
    try:
        with transaction.atomic():
            appointment.save(
                update_fields=[
                    "rescheduled_from",
                    "time_block",
                    "start",
                    "end",
                    "status",
                    "confirmed_at",
                    "reminder_sent_at",
                    "updated_at",
                ]
            )
    except IntegrityError as error:
        raise _conflict_from_integrity_error(error, SLOT_TAKEN) from error
    audit_record(
        action="appointment.rescheduled",
        target=appointment,
        actor=actor,
        data={"from_time_block": old_block_id, "to_time_block": block.pk},
    )
    notifications.notify_rescheduled(appointment)
    return appointment


def appointment_writable_fields(*, actor: User, appointment: Appointment) -> set[str]:
    """Which free-text fields this caller may change now (others are silently ignored)."""
    if actor.role in (User.Role.STAFF, User.Role.ADMIN):
        return {"reason", "notes"}
    if actor.pk == appointment.doctor_id:
        return {"notes"}
    if actor.pk == appointment.patient_id and appointment.status == Status.PENDING:
        return {"reason"}
    return set()


@service_transaction
def appointment_update(
    *, actor: User, appointment: Appointment, reason: str | None = None, notes: str | None = None
) -> Appointment:
    """Change the patient's reason (while pending) or the doctor's notes, per role."""
    lock_users(shared=[_actor_id(actor)])
    appointment = _lock_appointment(appointment)
    allowed = appointment_writable_fields(actor=actor, appointment=appointment)
    changed = []
    for name, value in (("reason", reason), ("notes", notes)):
        if value is not None and name in allowed and getattr(appointment, name) != value:
            setattr(appointment, name, value)
            changed.append(name)
    if changed:
        appointment.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="appointment.updated", target=appointment, actor=actor, data={"fields": changed}
        )
    return appointment


# ---------------------------------------------------------------------------
# Effects of account changes
# ---------------------------------------------------------------------------
def _future_active(user: User):
    return Appointment.objects.filter(
        Q(patient=user) | Q(doctor=user), status__in=ACTIVE_STATUSES, start__gt=timezone.now()
    )


def appointment_count_future_active(*, user: User) -> int:
    """Future pending or confirmed appointments the user takes part in."""
    return _future_active(user).count()


@service_transaction
def appointments_cancel_for_deactivated(*, actor: User, user: User) -> int:
    """Cancel a deactivated user's future active appointments, with the usual emails.

    The caller has locked the user's row (and the actor's) first: step 1 of the lock order.
    """
    cancelled = 0
    for appointment in _future_active(user).order_by("start", "id"):
        appointment_cancel(actor=actor, appointment=appointment, reason="Account deactivated")
        cancelled += 1
    return cancelled
