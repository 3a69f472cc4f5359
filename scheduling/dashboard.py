"""The front-desk home in the admin: today per doctor, this week by status, pending soon.

All days are the clinic's (TIME_ZONE), so "today" matches the wall clock at the desk.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record_patient_views
from scheduling.models import Appointment

Status = Appointment.Status
PENDING_SOON_HOURS = 48


@dataclass
class DoctorDay:
    doctor_id: int
    doctor_name: str
    link: str
    appointments: list[Appointment] = field(default_factory=list)


def _changelist(**params) -> str:
    return f"{reverse('admin:scheduling_appointment_changelist')}?{urlencode(params)}"


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return start, end


def front_desk_summary(*, now: datetime.datetime | None = None) -> dict:
    """What the desk needs at a glance, each part linking to the filtered changelist."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    day_start, day_end = _day_bounds(today)
    todays = (
        Appointment.objects.filter(start__gte=day_start, start__lt=day_end)
        .exclude(status=Status.CANCELLED)
        .select_related("doctor", "patient")
        .order_by("doctor__last_name", "doctor_id", "start")
    )
    per_doctor: dict[int, DoctorDay] = {}
    date_params = {"start__year": today.year, "start__month": today.month, "start__day": today.day}
    for appointment in todays:
        day = per_doctor.get(appointment.doctor_id)
        if day is None:
            day = per_doctor[appointment.doctor_id] = DoctorDay(
                doctor_id=appointment.doctor_id,
                doctor_name=appointment.doctor.get_full_name(),
                link=_changelist(doctor__id__exact=appointment.doctor_id, **date_params),
            )
        day.appointments.append(appointment)

    week_start_day = today - datetime.timedelta(days=today.weekday())
    week_start, _ = _day_bounds(week_start_day)
    _, week_end = _day_bounds(week_start_day + datetime.timedelta(days=6))
    counts = dict(
        Appointment.objects.filter(start__gte=week_start, start__lt=week_end)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    # Aware bounds: a bare date would be read as a naive datetime (a RuntimeWarning per query).
    week_range = {"start__gte": week_start.isoformat(), "start__lt": week_end.isoformat()}
    week = [
        {
            "status": label,
            "count": counts.get(value, 0),
            "link": _changelist(status__exact=value, **week_range),
        }
        for value, label in Status.choices
    ]

    soon_end = now + datetime.timedelta(hours=PENDING_SOON_HOURS)
    pending_soon = list(
        Appointment.objects.filter(status=Status.PENDING, start__gte=now, start__lt=soon_end)
        .select_related("doctor", "patient")
        .order_by("start", "id")
    )
    return {
        "today": today,
        "today_link": _changelist(**date_params),
        "doctors_today": list(per_doctor.values()),
        "week_start": week_start_day,
        "week": week,
        "pending_soon": pending_soon,
        "pending_soon_hours": PENDING_SOON_HOURS,
        "pending_soon_link": _changelist(
            status__exact=Status.PENDING,
            start__gte=now.isoformat(),
            start__lt=soon_end.isoformat(),
        ),
    }


def front_desk_summary_viewed(*, summary: dict, viewer) -> None:
    """The home page names patients (today per doctor, pending soon): each is a record read,
    written as `patient_record.viewed` like any list of appointments."""
    shown = [a for day in summary["doctors_today"] for a in day.appointments]
    shown += summary["pending_soon"]
    audit_record_patient_views(patient_ids=[a.patient_id for a in shown], actor=viewer)
