"""The facade's reads: scheduling's selectors (the one bookable predicate, appointment and
waitlist visibility) with the FHIR status of each block annotated in SQL, so a status search
filters in the database."""

from __future__ import annotations

import datetime

from django.db.models import (
    Case,
    CharField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from accounts.models import DoctorProfile, User
from core.roles import CLINIC_ROLES
from formats.fhir.mapping import SLOT_BUSY_STATUSES
from formats.fhir.visit_types import OFFERS_ATTR
from scheduling import selectors as scheduling
from scheduling.models import Appointment, SlotHold, TimeBlock, WaitlistEntry

LIVE_WAITLIST_STATUSES = (WaitlistEntry.Status.ACTIVE, WaitlistEntry.Status.OFFERED)


def practitioner_list() -> QuerySet[DoctorProfile]:
    """Public doctors (the directory's rule), with their specialties."""
    return scheduling.doctor_list_public(ratings=False).prefetch_related(
        "specialty_rows", scheduling.visit_type_offers_prefetch(OFFERS_ATTR)
    )


def _public_doctor_ids() -> QuerySet:
    return practitioner_list().order_by().values("user_id")


def slot_list_free(*, start: datetime.datetime, end: datetime.datetime) -> QuerySet[TimeBlock]:
    """Free slots: exactly availability's blocks (bookable, of a public doctor), by start."""
    return (
        scheduling.time_block_list_bookable(start=start)
        .filter(start__lt=end, doctor_id__in=_public_doctor_ids())
        .select_related("visit_type")
        .annotate(fhir_status=Value("free", output_field=CharField()))
        .order_by("start", "id")
    )


def _with_slot_status(blocks: QuerySet[TimeBlock]) -> QuerySet[TimeBlock]:
    """Each block's FHIR slot status, from its latest uncancelled appointment, a live hold and
    the bookable predicate."""
    visit = (
        Appointment.objects.filter(time_block=OuterRef("pk"))
        .exclude(status=Appointment.Status.CANCELLED)
        .order_by("-id")
        .values("status")[:1]
    )
    # The bookable predicate probed for this one row. `start__lte` (true for the row itself)
    # keeps PostgreSQL from hashing the whole predicate's result instead (every bookable
    # block of every doctor, 1.5 s at seed_demo --scale 200): it hashes an EXISTS only when
    # its every link to the outer row is an equality.
    free = scheduling.time_block_list_bookable(start=timezone.now()).filter(
        pk=OuterRef("pk"), start__lte=OuterRef("start"), doctor_id__in=_public_doctor_ids()
    )
    held = SlotHold.objects.filter(scheduling.live_hold_q(), time_block=OuterRef("pk"))
    return blocks.annotate(
        visit_status=Subquery(visit, output_field=CharField()),
        fhir_status=Case(
            When(visit_status__in=SLOT_BUSY_STATUSES, then=Value("busy")),
            When(
                Q(visit_status=Appointment.Status.PENDING) | Exists(held),
                then=Value("busy-tentative"),
            ),
            When(Exists(free), then=Value("free")),
            default=Value("busy-unavailable"),
            output_field=CharField(),
        ),
    )


def slot_list_visible_to(
    *, user: User, start: datetime.datetime, end: datetime.datetime
) -> QuerySet[TimeBlock]:
    """Unwithdrawn blocks starting in [start, end): staff see every status of every doctor's,
    a doctor every status of their own and the free slots of others, anyone else free slots."""
    role = getattr(user, "role", None)
    if role not in (*CLINIC_ROLES, User.Role.DOCTOR):
        return slot_list_free(start=start, end=end)
    blocks = (
        _with_slot_status(
            TimeBlock.objects.filter(withdrawn_at__isnull=True, start__gte=start, start__lt=end)
        )
        .select_related("visit_type")
        .order_by("start", "id")
    )
    if role == User.Role.DOCTOR:
        # Others' free slots by id (the public list's index-backed query), so the statuses
        # are worked out only for the rows returned, not for every block in the window.
        free = slot_list_free(start=start, end=end).values("pk")
        blocks = blocks.filter(Q(doctor=user) | Q(pk__in=free))
    return blocks


def slot_get(*, user: User, pk: int) -> TimeBlock | None:
    """One block as the user may see it (withdrawn ones included: the view answers 410)."""
    block = _with_slot_status(TimeBlock.objects.filter(pk=pk).select_related("visit_type")).first()
    if block is None or block.withdrawn_at is not None:
        return block
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES or (role == User.Role.DOCTOR and block.doctor_id == user.pk):
        return block
    return block if block.fhir_status == "free" else None


def appointment_list(*, user: User) -> QuerySet[Appointment]:
    """REST's visibility (appointment_list_visible_to), by start."""
    return scheduling.appointment_list_visible_to(user=user).select_related("visit_type")


def waitlist_appointment_list(*, user: User) -> QuerySet[WaitlistEntry]:
    """Live waitlist entries (active, offered) the user may see, as REST's waitlist/."""
    return (
        scheduling.waitlist_entry_list_visible_to(user=user)
        .filter(status__in=LIVE_WAITLIST_STATUSES)
        .select_related("patient", "doctor", "visit_type")
    )


def patient_list_visible_to(*, user: User) -> tuple[QuerySet[User], bool]:
    """Patients a user may read, and whether only their names: a patient themselves, staff
    every patient, a doctor their own (past or future) patients by name."""
    patients = User.objects.filter(role=User.Role.PATIENT).order_by("id")
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES:
        return patients, False
    if role == User.Role.PATIENT:
        return patients.filter(pk=user.pk), False
    if role == User.Role.DOCTOR:
        return patients.filter(scheduling.patients_of(user)), True
    return patients.none(), False
