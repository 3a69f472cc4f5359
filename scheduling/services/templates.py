"""Standing schedules (DESIGN-R2 R2-5): availability templates, their exceptions, and the
materialiser that turns them into blocks up to AVAILABILITY_HORIZON_DAYS ahead.

Every write runs under the doctor's exclusive user lock (step 1 of the lock order), then
touches blocks (step 3). One plan serves preview, template writes and the daily job, so a
preview shows exactly what a write would create.

Removed blocks are **deleted**: only free blocks that were never used (no appointment, hold
or offer ever named them) are removed, and nothing points at those. Blocks that were used
are kept (and counted in `kept_booked`).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit.history import without_field_history
from audit.services import audit_record
from core.exceptions import BLOCK_OVERLAP
from core.locking import actor_id, lock_users, service_transaction
from core.response_cache import ANY_AVAILABILITY, availability_scope, bump
from scheduling import selectors
from scheduling.models import (
    Appointment,
    AvailabilityException,
    AvailabilityTemplate,
    SlotHold,
    TimeBlock,
    VisitType,
)
from scheduling.services.blocks import resolve_slot_minutes, zone_named
from scheduling.services.checks import check_doctor, conflict_from_integrity_error
from scheduling.services.recurrence import rrule_check, rrule_days
from scheduling.services.slots import Slot, day_slots
from scheduling.services.waitlist_queue import waitlist_queue_blocks

MAX_TEMPLATE_DAYS = 366
Period = tuple[datetime.datetime, datetime.datetime]


@dataclass(frozen=True)
class TemplateSpec:
    """What a template says, saved or not (a preview's body)."""

    doctor: User
    rrule: str
    valid_from: datetime.date
    valid_until: datetime.date
    start_time: datetime.time
    end_time: datetime.time
    slot_minutes: int
    zone: zoneinfo.ZoneInfo
    visit_type: VisitType | None = None
    # date -> (start_time, end_time) of a custom day, or None for a closed one.
    exceptions: dict[datetime.date, tuple[datetime.time, datetime.time] | None] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class TemplateResult:
    template: AvailabilityTemplate | None
    created: int
    removed: int
    kept_booked: int


# ---------------------------------------------------------------------------
# Checking a template
# ---------------------------------------------------------------------------
def template_spec(
    *,
    doctor: User,
    rrule: str,
    valid_from: datetime.date,
    valid_until: datetime.date,
    start_time: datetime.time,
    end_time: datetime.time,
    slot_minutes: int | None = None,
    timezone_name: str | None = None,
    visit_type: VisitType | None = None,
) -> TemplateSpec:
    """A checked template (400 naming the field otherwise): the RRULE subset, an IANA zone
    (default the doctor's), valid_until not before valid_from and at most 366 days after it,
    end_time after start_time, slot_minutes as for bulk/ (a tagged one: the type's duration)."""
    check_doctor(doctor)
    rule = rrule_check(rrule)
    profile = getattr(doctor, "doctor_profile", None)
    zone = zone_named(timezone_name or (profile.timezone if profile else settings.TIME_ZONE))
    if valid_until < valid_from:
        raise ValidationError(
            {"valid_until": [gettext("Must not be before %(other)s.") % {"other": "valid_from"}]}
        )
    if (valid_until - valid_from).days > MAX_TEMPLATE_DAYS:
        message = gettext("At most %(days)d days after %(other)s.") % {
            "days": MAX_TEMPLATE_DAYS,
            "other": "valid_from",
        }
        raise ValidationError({"valid_until": [message]})
    if end_time <= start_time:
        raise ValidationError(
            {"end_time": [gettext("Must be after %(other)s.") % {"other": "start_time"}]}
        )
    minutes = resolve_slot_minutes(doctor=doctor, visit_type=visit_type, slot_minutes=slot_minutes)
    if not 5 <= minutes <= 720:
        raise ValidationError({"slot_minutes": [gettext("Between 5 and 720 minutes.")]})
    return TemplateSpec(
        doctor=doctor,
        rrule=rule,
        valid_from=valid_from,
        valid_until=valid_until,
        start_time=start_time,
        end_time=end_time,
        slot_minutes=minutes,
        zone=zone,
        visit_type=visit_type,
    )


def _spec_of(template: AvailabilityTemplate) -> TemplateSpec:
    exceptions = {
        e.date: (
            None if e.kind == AvailabilityException.Kind.CLOSED else (e.start_time, e.end_time)
        )
        for e in template.exceptions.all()
    }
    return TemplateSpec(
        doctor=template.doctor,
        rrule=template.rrule,
        valid_from=template.valid_from,
        valid_until=template.valid_until,
        start_time=template.start_time,
        end_time=template.end_time,
        slot_minutes=template.slot_minutes,
        zone=zoneinfo.ZoneInfo(template.timezone),
        visit_type=template.visit_type,
        exceptions=exceptions,
    )


# ---------------------------------------------------------------------------
# The plan: which slots a template wants, which exist, which to make
# ---------------------------------------------------------------------------
def horizon_end(now: datetime.datetime | None = None) -> datetime.datetime:
    """Templates are materialised up to this moment (AVAILABILITY_HORIZON_DAYS ahead)."""
    now = now or timezone.now()
    return now + datetime.timedelta(days=settings.AVAILABILITY_HORIZON_DAYS)


def template_slots(
    spec: TemplateSpec,
    *,
    now: datetime.datetime,
    until: datetime.datetime,
    excluded_periods: Sequence[Period] = (),
) -> list[Slot]:
    """The template's slots starting in (now, until], exceptions applied, DST gaps skipped
    (fold=0 for an ambiguous time), none overlapping an excluded period (the doctor's
    active leaves and the clinic's closures). More than TEMPLATE_MAX_SLOTS is a 400."""
    # Local dates one day wider than the window on each side: the zone may be far from UTC.
    date_from = max(spec.valid_from, (now - datetime.timedelta(days=1)).date())
    date_to = min(spec.valid_until, (until + datetime.timedelta(days=1)).date())
    slots: list[Slot] = []
    limit = settings.TEMPLATE_MAX_SLOTS
    for day in rrule_days(
        spec.rrule, valid_from=spec.valid_from, date_from=date_from, date_to=date_to
    ):
        hours = spec.exceptions.get(day, (spec.start_time, spec.end_time))
        if hours is None:  # closed that day
            continue
        for slot in day_slots(
            day=day,
            start_time=hours[0],
            end_time=hours[1],
            slot_minutes=spec.slot_minutes,
            zone=spec.zone,
        ):
            if slot is None or not now < slot[0] <= until:
                continue
            if any(s < slot[1] and slot[0] < e for s, e in excluded_periods):
                continue
            slots.append(slot)
            if len(slots) > limit:
                raise ValidationError(
                    {
                        "non_field_errors": [
                            gettext("At most %(slots)d slots per template; narrow it.")
                            % {"slots": limit}
                        ]
                    }
                )
    return slots


def _ever_used() -> Q:
    """A block some appointment or hold ever named: it is kept, never removed or moved."""
    return Q(
        Exists(Appointment.objects.filter(time_block=OuterRef("pk")))
        | Exists(Appointment.objects.filter(rescheduled_from=OuterRef("pk")))
        | Exists(SlotHold.objects.filter(time_block=OuterRef("pk")))
    )


@dataclass
class Plan:
    create: list[Slot]
    remove_ids: list[int]
    kept_booked: int


def _plan(
    spec: TemplateSpec | None,
    *,
    doctor_id: int,
    template_id: int | None,
    now: datetime.datetime,
    until: datetime.datetime,
    remove: bool,
    excluded_periods: Sequence[Period] = (),
) -> Plan:
    """Compare what the template wants (None: nothing, it is inactive) with the doctor's
    blocks: its own free never-used blocks that it still wants stay, the others go (when
    `remove`); wanted slots overlapping any remaining block are skipped, so a rerun or an
    identical second template creates nothing."""
    wanted = (
        template_slots(spec, now=now, until=until, excluded_periods=excluded_periods)
        if spec is not None
        else []
    )
    own_free: dict[Slot, int] = {}
    kept_booked = 0
    remove_ids: list[int] = []
    if template_id is not None:
        own = (
            TimeBlock.objects.filter(template_id=template_id, withdrawn_at__isnull=True)
            .filter(start__gt=now)
            .annotate(used=_ever_used())
            .values_list("pk", "start", "end", "visit_type_id", "used")
        )
        wanted_keys = set(wanted)
        type_id = spec.visit_type.pk if spec and spec.visit_type else None
        for pk, start, end, visit_type_id, used in own:
            if used:
                kept_booked += 1
            elif (start, end) in wanted_keys and visit_type_id == type_id:
                own_free[(start, end)] = pk
            elif remove:
                remove_ids.append(pk)
    create: list[Slot] = []
    if wanted:
        removing = set(remove_ids)
        taken = [
            (s, e)
            for pk, s, e in TimeBlock.objects.filter(
                doctor_id=doctor_id,
                withdrawn_at__isnull=True,
                start__lt=wanted[-1][1],
                end__gt=wanted[0][0],
            ).values_list("pk", "start", "end")
            if pk not in removing
        ]
        for slot in wanted:
            if slot in own_free:
                continue
            if any(s < slot[1] and slot[0] < e for s, e in taken):
                continue
            taken.append(slot)
            create.append(slot)
    return Plan(create=create, remove_ids=remove_ids, kept_booked=kept_booked)


def excluded_periods_of(
    doctor_id: int, start: datetime.datetime, end: datetime.datetime
) -> list[Period]:
    """Periods no template may fill for the doctor between start and end: the doctor's active
    leaves and the clinic's closures (DESIGN-R2 R2-5)."""
    return selectors.leave_spans(doctor_id=doctor_id, start=start, end=end)


def _apply(
    plan: Plan,
    *,
    spec: TemplateSpec,
    template: AvailabilityTemplate,
    announce: bool = True,
) -> list[TimeBlock]:
    """Delete the plan's never-used free blocks and insert its new ones, without per-block
    field history (one audit event per operation, written by the caller)."""
    with without_field_history():
        if plan.remove_ids:
            TimeBlock.objects.filter(pk__in=plan.remove_ids).delete()
        blocks = [
            TimeBlock(
                doctor_id=template.doctor_id,
                start=start,
                end=end,
                visit_type=spec.visit_type,
                template=template,
                source=TimeBlock.Source.TEMPLATE,
            )
            for start, end in plan.create
        ]
        try:
            with transaction.atomic():
                created = TimeBlock.objects.bulk_create(blocks)
        except IntegrityError as error:
            raise conflict_from_integrity_error(error, BLOCK_OVERLAP) from error
    if announce:
        _announce(template.doctor_id, created, changed=bool(created or plan.remove_ids))
    return created


def _announce(doctor_id: int, created: list[TimeBlock], *, changed: bool) -> None:
    """Bulk writes send no signals: bump the doctor's public availability once and queue
    the waitlist for the new blocks."""
    if changed:
        bump(availability_scope(doctor_id), ANY_AVAILABILITY)
    waitlist_queue_blocks([block.pk for block in created])  # someone may be waiting for them


def _regenerate(
    template: AvailabilityTemplate,
    *,
    now: datetime.datetime,
    remove: bool = True,
    announce: bool = True,
) -> tuple[Plan, list[TimeBlock]]:
    spec = _spec_of(template) if template.active else None
    until = horizon_end(now)
    plan = _plan(
        spec,
        doctor_id=template.doctor_id,
        template_id=template.pk,
        now=now,
        until=until,
        remove=remove,
        excluded_periods=excluded_periods_of(template.doctor_id, now, until),
    )
    created = _apply(plan, spec=spec or _spec_of(template), template=template, announce=announce)
    return plan, created


def _audit(action: str, template: AvailabilityTemplate, actor: User | None, plan: Plan) -> None:
    audit_record(
        action=action,
        target=template,
        actor=actor,
        data={
            "doctor": template.doctor_id,
            "source": "template",
            "created": len(plan.create),
            "removed": len(plan.remove_ids),
            "kept_booked": plan.kept_booked,
            "rrule": template.rrule,
            "valid_from": template.valid_from.isoformat(),
            "valid_until": template.valid_until.isoformat(),
            "visit_type": template.visit_type_id,
        },
    )


def _result(template: AvailabilityTemplate | None, plan: Plan) -> TemplateResult:
    return TemplateResult(
        template=template,
        created=len(plan.create),
        removed=len(plan.remove_ids),
        kept_booked=plan.kept_booked,
    )


# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------
def availability_template_preview(
    spec: TemplateSpec, *, now: datetime.datetime | None = None
) -> list[Slot]:
    """The blocks a new template of this body would create now (no lock, no write): the
    same plan a create runs."""
    now = now or timezone.now()
    until = horizon_end(now)
    plan = _plan(
        spec,
        doctor_id=spec.doctor.pk,
        template_id=None,
        now=now,
        until=until,
        remove=False,
        excluded_periods=excluded_periods_of(spec.doctor.pk, now, until),
    )
    return plan.create


@service_transaction
def availability_template_create(*, actor: User, spec: TemplateSpec) -> TemplateResult:
    """Save the template and materialise it up to the horizon under the doctor's lock."""
    lock_users(exclusive=[spec.doctor.pk], shared=[actor_id(actor)])
    template = AvailabilityTemplate.objects.create(
        doctor=spec.doctor,
        rrule=spec.rrule,
        valid_from=spec.valid_from,
        valid_until=spec.valid_until,
        start_time=spec.start_time,
        end_time=spec.end_time,
        slot_minutes=spec.slot_minutes,
        timezone=spec.zone.key,
        visit_type=spec.visit_type,
    )
    plan, _ = _regenerate(template, now=timezone.now())
    _audit("availability_template.created", template, actor, plan)
    return _result(template, plan)


def _lock_template(template: AvailabilityTemplate) -> AvailabilityTemplate:
    return (
        AvailabilityTemplate.objects.select_for_update(of=("self",))
        .select_related("doctor", "visit_type")
        .get(pk=template.pk)
    )


@service_transaction
def availability_template_update(
    *, actor: User, template: AvailabilityTemplate, spec: TemplateSpec, active: bool = True
) -> TemplateResult:
    """Change the template; its never-used free blocks are regenerated (used ones kept)."""
    lock_users(exclusive=[template.doctor_id], shared=[actor_id(actor)])
    template = _lock_template(template)
    template.rrule = spec.rrule
    template.valid_from, template.valid_until = spec.valid_from, spec.valid_until
    template.start_time, template.end_time = spec.start_time, spec.end_time
    template.slot_minutes = spec.slot_minutes
    template.timezone = spec.zone.key
    template.visit_type = spec.visit_type
    template.active = active
    template.save()
    plan, _ = _regenerate(template, now=timezone.now())
    _audit("availability_template.updated", template, actor, plan)
    return _result(template, plan)


@service_transaction
def availability_template_delete(*, actor: User, template: AvailabilityTemplate) -> TemplateResult:
    """Delete the template and its never-used free future blocks; used blocks stay (their
    `template` becomes null, their source stays `template`)."""
    lock_users(exclusive=[template.doctor_id], shared=[actor_id(actor)])
    template = _lock_template(template)
    template.active = False
    plan, _ = _regenerate(template, now=timezone.now())
    _audit("availability_template.deleted", template, actor, plan)
    template.delete()
    return _result(None, plan)


@service_transaction
def availability_exception_create(
    *,
    actor: User,
    template: AvailabilityTemplate,
    date: datetime.date,
    kind: str,
    start_time: datetime.time | None = None,
    end_time: datetime.time | None = None,
) -> tuple[AvailabilityException, TemplateResult]:
    """A closed day or custom hours on one date of the template (one per date; 400 for a
    second); the template's blocks are regenerated."""
    if kind == AvailabilityException.Kind.CLOSED:
        if start_time is not None or end_time is not None:
            raise ValidationError({"start_time": [gettext("A closed day has no hours.")]})
    elif start_time is None or end_time is None or end_time <= start_time:
        raise ValidationError(
            {"end_time": [gettext("Custom hours need a start_time before the end_time.")]}
        )
    lock_users(exclusive=[template.doctor_id], shared=[actor_id(actor)])
    template = _lock_template(template)
    try:
        with transaction.atomic():
            exception = AvailabilityException.objects.create(
                template=template, date=date, kind=kind, start_time=start_time, end_time=end_time
            )
    except IntegrityError as error:
        raise ValidationError({"date": [gettext("This date already has an exception.")]}) from error
    plan, _ = _regenerate(template, now=timezone.now())
    _audit("availability_template.exception_added", template, actor, plan)
    return exception, _result(template, plan)


@service_transaction
def availability_exception_delete(
    *, actor: User, exception: AvailabilityException
) -> TemplateResult:
    """Remove an exception; the template's blocks are regenerated."""
    template = exception.template
    lock_users(exclusive=[template.doctor_id], shared=[actor_id(actor)])
    template = _lock_template(template)
    AvailabilityException.objects.filter(pk=exception.pk).delete()
    plan, _ = _regenerate(template, now=timezone.now())
    _audit("availability_template.exception_removed", template, actor, plan)
    return _result(template, plan)


@service_transaction
def availability_materialize_doctor(*, doctor_id: int) -> int:
    """Fill the doctor's active templates up to the horizon (the daily job): one transaction
    under the doctor's lock, one bulk insert per template, one time_block.bulk_created event,
    one cache bump, never a removal. Safe twice: overlapping slots are skipped."""
    doctor = lock_users(exclusive=[doctor_id])[doctor_id]
    now = timezone.now()
    created_total = 0
    templates = AvailabilityTemplate.objects.filter(
        doctor_id=doctor_id, active=True
    ).select_related("doctor", "visit_type")
    for template in templates.order_by("id"):
        _, created = _regenerate(template, now=now, remove=False)
        created_total += len(created)
    if created_total:
        audit_record(
            action="time_block.bulk_created",
            target=doctor,
            actor=None,
            data={
                "doctor": doctor_id,
                "created": created_total,
                "source": "template",
                "date_from": now.date().isoformat(),
                "date_to": horizon_end(now).date().isoformat(),
            },
        )
    return created_total


def template_doctor_ids() -> list[int]:
    """Active doctors with an active template, ascending (the lock order)."""
    templates = AvailabilityTemplate.objects.filter(
        active=True,
        doctor__role=User.Role.DOCTOR,
        doctor__is_active=True,
        doctor__suspended_at__isnull=True,
    )
    return sorted(set(templates.values_list("doctor_id", flat=True)))


def availability_materialize() -> tuple[int, int]:
    """Every doctor with an active template, one transaction each: (doctors, blocks made)."""
    doctor_ids = template_doctor_ids()
    made = 0
    for doctor_id in doctor_ids:
        made += availability_materialize_doctor(doctor_id=doctor_id)
    return len(doctor_ids), made
