"""The front desk's day (DESIGN-R2 §R2-4): one clinic day (TIME_ZONE) per doctor, read by
GET day/ and by the live board on the admin home page.

Two queries: the day's appointments (cancelled ones left out) with the names shown, and the
day's free blocks. Both read by start range through the (doctor, start) or (start) indexes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef
from django.utils import timezone

from scheduling.models import Appointment, TimeBlock
from scheduling.selectors import in_active_leave, with_visit_type

Status = Appointment.Status

# Where a visit is on the board, in the order the day goes.
EXPECTED, WAITING, IN_VISIT, DONE, NO_SHOW = "expected", "waiting", "in_visit", "done", "no_show"
STAGE_LABELS = {
    EXPECTED: "Expected",
    WAITING: "Waiting",
    IN_VISIT: "In the visit",
    DONE: "Done",
    NO_SHOW: "No-show",
}


def clinic_day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of a day in the clinic's zone (TIME_ZONE), whatever zone is active."""
    zone = timezone.get_default_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return start, end


def clinic_today(now: datetime.datetime | None = None) -> datetime.date:
    return timezone.localtime(now or timezone.now(), timezone.get_default_timezone()).date()


def _whole_minutes(delta: datetime.timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def late_minutes(appointment: Appointment) -> int | None:
    """Whole minutes of max(0, arrived_at - start); None until the patient arrives."""
    if appointment.arrived_at is None:
        return None
    return _whole_minutes(appointment.arrived_at - appointment.start)


def waiting_minutes(appointment: Appointment, *, now: datetime.datetime) -> int | None:
    """Whole minutes from max(arrived_at, start) to seen_at (or, still waiting, now); None
    until the patient arrives. A visit completed without a start of the visit waited until
    it was completed."""
    if appointment.arrived_at is None:
        return None
    until = appointment.seen_at or appointment.completed_at or now
    return _whole_minutes(until - max(appointment.arrived_at, appointment.start))


def stage(appointment: Appointment) -> str:
    if appointment.status == Status.ARRIVED:
        return WAITING if appointment.seen_at is None else IN_VISIT
    if appointment.status == Status.COMPLETED:
        return DONE
    if appointment.status == Status.NO_SHOW:
        return NO_SHOW
    return EXPECTED


@dataclass
class DayVisit:
    appointment: Appointment
    late_minutes: int | None
    waiting_minutes: int | None
    stage: str

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS[self.stage]

    @property
    def next_action(self) -> str | None:
        """The desk's next step for this visit, if any (the services decide whether it may)."""
        if self.appointment.status == Status.CONFIRMED:
            return "check-in"
        return {WAITING: "start-visit", IN_VISIT: "complete"}.get(self.stage)


@dataclass
class DoctorDay:
    doctor_id: int
    doctor_name: str
    sort_key: tuple
    free_blocks: list[TimeBlock] = field(default_factory=list)
    visits: list[DayVisit] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """How many visits are at each stage (the board's columns)."""
        counts = dict.fromkeys(STAGE_LABELS, 0)
        for visit in self.visits:
            counts[visit.stage] += 1
        return counts

    @property
    def longest_wait(self) -> int | None:
        """The longest current wait in minutes among patients still waiting."""
        waits = [v.waiting_minutes for v in self.visits if v.stage == WAITING]
        return max(waits) if waits else None


@dataclass
class ClinicDay:
    date: datetime.date
    timezone: str
    doctors: list[DoctorDay]

    @property
    def patient_ids(self) -> list[int]:
        return [v.appointment.patient_id for d in self.doctors for v in d.visits]


def _doctor_entry(days: dict[int, DoctorDay], doctor) -> DoctorDay:
    entry = days.get(doctor.pk)
    if entry is None:
        entry = days[doctor.pk] = DoctorDay(
            doctor_id=doctor.pk,
            doctor_name=doctor.get_full_name(),
            sort_key=(doctor.last_name, doctor.first_name, doctor.pk),
        )
    return entry


def clinic_day(
    *,
    day: datetime.date,
    doctor=None,
    visit_type=None,
    now: datetime.datetime | None = None,
) -> ClinicDay:
    """Every doctor's appointments (not cancelled) and free blocks starting on `day`, or one
    doctor's (always listed, even with an empty day). Doctors in name order."""
    now = now or timezone.now()
    start, end = clinic_day_bounds(day)
    appointments = (
        Appointment.objects.filter(start__gte=start, start__lt=end)
        .exclude(status=Status.CANCELLED)
        .select_related("patient", "doctor")
        .only(
            *(f.attname for f in Appointment._meta.concrete_fields),
            "patient__first_name",
            "patient__last_name",
            "doctor__first_name",
            "doctor__last_name",
        )
        .order_by("start", "id")
    )
    blocks = (
        TimeBlock.objects.filter(withdrawn_at__isnull=True, start__gte=start, start__lt=end)
        # Free: no appointment in it other than cancelled ones (a visit over, or a no-show,
        # still used the block).
        .exclude(
            Exists(
                Appointment.objects.filter(time_block=OuterRef("pk")).exclude(
                    status=Status.CANCELLED
                )
            )
        )
        # Not bookable either while its doctor is on leave or the clinic is closed.
        .exclude(in_active_leave())
        .select_related("doctor")
        .only("id", "start", "end", "visit_type", "doctor__first_name", "doctor__last_name")
        .order_by("start", "id")
    )
    if doctor is not None:
        appointments = appointments.filter(doctor_id=doctor.pk)
        blocks = blocks.filter(doctor_id=doctor.pk)
    appointments = with_visit_type(appointments, visit_type)
    blocks = with_visit_type(blocks, visit_type)
    days: dict[int, DoctorDay] = {}
    if doctor is not None:
        _doctor_entry(days, doctor)
    for appointment in appointments:
        _doctor_entry(days, appointment.doctor).visits.append(
            DayVisit(
                appointment=appointment,
                late_minutes=late_minutes(appointment),
                waiting_minutes=waiting_minutes(appointment, now=now),
                stage=stage(appointment),
            )
        )
    for block in blocks:
        _doctor_entry(days, block.doctor).free_blocks.append(block)
    return ClinicDay(
        date=day,
        timezone=str(timezone.get_default_timezone()),
        doctors=sorted(days.values(), key=lambda d: d.sort_key),
    )
