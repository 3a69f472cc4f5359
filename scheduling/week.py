"""A doctor's week at a glance for the console (Monday to Sunday in TIME_ZONE): each day's
blocks (free, held, booked with the patient, on leave) and the leaves and closures that touch
the week. Three reads by start range, each through an index: the blocks by (doctor, start),
the appointments by (doctor, start), the leaves by (doctor, end) or start."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from scheduling.models import ACTIVE_STATUSES, Appointment, Leave, SlotHold, TimeBlock
from scheduling.selectors import live_hold_q


@dataclass
class WeekBlock:
    block: TimeBlock
    state: str  # free, held, booked, on_leave
    appointment: Appointment | None = None


@dataclass
class WeekDay:
    date: datetime.date
    blocks: list[WeekBlock] = field(default_factory=list)
    leaves: list[Leave] = field(default_factory=list)


@dataclass
class DoctorWeek:
    doctor: User
    monday: datetime.date
    days: list[WeekDay]
    leaves: list[Leave]
    previous: datetime.date
    next: datetime.date

    @property
    def patient_ids(self) -> list[int]:
        return [b.appointment.patient_id for d in self.days for b in d.blocks if b.appointment]


def week_monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def doctor_week(*, doctor: User, day: datetime.date) -> DoctorWeek:
    """The week (Monday to Sunday, TIME_ZONE) holding `day`: the doctor's unwithdrawn blocks
    with their state, and the active leaves of the doctor and closures overlapping it."""
    monday = week_monday(day)
    start, end = _midnight(monday), _midnight(monday + datetime.timedelta(days=7))
    leaves = list(
        Leave.objects.filter(
            Q(doctor=doctor) | Q(doctor__isnull=True),
            cancelled_at__isnull=True,
            start__lt=end,
            end__gt=start,
        ).order_by("start", "id")
    )
    blocks = list(
        TimeBlock.objects.filter(
            doctor=doctor, withdrawn_at__isnull=True, start__gte=start, start__lt=end
        ).order_by("start", "id")
    )
    booked = {
        a.time_block_id: a
        for a in Appointment.objects.filter(
            doctor=doctor, status__in=ACTIVE_STATUSES, start__gte=start, start__lt=end
        ).select_related("patient")
    }
    held = set(
        SlotHold.objects.filter(
            live_hold_q(), time_block_id__in=[b.pk for b in blocks]
        ).values_list("time_block_id", flat=True)
    )
    days = [WeekDay(date=monday + datetime.timedelta(days=n)) for n in range(7)]
    zone = timezone.get_default_timezone()
    for block in blocks:
        appointment = booked.get(block.pk)
        if appointment is not None:
            state = "booked"
        elif any(leave.start < block.end and block.start < leave.end for leave in leaves):
            state = "on_leave"
        elif block.pk in held:
            state = "held"
        else:
            state = "free"
        local = timezone.localtime(block.start, zone).date()
        days[(local - monday).days].blocks.append(WeekBlock(block, state, appointment))
    for leave in leaves:
        for day_entry in days:
            if leave.start < _midnight(day_entry.date + datetime.timedelta(days=1)) and (
                leave.end > _midnight(day_entry.date)
            ):
                day_entry.leaves.append(leave)
    return DoctorWeek(
        doctor=doctor,
        monday=monday,
        days=days,
        leaves=leaves,
        previous=monday - datetime.timedelta(days=7),
        next=monday + datetime.timedelta(days=7),
    )
