"""Our rows as FHIR R4 resources (DESIGN-R2 §R2-1 "Mapping"). Ids: Practitioner/{user},
Schedule/{doctor}, Slot/{block}, Appointment/{id} and Appointment/wl-{waitlist entry},
Patient/{user}.

The resources are plain dicts in the shape of fhir.resources' R4B models, not the models
themselves: building and serialising a page of 100 slots through the models costs 24-34 ms
of CPU against about 1 ms for these dicts (bench/fhir_cpu.py, bench/README.md), three times
the whole REST availability request. The models still decide what is valid: every body the tests
see is parsed by them (tests/support/fhir.py), and FHIR_VALIDATE_RESPONSES parses each answer
before it leaves (formats/fhir/validation.py). Values nobody set are left out, never null.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.text import slugify

from accounts.models import DoctorProfile, User
from formats.fhir import visit_types
from scheduling.models import Appointment, CancellationCode, TimeBlock, WaitlistEntry

Resource = dict[str, Any]

SPECIALTY_SYSTEM = "urn:medappt:specialty"
CANCELLATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
WAITLIST_PREFIX = "wl-"

S = Appointment.Status
APPOINTMENT_STATUS = {
    S.PENDING: "pending",
    S.CONFIRMED: "booked",
    S.ARRIVED: "arrived",  # checked-in once seen
    S.COMPLETED: "fulfilled",
    S.NO_SHOW: "noshow",
    S.CANCELLED: "cancelled",
}
# The FHIR status searched for, as a filter on our rows (arrived/checked-in split by seen_at).
STATUS_FILTERS = {
    "pending": {"status": S.PENDING},
    "booked": {"status": S.CONFIRMED},
    "arrived": {"status": S.ARRIVED, "seen_at__isnull": True},
    "checked-in": {"status": S.ARRIVED, "seen_at__isnull": False},
    "fulfilled": {"status": S.COMPLETED},
    "noshow": {"status": S.NO_SHOW},
    "cancelled": {"status": S.CANCELLED},
}
WAITLIST_STATUS = "waitlist"
CANCELATION_REASONS = {
    CancellationCode.PATIENT: "pat",
    CancellationCode.PROVIDER: "prov",
    CancellationCode.LEAVE: "prov",
}
SLOT_BUSY_STATUSES = (S.CONFIRMED, S.ARRIVED, S.COMPLETED, S.NO_SHOW)


def _pruned(resource: Resource) -> Resource:
    """Without the elements that have no value (FHIR has no nulls, nor empty arrays)."""
    return {key: value for key, value in resource.items() if value not in (None, [], "")}


def instant(moment: datetime.datetime) -> str:
    """An aware datetime as a FHIR instant, in UTC with Z."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _name(user: User) -> Resource:
    return _pruned(
        {
            "text": f"{user.first_name} {user.last_name}".strip(),
            "family": user.last_name,
            "given": [user.first_name] if user.first_name else None,
        }
    )


def _display(user: User) -> str | None:
    return f"{user.first_name} {user.last_name}".strip() or None


def _ref(kind: str, pk: int | str, display: str | None = None) -> Resource:
    return _pruned({"reference": f"{kind}/{pk}", "display": display})


def specialty_coding(name: str) -> Resource:
    return {"coding": [{"system": SPECIALTY_SYSTEM, "code": slugify(name), "display": name}]}


def practitioner(profile: DoctorProfile) -> Resource:
    """A public doctor: a name, never an email, a phone or a licence."""
    return {
        "resourceType": "Practitioner",
        "id": str(profile.user_id),
        "active": True,
        "name": [_name(profile.user)],
    }


def schedule(profile: DoctorProfile) -> Resource:
    """A doctor's bookable time: their specialties and the visit types they offer."""
    names = [row.name for row in profile.specialty_rows.all()] or [profile.specialty]
    return _pruned(
        {
            "resourceType": "Schedule",
            "id": str(profile.user_id),
            "active": True,
            "serviceType": visit_types.schedule_codings(profile),
            "specialty": [specialty_coding(name) for name in names if name],
            "actor": [_ref("Practitioner", profile.user_id, _display(profile.user))],
        }
    )


def slot(block: TimeBlock) -> Resource:
    """A block with its status (annotated by formats.fhir.selectors): free = bookable; busy = a
    confirmed, arrived, completed or no-show visit; busy-tentative = pending or held;
    busy-unavailable = unbooked and not bookable (past, lead time, leave)."""
    return {
        "resourceType": "Slot",
        "id": str(block.pk),
        "serviceType": [visit_types.coding_of(block)],
        "schedule": {"reference": f"Schedule/{block.doctor_id}"},
        "status": block.fhir_status,
        "start": instant(block.start),
        "end": instant(block.end),
    }


def appointment_status(appointment: Appointment) -> str:
    if appointment.status == S.ARRIVED and appointment.seen_at is not None:
        return "checked-in"
    return APPOINTMENT_STATUS[appointment.status]


def _cancelation_reason(appointment: Appointment) -> Resource | None:
    if appointment.status != S.CANCELLED:
        return None
    code = CANCELATION_REASONS.get(appointment.cancellation_code, "other")
    return _pruned(
        {
            "coding": [{"system": CANCELLATION_SYSTEM, "code": code}],
            "text": appointment.cancellation_reason,
        }
    )


def appointment(appointment: Appointment) -> Resource:
    """A booked visit: reason in reasonCode.text, notes in comment."""
    pending = appointment.status == S.PENDING
    return _pruned(
        {
            "resourceType": "Appointment",
            "id": str(appointment.pk),
            "status": appointment_status(appointment),
            "cancelationReason": _cancelation_reason(appointment),
            "serviceType": [visit_types.coding_of(appointment)],
            "reasonCode": [{"text": appointment.reason}] if appointment.reason else None,
            "start": instant(appointment.start),
            "end": instant(appointment.end),
            "slot": [{"reference": f"Slot/{appointment.time_block_id}"}],
            "created": instant(appointment.created_at),
            "comment": appointment.notes,
            "participant": [
                {
                    "actor": _ref("Patient", appointment.patient_id, _display(appointment.patient)),
                    "status": "accepted",
                },
                {
                    "actor": _ref(
                        "Practitioner", appointment.doctor_id, _display(appointment.doctor)
                    ),
                    "status": "needs-action" if pending else "accepted",
                },
            ],
        }
    )


def waitlist_appointment(entry: WaitlistEntry) -> Resource:
    """A live waitlist entry: status waitlist, its dates as requestedPeriod (whole days in the
    doctor's zone, so plain dates), a doctor or a specialty."""
    participants = [
        {"actor": _ref("Patient", entry.patient_id, _display(entry.patient)), "status": "accepted"}
    ]
    if entry.doctor_id is not None:
        participants.append(
            {
                "actor": _ref("Practitioner", entry.doctor_id, _display(entry.doctor)),
                "status": "needs-action",
            }
        )
    return _pruned(
        {
            "resourceType": "Appointment",
            "id": f"{WAITLIST_PREFIX}{entry.pk}",
            "status": WAITLIST_STATUS,
            "serviceType": [visit_types.coding_of(entry)],
            "specialty": [specialty_coding(entry.specialty)] if entry.specialty else None,
            "created": instant(entry.created_at),
            "participant": participants,
            "requestedPeriod": [
                {"start": entry.date_from.isoformat(), "end": entry.date_to.isoformat()}
            ],
        }
    )


def proposed_appointment(block: TimeBlock, patient_id: int | None) -> Resource:
    """A $find result: a bookable block offered as a proposed appointment (no id: nothing
    is stored)."""
    participants = [
        {
            "actor": _ref("Practitioner", block.doctor_id, _display(block.doctor)),
            "status": "needs-action",
        }
    ]
    if patient_id is not None:
        participants.insert(0, {"actor": _ref("Patient", patient_id), "status": "needs-action"})
    return {
        "resourceType": "Appointment",
        "status": "proposed",
        "serviceType": [visit_types.coding_of(block)],
        "start": instant(block.start),
        "end": instant(block.end),
        "slot": [{"reference": f"Slot/{block.pk}"}],
        "participant": participants,
    }


def patient(user: User, *, name_only: bool) -> Resource:
    """A patient; a doctor sees their own patients' names only."""
    if name_only:
        return {"resourceType": "Patient", "id": str(user.pk), "name": [_name(user)]}
    telecom = [{"system": "email", "value": user.email, "use": "home"}]
    if user.phone:
        telecom.append({"system": "phone", "value": user.phone, "use": "mobile"})
    return {
        "resourceType": "Patient",
        "id": str(user.pk),
        "active": user.is_active,
        "name": [_name(user)],
        "telecom": telecom,
    }
