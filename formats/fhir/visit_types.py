"""Every visit-type rule of the facade, in one place (DESIGN-R2 §R2-1, §R2-8).

The `service-type` search parameter (a slug, or `urn:medappt:visit-type|<slug>`), the
serviceType coding of Slot, Appointment and Schedule, and $find's `visit-type` input. An
untagged block or appointment is the type `general`; an unknown slug matches nothing (a FHIR
search that finds nothing is an empty bundle, not a 400). The reads load each row's type
(`select_related("visit_type")` in formats.fhir.selectors and find) and each practitioner's
offers (prefetched as OFFERS_ATTR).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, Q

from accounts.models import DoctorProfile
from scheduling.selectors import doctors_offering_any

SYSTEM = "urn:medappt:visit-type"
GENERAL = "general"
OFFERS_ATTR = "fhir_visit_type_offers"  # prefetched by formats.fhir.selectors


def parse(value: str) -> str:
    """A slug from `slug` or `urn:medappt:visit-type|slug` (a token search value)."""
    text = value.strip()
    if not text.isprintable():
        return ""  # a control character (NUL included) names no type: matches nothing
    if "|" in text:
        system, _, text = text.partition("|")
        if system and system != SYSTEM:
            return ""  # another code system: matches nothing
    return text.lower()


def _slugs(values: list[str]) -> set[str]:
    return {parse(part) for value in values for part in value.split(",")} - {""}


def matches_q(values: list[str], prefix: str = "") -> Q:
    """Rows (blocks, appointments, waitlist entries) of any of the visit types named (FHIR's
    OR over comma-separated values); `general` is an untagged row."""
    slugs = _slugs(values)
    condition = Q(pk__in=[])
    if GENERAL in slugs:
        condition |= Q(**{f"{prefix}visit_type__isnull": True})
    others = sorted(slugs - {GENERAL})
    if others:
        condition |= Q(**{f"{prefix}visit_type__slug__in": others})
    return condition


def schedules_q(values: list[str]) -> Q | Exists:
    """Doctors (DoctorProfile rows) whose schedule offers any of the visit types named: every
    doctor offers general; another slug, an active offer of an active type."""
    slugs = _slugs(values)
    if GENERAL in slugs:
        return Q()
    others = sorted(slugs)
    return doctors_offering_any(others) if others else Q(pk__in=[])


def _coding(slug: str) -> dict[str, Any]:
    return {"coding": [{"system": SYSTEM, "code": slug}]}


def coding_of(row: object) -> dict[str, Any]:
    """The serviceType (a CodeableConcept) of a block, an appointment or a waitlist entry:
    its type's slug, general when untagged."""
    if getattr(row, "visit_type_id", None) is None:
        return _coding(GENERAL)
    return _coding(row.visit_type.slug)  # type: ignore[attr-defined]


def schedule_codings(profile: DoctorProfile) -> list[dict[str, Any]]:
    """The visit types a doctor's schedule offers: general, then the active offers by slug."""
    offers = getattr(profile.user, OFFERS_ATTR, None)
    if offers is None:  # not prefetched: one query
        offers = (
            profile.user.visit_type_offers.filter(active=True, visit_type__active=True)
            .select_related("visit_type")
            .order_by("visit_type__slug")
        )
    return [_coding(GENERAL), *(_coding(offer.visit_type.slug) for offer in offers)]
