"""Waitlist entries: a patient waits for a block of a doctor, or of any doctor of a specialty,
to free up (docs/api-rules.md, waitlist; DESIGN-R2 §R2-3)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit.services import audit_record
from core.exceptions import ILLEGAL_TRANSITION, WAITLIST_DUPLICATE, WAITLIST_LIMIT, Conflict
from core.locking import actor_id, lock_users, service_transaction
from scheduling.models import LIVE_ENTRY_STATUSES, VisitType, WaitlistEntry, WaitlistOffer
from scheduling.services.appointments import check_bookable_patient

Status = WaitlistEntry.Status


def _check_entry_shape(
    *,
    doctor: User | None,
    specialty: str,
    date_from: datetime.date,
    date_to: datetime.date,
    weekdays: list[int],
    time_from: datetime.time | None,
    time_to: datetime.time | None,
) -> None:
    errors: dict[str, list[str]] = {}
    if (doctor is None) == (not specialty):
        errors["non_field_errors"] = [gettext("Name either a doctor or a specialty, not both.")]
    if doctor is not None and (doctor.role != User.Role.DOCTOR or not doctor.can_sign_in):
        errors["doctor"] = [gettext("This user is not an active doctor.")]
    if date_to < date_from:
        errors["date_to"] = [gettext("The end date must not be before the start date.")]
    elif (date_to - date_from).days + 1 > settings.WAITLIST_MAX_SPAN_DAYS:
        errors["date_to"] = [
            gettext("A waitlist entry may span at most %(days)d days.")
            % {"days": settings.WAITLIST_MAX_SPAN_DAYS}
        ]
    if any(day not in range(7) for day in weekdays) or len(set(weekdays)) != len(weekdays):
        errors["weekdays"] = [gettext("Weekdays are distinct numbers from 0 (Monday) to 6.")]
    if time_from is not None and time_to is not None and time_to <= time_from:
        errors["time_to"] = [gettext("The end time must be after the start time.")]
    if errors:
        raise ValidationError(errors)


@service_transaction
def waitlist_entry_create(
    *,
    actor: User,
    patient: User,
    doctor: User | None = None,
    specialty: str = "",
    date_from: datetime.date,
    date_to: datetime.date,
    weekdays: list[int] | None = None,
    time_from: datetime.time | None = None,
    time_to: datetime.time | None = None,
    visit_type: VisitType | None = None,
) -> WaitlistEntry:
    """Put an active patient on the waitlist of a doctor xor a specialty (400 otherwise), for
    at most WAITLIST_MAX_SPAN_DAYS days; a second waiting entry for the same doctor or
    specialty is 409 waitlist_duplicate, more than WAITLIST_MAX_ACTIVE_PER_PATIENT waiting
    entries 409 waitlist_limit."""
    specialty = (specialty or "").strip()
    weekdays = sorted(weekdays or [])
    _check_entry_shape(
        doctor=doctor,
        specialty=specialty,
        date_from=date_from,
        date_to=date_to,
        weekdays=weekdays,
        time_from=time_from,
        time_to=time_to,
    )
    # The patient's row, exclusively, serializes their entries (the duplicate, the cap).
    users = lock_users(
        exclusive=[patient.pk], shared=[doctor.pk if doctor else None, actor_id(actor)]
    )
    patient = users[patient.pk]
    check_bookable_patient(patient)
    live = WaitlistEntry.objects.filter(patient=patient, status__in=LIVE_ENTRY_STATUSES)
    same = (
        live.filter(doctor=doctor)
        if doctor is not None
        else live.filter(doctor__isnull=True, specialty__iexact=specialty)
    )
    if same.exists():
        raise Conflict(WAITLIST_DUPLICATE, gettext("You are already on this waitlist."))
    if live.count() >= settings.WAITLIST_MAX_ACTIVE_PER_PATIENT:
        raise Conflict(
            WAITLIST_LIMIT,
            gettext("At most %(limit)d waitlist entries at a time.")
            % {"limit": settings.WAITLIST_MAX_ACTIVE_PER_PATIENT},
        )
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(
                patient=patient,
                doctor=doctor,
                specialty=specialty,
                visit_type=visit_type,
                date_from=date_from,
                date_to=date_to,
                weekdays=weekdays,
                time_from=time_from,
                time_to=time_to,
            )
    except IntegrityError as error:  # waitlist_entry_one_live_per_doctor / _specialty
        raise Conflict(WAITLIST_DUPLICATE, gettext("You are already on this waitlist.")) from error
    audit_record(
        action="waitlist_entry.created",
        target=entry,
        actor=actor,
        data={
            "patient": patient.pk,
            "doctor": doctor.pk if doctor else None,
            "specialty": specialty,
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        },
    )
    return entry


@service_transaction
def waitlist_entry_cancel(*, actor: User, entry: WaitlistEntry) -> WaitlistEntry:
    """Take a waiting entry off the waitlist (cancelled); again is no change; a booked or
    expired entry is 409 illegal_transition."""
    lock_users(shared=[actor_id(actor)])
    entry = WaitlistEntry.objects.select_for_update(of=("self",)).get(pk=entry.pk)
    if entry.status == Status.CANCELLED:
        return entry
    if entry.status not in LIVE_ENTRY_STATUSES:
        raise Conflict(ILLEGAL_TRANSITION, gettext("This waitlist entry has already ended."))
    entry.status = Status.CANCELLED
    entry.save(update_fields=["status", "updated_at"])
    # Its pending offer is declined (entries, then offers: the lock order); the round's shared
    # hold stays until it expires, which ends the round.
    WaitlistOffer.objects.filter(entry=entry, status=WaitlistOffer.Status.PENDING).update(
        status=WaitlistOffer.Status.DECLINED, updated_at=timezone.now()
    )
    audit_record(action="waitlist_entry.cancelled", target=entry, actor=actor)
    return entry
