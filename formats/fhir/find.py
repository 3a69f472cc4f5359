"""Appointment/$find (IHE ITI-115): bookable slots as proposed appointments.

Inputs from the query string (GET) or a Parameters body (POST), read into one dict of lists,
so both answer alike. start/end (at most 62 days apart), practitioner (the order given is the
preference), specialty, visit-type, location-string, patient-reference; anything else is
ignored and listed in an OperationOutcome entry.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils.translation import gettext
from fhir.resources.R4B.parameters import Parameters
from pydantic import ValidationError as PydanticValidationError

from accounts.models import DoctorSpecialty, User
from core.roles import CLINIC_ROLES
from formats.fhir import params, visit_types
from formats.fhir.selectors import slot_list_free
from scheduling.models import ACTIVE_STATUSES, Appointment, TimeBlock

MAX_SPAN = datetime.timedelta(days=62)
SUPPORTED = (
    "start",
    "end",
    "practitioner",
    "specialty",
    "visit-type",
    "location-string",
    "patient-reference",
)


class FindForbidden(Exception):
    """A patient-reference the caller may not name (403)."""


class FindUnauthenticated(Exception):
    """A patient-reference without credentials (401)."""


@dataclass
class FindInput:
    start: datetime.datetime
    end: datetime.datetime
    practitioners: list[int] = field(default_factory=list)
    specialties: list[str] = field(default_factory=list)
    visit_types: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    patient_id: int | None = None
    ignored: list[str] = field(default_factory=list)

    def query(self) -> list[tuple[str, str]]:
        """The inputs as GET parameters (the bundle's links repeat them)."""
        pairs = [("start", self.start.isoformat()), ("end", self.end.isoformat())]
        pairs += [("practitioner", str(pk)) for pk in self.practitioners]
        pairs += [("specialty", value) for value in self.specialties]
        pairs += [("visit-type", value) for value in self.visit_types]
        pairs += [("location-string", value) for value in self.locations]
        if self.patient_id is not None:
            pairs.append(("patient-reference", f"Patient/{self.patient_id}"))
        return pairs


def _value(parameter) -> str | None:
    """A Parameters.parameter value as the text a query string would carry."""
    for name in ("valueDateTime", "valueInstant", "valueDate"):
        value = getattr(parameter, name, None)
        if value is not None:
            # A date alone, or a time without offset, is then refused as in a query string.
            return value.isoformat()
    for name in ("valueString", "valueCode", "valueUri", "valueId"):
        value = getattr(parameter, name, None)
        if value is not None:
            return str(value)
    reference = getattr(parameter, "valueReference", None)
    if reference is not None and reference.reference:
        return reference.reference
    return None


def inputs_from_body(body: object) -> dict[str, list[str]]:
    """A POSTed Parameters resource as name -> values (in order)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise ValidationError(gettext("The body must be a Parameters resource."))
    try:
        parsed = Parameters.model_validate(body)
    except PydanticValidationError as error:
        raise ValidationError(gettext("The Parameters resource is not valid.")) from error
    inputs: dict[str, list[str]] = {}
    for parameter in parsed.parameter or []:
        value = _value(parameter)
        if value is None:
            raise ValidationError(
                gettext("%(name)s: a value is required.") % {"name": parameter.name}
            )
        inputs.setdefault(parameter.name, []).append(value)
    return inputs


def _one(inputs: dict[str, list[str]], name: str) -> str | None:
    values = inputs.get(name) or []
    if len(values) > 1:
        raise ValidationError(gettext("%(name)s: give it once.") % {"name": name})
    return values[0] if values else None


def parse_inputs(inputs: dict[str, list[str]]) -> FindInput:
    start, end = _one(inputs, "start"), _one(inputs, "end")
    if start is None or end is None:
        raise ValidationError(gettext("start and end are required."))
    begins, ends = params.parse_instant("start", start), params.parse_instant("end", end)
    if ends <= begins:
        raise ValidationError(gettext("end must be after start."))
    if ends - begins > MAX_SPAN:
        raise ValidationError(gettext("start and end may be at most 62 days apart."))
    patient = _one(inputs, "patient-reference")
    preferred = params.parse_ids("practitioner", inputs.get("practitioner", []), "Practitioner")
    return FindInput(
        start=begins,
        end=ends,
        practitioners=list(dict.fromkeys(preferred)),
        specialties=[v for v in inputs.get("specialty", []) if v.strip()],
        visit_types=[v for v in inputs.get("visit-type", []) if v.strip()],
        locations=[v.strip() for v in inputs.get("location-string", []) if v.strip()],
        patient_id=params.parse_id("patient-reference", patient, "Patient") if patient else None,
        ignored=sorted(set(inputs) - set(SUPPORTED) - params.COMMON),
    )


def check_patient(found: FindInput, user: User) -> None:
    """patient-reference: a patient may name themselves, staff anyone; else 403 (401 without
    credentials). An unknown patient named by staff is a 400."""
    if found.patient_id is None:
        return
    if not user.is_authenticated:
        raise FindUnauthenticated
    if user.role in CLINIC_ROLES:
        if not User.objects.filter(pk=found.patient_id, role=User.Role.PATIENT).exists():
            raise ValidationError(gettext("patient-reference: no such patient."))
        return
    if user.role != User.Role.PATIENT or user.pk != found.patient_id:
        raise FindForbidden


def _specialty_q(values: list[str]) -> Q:
    """A specialty code is its slug ("family-medicine") or its name, in any case."""
    names = {part.strip().lower().replace("-", " ") for v in values for part in v.split(",")}
    names |= {part.strip().lower() for v in values for part in v.split(",")}
    rows = DoctorSpecialty.objects.filter(doctor_id=OuterRef("doctor_id"))
    matches = Q()
    for name in sorted(names):
        matches |= Q(name__iexact=name)
    return Q(Exists(rows.filter(matches)))


def slot_list_found(found: FindInput) -> QuerySet[TimeBlock]:
    """Bookable slots of the request, by start then the practitioners' order of preference."""
    blocks = slot_list_free(start=found.start, end=found.end).select_related("doctor")
    if found.practitioners:
        blocks = blocks.filter(doctor_id__in=found.practitioners)
    if found.specialties:
        blocks = blocks.filter(_specialty_q(found.specialties))
    if found.visit_types:
        blocks = blocks.filter(visit_types.matches_q(found.visit_types))
    for location in found.locations:
        blocks = blocks.filter(
            Q(doctor__doctor_profile__location__icontains=location)
            | Q(doctor__doctor_profile__hospital__icontains=location)
        )
    if found.patient_id is not None:
        busy = Appointment.objects.filter(
            patient_id=found.patient_id,
            status__in=ACTIVE_STATUSES,
            start__lt=OuterRef("end"),
            end__gt=OuterRef("start"),
        )
        blocks = blocks.exclude(Exists(busy))
    if len(found.practitioners) > 1:
        preference = Case(
            *[When(doctor_id=pk, then=Value(rank)) for rank, pk in enumerate(found.practitioners)],
            output_field=IntegerField(),
        )
        blocks = blocks.annotate(preference=preference).order_by("start", "preference", "id")
    return blocks
