"""Visit types (DESIGN-R2 R2-8): the clinic's kinds of visit, which doctors offer them, and
the rules a tagged block follows."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from accounts.models import DoctorProfile, DoctorSpecialty, User
from audit.services import audit_record
from core.locking import actor_id, lock_users, service_transaction
from scheduling.models import GENERAL_VISIT_TYPE, DoctorVisitType, VisitType
from scheduling.services.checks import check_doctor

MIN_DURATION, MAX_DURATION = 5, 720
# What an admin may change on a type (the slug names it in URLs and filters: fixed).
VISIT_TYPE_FIELDS = ("name", "duration_minutes", "specialty", "description", "active")


def _check_fields(*, slug: str | None = None, duration_minutes: int | None = None) -> None:
    if slug is not None and slug.lower() == GENERAL_VISIT_TYPE:
        raise ValidationError(
            {"slug": [gettext("'%(slug)s' is reserved.") % {"slug": GENERAL_VISIT_TYPE}]}
        )
    if duration_minutes is not None and not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise ValidationError({"duration_minutes": [gettext("Between 5 and 720 minutes.")]})


@service_transaction
def visit_type_create(
    *,
    actor: User,
    name: str,
    slug: str,
    duration_minutes: int,
    specialty: str = "",
    description: str = "",
) -> VisitType:
    """A new, active visit type; its slug is unique and never `general`."""
    _check_fields(slug=slug, duration_minutes=duration_minutes)
    try:
        with transaction.atomic():
            visit_type = VisitType.objects.create(
                name=name,
                slug=slug,
                duration_minutes=duration_minutes,
                specialty=specialty.strip(),
                description=description,
            )
    except IntegrityError as error:
        raise ValidationError(
            {"slug": [gettext("A visit type with this slug already exists.")]}
        ) from error
    audit_record(
        action="visit_type.created",
        target=visit_type,
        actor=actor,
        data={"slug": visit_type.slug, "duration_minutes": duration_minutes},
    )
    return visit_type


@service_transaction
def visit_type_update(*, actor: User, visit_type: VisitType, **changes: object) -> VisitType:
    """Change a type's name, duration, specialty, description or active flag. Existing tagged
    blocks keep their length; new ones take the new duration."""
    unknown = set(changes) - set(VISIT_TYPE_FIELDS)
    if unknown:
        raise ValidationError(
            {name: [gettext("This field cannot be changed.")] for name in unknown}
        )
    _check_fields(duration_minutes=changes.get("duration_minutes"))  # type: ignore[arg-type]
    visit_type = VisitType.objects.select_for_update().get(pk=visit_type.pk)
    if isinstance(changes.get("specialty"), str):
        changes["specialty"] = changes["specialty"].strip()  # type: ignore[union-attr]
    changed = [name for name, value in changes.items() if getattr(visit_type, name) != value]
    if not changed:
        return visit_type
    for name in changed:
        setattr(visit_type, name, changes[name])
    visit_type.save(update_fields=[*changed, "updated_at"])
    action = "visit_type.updated"
    if changed == ["active"]:
        action = "visit_type.activated" if visit_type.active else "visit_type.deactivated"
    audit_record(action=action, target=visit_type, actor=actor, data={"fields": changed})
    return visit_type


def visit_type_deactivate(*, actor: User, visit_type: VisitType) -> VisitType:
    """Offer the type no more: no new blocks, no listing; tagged rows keep it."""
    return visit_type_update(actor=actor, visit_type=visit_type, active=False)


def doctor_may_offer(*, doctor: User, visit_type: VisitType) -> bool:
    """A type without a specialty suits any doctor; one with a specialty only its doctors."""
    if not visit_type.specialty:
        return True
    wanted = visit_type.specialty.lower()
    rows = DoctorSpecialty.objects.filter(doctor_id=doctor.pk).values_list("name", flat=True)
    names = [name.lower() for name in rows]
    if not names:
        profile = DoctorProfile.objects.filter(pk=doctor.pk).values_list("specialty", flat=True)
        names = [name.lower() for name in profile]
    return wanted in names


@service_transaction
def doctor_visit_types_set(
    *, actor: User, doctor: User, visit_types: list[VisitType]
) -> list[VisitType]:
    """The doctor offers exactly these active types: new offers made, missing ones withdrawn
    (kept as inactive rows). A type of another specialty, or an inactive one, is a 400."""
    check_doctor(doctor)
    wanted = {visit_type.pk: visit_type for visit_type in visit_types}
    lock_users(exclusive=[doctor.pk], shared=[actor_id(actor)])
    fresh = VisitType.objects.in_bulk(list(wanted))
    for pk in sorted(wanted):
        visit_type = fresh.get(pk)
        if visit_type is None or not visit_type.active:
            raise ValidationError(
                {"visit_types": [gettext("Visit type %(id)d is not active.") % {"id": pk}]}
            )
        if not doctor_may_offer(doctor=doctor, visit_type=visit_type):
            message = gettext("Visit type %(id)d is only for doctors of %(specialty)s.") % {
                "id": pk,
                "specialty": visit_type.specialty,
            }
            raise ValidationError({"visit_types": [message]})
    offers = {o.visit_type_id: o for o in DoctorVisitType.objects.filter(doctor_id=doctor.pk)}
    added, removed = [], []
    for pk in sorted(wanted):
        offer = offers.get(pk)
        if offer is None:
            DoctorVisitType.objects.create(doctor=doctor, visit_type_id=pk)
            added.append(pk)
        elif not offer.active:
            offer.active = True
            offer.save(update_fields=["active", "updated_at"])
            added.append(pk)
    for pk, offer in sorted(offers.items()):
        if offer.active and pk not in wanted:
            offer.active = False
            offer.save(update_fields=["active", "updated_at"])
            removed.append(pk)
    if added or removed:
        audit_record(
            action="doctor.visit_types_updated",
            target=doctor,
            actor=actor,
            data={"doctor": doctor.pk, "added": added, "removed": removed},
        )
    return [fresh[pk] for pk in sorted(wanted)]


def check_visit_type_for_block(*, doctor: User, visit_type: VisitType) -> None:
    """A tagged block needs an active type its doctor actively offers (400 otherwise)."""
    offered = DoctorVisitType.objects.filter(
        doctor_id=doctor.pk, visit_type_id=visit_type.pk, active=True, visit_type__active=True
    ).exists()
    if not offered:
        raise ValidationError(
            {"visit_type": [gettext("The doctor does not offer this visit type.")]}
        )


def check_tagged_length(
    *, visit_type: VisitType | None, start: datetime.datetime, end: datetime.datetime
) -> None:
    """A tagged block lasts exactly its type's duration (400 otherwise)."""
    if visit_type is None:
        return
    if end - start != datetime.timedelta(minutes=visit_type.duration_minutes):
        message = gettext("A block of this visit type lasts %(minutes)d minutes.") % {
            "minutes": visit_type.duration_minutes
        }
        raise ValidationError({"end": [message]})
