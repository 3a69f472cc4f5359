"""Every visit-type rule of the facade, in one place (DESIGN-R2 §R2-1, §R2-8).

The `service-type` search parameter (a slug, or `urn:medappt:visit-type|<slug>`), the
serviceType coding of Slot, Appointment and Schedule, and $find's `visit-type` input.

This branch predates scheduling.VisitType: every block and appointment is untagged, which is
the type `general`. So `general` matches everything, any other slug nothing, and every
serviceType is the `general` coding. Once VisitType lands (a nullable `visit_type` FK on
TimeBlock and Appointment, DoctorVisitType for offers), this module changes (and the reads
load the type):
`matches_q` filters `visit_type__isnull=True` for general and `visit_type__slug=<slug>`
otherwise (an unknown slug stays an empty result, not a 400: FHIR searches match nothing),
`schedules_q` (Schedule's service-type) becomes an Exists() over the doctor's offers,
`coding_of` reads the row's type (select_related("visit_type") in formats.fhir.selectors and
find), and `schedule_codings` lists the doctor's offered types after general.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

SYSTEM = "urn:medappt:visit-type"
GENERAL = "general"


def parse(value: str) -> str:
    """A slug from `slug` or `urn:medappt:visit-type|slug` (a token search value)."""
    text = value.strip()
    if "|" in text:
        system, _, text = text.partition("|")
        if system and system != SYSTEM:
            return ""  # another code system: matches nothing
    return text.lower()


def matches_q(values: list[str], prefix: str = "") -> Q:
    """Rows of any of the visit types named (FHIR's OR over comma-separated values)."""
    slugs = {parse(part) for value in values for part in value.split(",")}
    if GENERAL in slugs:
        return Q()  # every row is untagged, so general
    return Q(pk__in=[])


def schedules_q(values: list[str]) -> Q:
    """Doctors (DoctorProfile rows) whose schedule offers any of the visit types named: every
    doctor offers general. With VisitType: general still matches all, another slug an
    Exists() of the doctor's active DoctorVisitType of an active type with that slug."""
    return matches_q(values)


def coding_of(row: object) -> dict[str, Any]:
    """The serviceType (a CodeableConcept) of a block, an appointment or a waitlist entry:
    untagged is general."""
    return {"coding": [{"system": SYSTEM, "code": GENERAL}]}


def schedule_codings(doctor_id: int) -> list[dict[str, Any]]:
    """The visit types a doctor's schedule offers: every doctor offers general."""
    return [{"coding": [{"system": SYSTEM, "code": GENERAL}]}]
