"""Our rows as FHIR R4B resources (DESIGN-R2 §R2-1 "Mapping"), built with fhir.resources'
models. Ids: Practitioner/{user}, Schedule/{doctor}, Slot/{block}, Appointment/{id} and
Appointment/wl-{waitlist entry}, Patient/{user}."""

from __future__ import annotations

from django.utils.text import slugify
from fhir.resources.R4B.appointment import Appointment as FHIRAppointment
from fhir.resources.R4B.appointment import AppointmentParticipant
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot

from accounts.models import DoctorProfile, User
from formats.fhir import visit_types
from scheduling.models import Appointment, CancellationCode, TimeBlock, WaitlistEntry

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


def _name(user: User) -> HumanName:
    text = f"{user.first_name} {user.last_name}".strip()
    return HumanName(
        family=user.last_name or None,
        given=[user.first_name] if user.first_name else None,
        text=text or None,
    )


def _display(user: User) -> str | None:
    return f"{user.first_name} {user.last_name}".strip() or None


def _ref(kind: str, pk: int, display: str | None = None) -> Reference:
    return Reference(reference=f"{kind}/{pk}", display=display)


def specialty_coding(name: str) -> CodeableConcept:
    return CodeableConcept(
        coding=[Coding(system=SPECIALTY_SYSTEM, code=slugify(name), display=name)]
    )


def practitioner(profile: DoctorProfile) -> Practitioner:
    """A public doctor: a name, never an email, a phone or a licence."""
    return Practitioner(id=str(profile.user_id), active=True, name=[_name(profile.user)])


def schedule(profile: DoctorProfile) -> Schedule:
    """A doctor's bookable time: their specialties and the visit types they offer."""
    names = [row.name for row in profile.specialty_rows.all()] or [profile.specialty]
    return Schedule(
        id=str(profile.user_id),
        active=True,
        actor=[_ref("Practitioner", profile.user_id, _display(profile.user))],
        specialty=[specialty_coding(name) for name in names if name] or None,
        serviceType=visit_types.schedule_codings(profile.user_id),
    )


def slot_status(block: TimeBlock) -> str:
    """free = bookable; busy = a confirmed, arrived, completed or no-show visit; busy-tentative =
    pending or held; busy-unavailable = unbooked and not bookable (past, lead time, leave)."""
    return block.fhir_status


def slot(block: TimeBlock, status: str | None = None) -> Slot:
    return Slot(
        id=str(block.pk),
        schedule=_ref("Schedule", block.doctor_id),
        status=status or slot_status(block),
        start=block.start,
        end=block.end,
        serviceType=[visit_types.coding_of(block)],
    )


def appointment_status(appointment: Appointment) -> str:
    if appointment.status == S.ARRIVED and appointment.seen_at is not None:
        return "checked-in"
    return APPOINTMENT_STATUS[appointment.status]


def _cancelation_reason(appointment: Appointment) -> CodeableConcept | None:
    if appointment.status != S.CANCELLED:
        return None
    code = CANCELATION_REASONS.get(appointment.cancellation_code, "other")
    return CodeableConcept(
        coding=[Coding(system=CANCELLATION_SYSTEM, code=code)],
        text=appointment.cancellation_reason or None,
    )


def appointment(appointment: Appointment) -> FHIRAppointment:
    """A booked visit: reason in reasonCode.text, notes in comment."""
    pending = appointment.status == S.PENDING
    return FHIRAppointment(
        id=str(appointment.pk),
        status=appointment_status(appointment),
        cancelationReason=_cancelation_reason(appointment),
        serviceType=[visit_types.coding_of(appointment)],
        reasonCode=[CodeableConcept(text=appointment.reason)] if appointment.reason else None,
        comment=appointment.notes or None,
        start=appointment.start,
        end=appointment.end,
        created=appointment.created_at,
        slot=[_ref("Slot", appointment.time_block_id)],
        participant=[
            AppointmentParticipant(
                actor=_ref("Patient", appointment.patient_id, _display(appointment.patient)),
                status="accepted",
            ),
            AppointmentParticipant(
                actor=_ref("Practitioner", appointment.doctor_id, _display(appointment.doctor)),
                status="needs-action" if pending else "accepted",
            ),
        ],
    )


def waitlist_appointment(entry: WaitlistEntry) -> FHIRAppointment:
    """A live waitlist entry: status waitlist, its dates as requestedPeriod (whole days in the
    doctor's zone, so plain dates), a doctor or a specialty."""
    participants = [
        AppointmentParticipant(
            actor=_ref("Patient", entry.patient_id, _display(entry.patient)), status="accepted"
        )
    ]
    if entry.doctor_id is not None:
        participants.append(
            AppointmentParticipant(
                actor=_ref("Practitioner", entry.doctor_id, _display(entry.doctor)),
                status="needs-action",
            )
        )
    return FHIRAppointment(
        id=f"{WAITLIST_PREFIX}{entry.pk}",
        status=WAITLIST_STATUS,
        specialty=[specialty_coding(entry.specialty)] if entry.specialty else None,
        serviceType=[visit_types.coding_of(entry)],
        created=entry.created_at,
        requestedPeriod=[Period(start=entry.date_from.isoformat(), end=entry.date_to.isoformat())],
        participant=participants,
    )


def proposed_appointment(block: TimeBlock, patient_id: int | None) -> FHIRAppointment:
    """A $find result: a bookable block offered as a proposed appointment."""
    participants = [
        AppointmentParticipant(
            actor=_ref("Practitioner", block.doctor_id, _display(block.doctor)),
            status="needs-action",
        )
    ]
    if patient_id is not None:
        participants.insert(
            0, AppointmentParticipant(actor=_ref("Patient", patient_id), status="needs-action")
        )
    return FHIRAppointment(
        status="proposed",
        serviceType=[visit_types.coding_of(block)],
        start=block.start,
        end=block.end,
        slot=[_ref("Slot", block.pk)],
        participant=participants,
    )


def patient(user: User, *, name_only: bool) -> Patient:
    """A patient; a doctor sees their own patients' names only."""
    if name_only:
        return Patient(id=str(user.pk), name=[_name(user)])
    telecom = [ContactPoint(system="email", value=user.email, use="home")]
    if user.phone:
        telecom.append(ContactPoint(system="phone", value=user.phone, use="mobile"))
    return Patient(
        id=str(user.pk),
        active=user.is_active,
        name=[_name(user)],
        telecom=telecom,
        communication=None,
    )
