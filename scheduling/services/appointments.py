"""The appointment lifecycle: booking, transitions, reschedule, edits, and what account
deactivation does to appointments."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from accounts.models import User
from audit.services import audit_record
from core.exceptions import (
    BLOCK_IN_PAST,
    BLOCK_TOO_SOON,
    BLOCK_WITHDRAWN,
    CANCELLATION_TOO_LATE,
    DOCTOR_ON_LEAVE,
    DOCTOR_UNAVAILABLE,
    ILLEGAL_TRANSITION,
    NOT_STARTED,
    PATIENT_OVERLAP,
    SLOT_TAKEN,
    TOO_MANY_ACTIVE,
    Conflict,
)
from core.locking import actor_id, constrained_write, lock_users, service_transaction
from core.roles import CLINIC_ROLES
from scheduling import notifications, selectors
from scheduling.models import (
    ACTIVE_STATUSES,
    CLINIC_CANCELLABLE,
    PATIENT_CANCELLABLE,
    Appointment,
    CancellationCode,
    SlotHold,
    TimeBlock,
)
from scheduling.services import events, hold_rules
from scheduling.services.checks import (
    conflict_from_integrity_error,
)
from scheduling.services.waitlist_queue import waitlist_queue_block

Status = Appointment.Status
Code = CancellationCode
ARRIVED_CANCEL_NEEDS_REASON = gettext_lazy(
    "A reason is required to cancel a visit the patient has arrived for."
)


# ---------------------------------------------------------------------------
# Booking
# ---------------------------------------------------------------------------
def _lock_block_for_booking(block: TimeBlock) -> TimeBlock:
    """Lock the block row (only it: not the doctor's) so one booking decides at a time.

    A block deleted since the caller looked it up is an unknown block (400), as if the
    request had named it after the deletion. The same statement answers whether the block
    lies in an active leave (`on_leave`): the check costs no extra query.
    """
    try:
        # The doctor's profile comes along (a LEFT JOIN, not locked): the booking's mails and
        # its answer show the doctor's location and time zone without another query (#25).
        return (
            TimeBlock.objects.select_for_update(of=("self",))
            .select_related("doctor", "doctor__doctor_profile")
            .annotate(
                on_leave=ExpressionWrapper(selectors.in_active_leave(), output_field=BooleanField())
            )
            .get(pk=block.pk)
        )
    except TimeBlock.DoesNotExist as error:
        raise ValidationError({"time_block": [gettext("Unknown time block.")]}) from error


# Names from the model, quoted for both engines; every value is a parameter. Three scalar
# subqueries, so each takes its own index whatever the planner thinks of an OR.
_ACTIVE = f'"status" IN ({", ".join(["%s"] * len(ACTIVE_STATUSES))})'
_APPOINTMENTS = f'"{Appointment._meta.db_table}"'
_BOOKING_FACTS_SQL = f"""
    SELECT (SELECT COUNT(*) FROM {_APPOINTMENTS} WHERE "time_block_id" = %s AND {_ACTIVE}),
           (SELECT COUNT(*) FROM {_APPOINTMENTS} WHERE "patient_id" = %s AND {_ACTIVE}
               AND "start" < %s AND "end" > %s),
           (SELECT COUNT(*) FROM {_APPOINTMENTS} WHERE "patient_id" = %s AND {_ACTIVE})
"""  # noqa: S608


def _booking_facts(*, block: TimeBlock, patient_id: int) -> dict[str, int]:
    """What the booking rules read once the block is locked, in one statement (#25): the
    block's active appointments (`taken`), the patient's active ones overlapping it
    (`overlapping`) and all of the patient's active ones (`active`). Run after the block's
    lock, so it sees every booking committed before it, as the three reads it replaces did.

    Hand-written (the same on PostgreSQL and SQLite): the ORM spent more CPU compiling the
    aggregate than the three statements cost together. Its plan takes the active-per-block
    index and the patient's (patient, start, id) index (test_query_plans)."""
    sql = _BOOKING_FACTS_SQL
    adapt = connection.ops.adapt_datetimefield_value
    params = [block.pk, *ACTIVE_STATUSES, patient_id, *ACTIVE_STATUSES]
    params += [adapt(block.end), adapt(block.start), patient_id, *ACTIVE_STATUSES]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        taken, overlapping, active = cursor.fetchone()
    return {"taken": taken, "overlapping": overlapping, "active": active}


def _check_bookable(
    block: TimeBlock, *, now: datetime.datetime, facts: dict[str, int] | None = None
) -> None:
    """The booking rules about the block itself and its doctor (§4 book). `facts`
    (`_booking_facts`) spares the read of whether the block is taken."""
    if block.withdrawn_at is not None:
        raise Conflict(BLOCK_WITHDRAWN, gettext("This time block is no longer offered."))
    if block.start <= now:
        raise Conflict(BLOCK_IN_PAST, gettext("This time block has already started."))
    lead = datetime.timedelta(minutes=settings.BOOKING_MIN_LEAD_MINUTES)
    if block.start < now + lead:
        raise Conflict(
            BLOCK_TOO_SOON,
            gettext("Blocks must be booked at least %(minutes)d minutes ahead.")
            % {"minutes": settings.BOOKING_MIN_LEAD_MINUTES},
        )
    doctor = block.doctor
    if not doctor.is_active or doctor.suspended_at is not None or doctor.role != User.Role.DOCTOR:
        raise Conflict(DOCTOR_UNAVAILABLE, gettext("This doctor is not taking appointments."))
    if block.on_leave:  # annotated by _lock_block_for_booking
        raise Conflict(DOCTOR_ON_LEAVE, gettext("The doctor is on leave at this time."))
    if facts is not None:
        taken = facts["taken"] > 0
    else:
        taken = block.appointments.filter(status__in=ACTIVE_STATUSES).exists()
    if taken:
        raise Conflict(SLOT_TAKEN, gettext("This time block is already booked."))


def _check_patient_free(
    *,
    patient: User,
    start,
    end,
    exclude_id: int | None = None,
    count: bool = True,
    facts: dict[str, int] | None = None,
) -> None:
    """The patient has no active appointment overlapping [start, end) and (with `count`)
    room under the cap. `facts` (`_booking_facts` of the same block) spares both reads."""
    active = Appointment.objects.filter(patient=patient, status__in=ACTIVE_STATUSES)
    if exclude_id is not None:
        active = active.exclude(pk=exclude_id)
    if facts is not None:
        overlapping = facts["overlapping"] > 0
    else:
        overlapping = active.filter(start__lt=end, end__gt=start).exists()
    if overlapping:
        raise Conflict(PATIENT_OVERLAP, gettext("You already have an appointment at that time."))
    limit = settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT
    if count and (facts["active"] if facts is not None else active.count()) >= limit:
        message = gettext("At most %(limit)d active appointments at a time.") % {"limit": limit}
        raise Conflict(TOO_MANY_ACTIVE, message)


def check_bookable_patient(patient: User) -> None:
    """Staff and admins book only for an active, unsuspended patient (400 otherwise)."""
    if patient.role != User.Role.PATIENT or not patient.can_sign_in:
        raise ValidationError({"patient": [gettext("This user is not an active patient.")]})


@service_transaction
def appointment_book(
    *,
    actor: User,
    patient: User,
    time_block: TimeBlock,
    reason: str = "",
    hold: SlotHold | None = None,
) -> Appointment:
    """Book a free, future block for a patient: a pending appointment. The patient's live
    hold on the block (named or not) converts; another patient's is 409 slot_held."""
    hold_rules.check_named_hold(hold=hold, patient_id=patient.pk, block_id=time_block.pk)
    # The patient's row, exclusively, holds the active-appointment cap under concurrency;
    # the doctor's, shared, keeps a deactivation or suspension from passing the checks.
    # A block's doctor never changes, so the (maybe stale) block names the right one.
    users = lock_users(exclusive=[patient.pk], shared=[time_block.doctor_id, actor_id(actor)])
    patient = users[patient.pk]
    check_bookable_patient(patient)
    block = _lock_block_for_booking(time_block)
    now = timezone.now()
    facts = _booking_facts(block=block, patient_id=patient.pk)  # one read for three rules
    _check_bookable(block, now=now, facts=facts)
    held = hold_rules.hold_for_booking(block=block, patient_id=patient.pk, named=hold, now=now)
    _check_patient_free(patient=patient, start=block.start, end=block.end, facts=facts)
    try:
        with constrained_write():  # a savepoint only when an outer transaction goes on
            appointment = Appointment.objects.create(
                patient=patient,
                doctor=block.doctor,
                time_block=block,
                start=block.start,
                end=block.end,
                visit_type_id=block.visit_type_id,
                reason=reason,
            )
    except IntegrityError as error:
        raise conflict_from_integrity_error(error, SLOT_TAKEN) from error
    data = {"patient": patient.pk, "doctor": block.doctor_id, "time_block": block.pk}
    if held is not None:
        hold_rules.hold_convert(hold=held, appointment=appointment, now=now)
        data["hold"] = held.pk
    audit_record(action="appointment.booked", target=appointment, actor=actor, data=data)
    events.appointment_event(type="booked", appointment=appointment, previous_status=None)
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


# The status in a sentence ("while the appointment is ..."); the API's `status` stays the code.
STATUS_WORDS = {
    Status.PENDING: pgettext_lazy("appointment status", "pending"),
    Status.CONFIRMED: pgettext_lazy("appointment status", "confirmed"),
    Status.ARRIVED: pgettext_lazy("appointment status", "arrived"),
    Status.CANCELLED: pgettext_lazy("appointment status", "cancelled"),
    Status.COMPLETED: pgettext_lazy("appointment status", "completed"),
    Status.NO_SHOW: pgettext_lazy("appointment status", "no-show"),
}


def _require_status(appointment: Appointment, *allowed: str) -> None:
    if appointment.status not in allowed:
        status = STATUS_WORDS.get(appointment.status, appointment.status)
        raise Conflict(
            ILLEGAL_TRANSITION,
            gettext("Not allowed while the appointment is %(status)s.") % {"status": status},
        )


# One whole sentence per action, so translators never assemble one from parts.
TOO_LATE_MESSAGES = {
    "cancel": gettext_lazy(
        "Appointments cannot be cancelled less than %(hours)d hours before they start; please "
        "call the clinic."
    ),
    "move": gettext_lazy(
        "Appointments cannot be moved less than %(hours)d hours before they start; please call "
        "the clinic."
    ),
}


def _check_patient_notice(
    actor: User | None, appointment: Appointment, *, now: datetime.datetime, action: str
) -> None:
    """A patient may cancel or move a visit only up to the notice window before it starts."""
    if actor is None or actor.pk != appointment.patient_id:
        return
    if appointment.start - now < datetime.timedelta(hours=settings.CANCELLATION_NOTICE_HOURS):
        raise Conflict(
            CANCELLATION_TOO_LATE,
            TOO_LATE_MESSAGES[action] % {"hours": settings.CANCELLATION_NOTICE_HOURS},
        )


@service_transaction
def appointment_confirm(*, actor: User, appointment: Appointment) -> Appointment:
    """pending → confirmed."""
    lock_users(shared=[actor_id(actor)])
    appointment = _lock_appointment(appointment)
    _require_status(appointment, Status.PENDING)
    appointment.status = Status.CONFIRMED
    appointment.confirmed_at = timezone.now()
    appointment.ical_sequence += 1
    appointment.save(update_fields=["status", "confirmed_at", "ical_sequence", "updated_at"])
    audit_record(action="appointment.confirmed", target=appointment, actor=actor)
    events.appointment_event(
        type="confirmed", appointment=appointment, previous_status=Status.PENDING
    )
    notifications.notify_confirmed(appointment)
    return appointment


def _cancellation_code(actor: User | None, appointment: Appointment, code: str | None) -> str:
    """Who ended it: the patient's and the doctor's own cancels are theirs whatever they ask;
    the clinic names a code (default clinic); an arrived patient sent away left unseen. A
    leave's resolution is always `leave`, whoever resolves it (the doctor included)."""
    if code == Code.LEAVE:
        return code
    if actor is not None and actor.pk == appointment.patient_id:
        return Code.PATIENT
    if actor is not None and actor.pk == appointment.doctor_id:
        return Code.PROVIDER
    if appointment.status == Status.ARRIVED:
        return Code.LEFT_UNSEEN
    if code is not None:
        return code
    return Code.EXPIRED if actor is None else Code.CLINIC


@service_transaction
def appointment_cancel(
    *, actor: User | None, appointment: Appointment, reason: str = "", code: str | None = None
) -> Appointment:
    """→ cancelled. The patient and the doctor cancel pending or confirmed visits (a patient
    not inside the notice window); the clinic and the system also arrived ones.

    `actor=None` is the system (expiry). `code` is the cancellation code the clinic records
    (patient, provider, clinic; deactivated, leave from their services).
    """
    lock_users(shared=[actor_id(actor)])  # cancelled_by and the field history reference it
    appointment = _lock_appointment(appointment)
    by_participant = actor is not None and actor.pk in (
        appointment.patient_id,
        appointment.doctor_id,
    )
    _require_status(appointment, *(PATIENT_CANCELLABLE if by_participant else CLINIC_CANCELLABLE))
    if appointment.status == Status.ARRIVED and not reason.strip():
        # Sending away a patient who is in the waiting room is recorded with why.
        raise ValidationError({"reason": [ARRIVED_CANCEL_NEEDS_REASON]})
    now = timezone.now()
    _check_patient_notice(actor, appointment, now=now, action="cancel")
    previous_status = appointment.status
    appointment.cancellation_code = _cancellation_code(actor, appointment, code)
    appointment.status = Status.CANCELLED
    appointment.cancelled_at = now
    appointment.cancelled_by = actor
    appointment.cancellation_reason = reason
    appointment.ical_sequence += 1
    appointment.save(
        update_fields=[
            "status",
            "cancelled_at",
            "cancelled_by",
            "cancellation_reason",
            "cancellation_code",
            "ical_sequence",
            "updated_at",
        ]
    )
    audit_record(
        action="appointment.cancelled",
        target=appointment,
        actor=actor,
        data={"has_reason": bool(reason)},
    )
    events.appointment_event(
        type="cancelled", appointment=appointment, previous_status=previous_status
    )
    notifications.notify_cancelled(appointment, by=actor)
    waitlist_queue_block(appointment.time_block_id)  # the block is free again
    return appointment


def _finish(
    *,
    actor: User | None,
    appointment: Appointment,
    status: str,
    action: str,
    allowed: tuple[str, ...] = (Status.CONFIRMED,),
):
    lock_users(shared=[actor_id(actor)])
    appointment = _lock_appointment(appointment)
    _require_status(appointment, *allowed)
    now = timezone.now()
    if appointment.start > now:
        raise Conflict(NOT_STARTED, gettext("The appointment has not started yet."))
    previous_status = appointment.status
    appointment.status = status
    fields = ["status", "updated_at"]
    if status == Status.COMPLETED:
        appointment.completed_at = now
        fields.append("completed_at")
    appointment.save(update_fields=fields)
    audit_record(action=action, target=appointment, actor=actor)
    events.appointment_event(
        type=action.removeprefix("appointment."),
        appointment=appointment,
        previous_status=previous_status,
    )
    return appointment


@service_transaction
def appointment_complete(*, actor: User | None, appointment: Appointment) -> Appointment:
    """confirmed or arrived → completed, once the start has passed."""
    return _finish(
        actor=actor,
        appointment=appointment,
        status=Status.COMPLETED,
        action="appointment.completed",
        allowed=(Status.CONFIRMED, Status.ARRIVED),
    )


@service_transaction
def appointment_no_show(*, actor: User, appointment: Appointment) -> Appointment:
    """confirmed → no_show, once the start has passed."""
    return _finish(
        actor=actor, appointment=appointment, status=Status.NO_SHOW, action="appointment.no_show"
    )


@service_transaction
def appointment_reschedule(
    *,
    actor: User,
    appointment: Appointment,
    time_block: TimeBlock,
    hold: SlotHold | None = None,
) -> Appointment:
    """Move an active appointment to another free block of the same doctor, atomically.

    The old block is freed, the new one claimed, the status goes back to pending and the
    reminder is reset. Every booking rule applies to the target block.
    """
    # Another doctor's block can never be valid: 400 before any state rule's 409 (§5).
    # An appointment's doctor never changes, so this needs no lock.
    if time_block.doctor_id != appointment.doctor_id:
        raise ValidationError({"time_block": [gettext("Choose a block of the same doctor.")]})
    # Nor does a block's visit type, nor (once booked) the appointment's.
    if time_block.visit_type_id != appointment.visit_type_id:
        raise ValidationError({"time_block": [gettext("Choose a block of the same visit type.")]})
    hold_rules.check_named_hold(
        hold=hold, patient_id=appointment.patient_id, block_id=time_block.pk
    )
    # Nor does its patient, so the (maybe stale) appointment names the rows to lock first;
    # the patient's exclusively, as in booking: one write at a time meets the overlap rule.
    lock_users(exclusive=[appointment.patient_id], shared=[appointment.doctor_id, actor_id(actor)])
    appointment = _lock_appointment(appointment)
    _require_status(appointment, *PATIENT_CANCELLABLE)
    previous_status = appointment.status
    now = timezone.now()
    _check_patient_notice(actor, appointment, now=now, action="move")
    if time_block.pk == appointment.time_block_id:
        raise Conflict(SLOT_TAKEN, gettext("The appointment is already in this block."))
    block = _lock_block_for_booking(time_block)
    _check_bookable(block, now=now)
    held = hold_rules.hold_for_booking(
        block=block, patient_id=appointment.patient_id, named=hold, now=now
    )
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
    appointment.ical_sequence += 1
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
                    "ical_sequence",
                    "updated_at",
                ]
            )
    except IntegrityError as error:
        raise conflict_from_integrity_error(error, SLOT_TAKEN) from error
    data = {"from_time_block": old_block_id, "to_time_block": block.pk}
    if held is not None:
        hold_rules.hold_convert(hold=held, appointment=appointment, now=now)
        data["hold"] = held.pk
    audit_record(action="appointment.rescheduled", target=appointment, actor=actor, data=data)
    events.appointment_event(
        type="rescheduled", appointment=appointment, previous_status=previous_status
    )
    notifications.notify_rescheduled(appointment)
    waitlist_queue_block(old_block_id)  # the old block is free again
    return appointment


def appointment_writable_fields(*, actor: User, appointment: Appointment) -> set[str]:
    """Which free-text fields this caller may change now (others are silently ignored)."""
    if actor.role in CLINIC_ROLES:
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
    lock_users(shared=[actor_id(actor)])
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
@service_transaction
def appointments_cancel_for_deactivated(*, actor: User, user: User) -> int:
    """Cancel a deactivated user's future active appointments, with the usual emails.

    The caller has locked the user's row (and the actor's) first: step 1 of the lock order.
    """
    cancelled = 0
    for appointment in selectors.appointment_list_future_active(user=user).order_by("start", "id"):
        appointment_cancel(
            actor=actor,
            appointment=appointment,
            reason="Account deactivated",
            code=Code.DEACTIVATED,
        )
        cancelled += 1
    return cancelled
