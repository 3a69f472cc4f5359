"""Attendance statistics (DESIGN-R2 §R2-4, R2-11 "stats keys"): per group of appointments
that started in a window, how many were kept, missed or cancelled late, and how long the
patients waited.

Two queries: the counts grouped in SQL, and the waits of the visits that were started (the
median is taken in Python: SQLite has no median, PostgreSQL's percentile_cont is not portable).
"""

from __future__ import annotations

import datetime
import statistics

from django.conf import settings
from django.db.models import Case, CharField, Count, F, Q, Value, When
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from scheduling.models import Appointment, CancellationCode

Status = Appointment.Status

GROUP_BY = ("doctor", "weekday", "hour", "lead_time", "visit_type")
# start - created_at: how long ahead the visit was booked.
LEAD_TIME_BUCKETS = ("<1d", "1-7d", "7-30d", ">30d")
# The key of untagged appointments when grouping by visit type.
GENERAL = "general"
MAX_STATS_DAYS = 366
DAY = datetime.timedelta(days=1)


def _group_key(group_by: str):
    zone = timezone.get_default_timezone()
    if group_by == "doctor":
        return F("doctor_id")
    if group_by == "weekday":
        return ExtractIsoWeekDay("start", tzinfo=zone)  # 1 = Monday; the key is this - 1
    if group_by == "hour":
        return ExtractHour("start", tzinfo=zone)
    if group_by == "lead_time":
        return Case(
            When(start__lt=F("created_at") + DAY, then=Value(LEAD_TIME_BUCKETS[0])),
            When(start__lt=F("created_at") + 7 * DAY, then=Value(LEAD_TIME_BUCKETS[1])),
            When(start__lt=F("created_at") + 30 * DAY, then=Value(LEAD_TIME_BUCKETS[2])),
            default=Value(LEAD_TIME_BUCKETS[3]),
            output_field=CharField(),
        )
    return Coalesce(F("visit_type__slug"), Value(GENERAL), output_field=CharField())


def _key(group_by: str, raw):
    return raw - 1 if group_by == "weekday" else raw


def _order(group_by: str, key) -> tuple:
    if group_by == "lead_time":
        return (LEAD_TIME_BUCKETS.index(key),)
    return (key,)


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)


def late_cancelled() -> Q:
    """The patient's own cancellations inside the notice window: only code `patient` counts
    (expired, deactivated, leave, provider, clinic and left_unseen never do)."""
    notice = datetime.timedelta(hours=settings.CANCELLATION_NOTICE_HOURS)
    return Q(
        status=Status.CANCELLED,
        cancellation_code=CancellationCode.PATIENT,
        cancelled_at__gt=F("start") - notice,
    )


def wait_minutes(*, start, arrived_at, seen_at) -> float:
    """seen_at - max(arrived_at, start), in minutes (never below 0)."""
    return max(0.0, (seen_at - max(arrived_at, start)).total_seconds() / 60)


def appointment_stats(
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    group_by: str,
    doctor_id: int | None = None,
    now: datetime.datetime | None = None,
) -> list[dict]:
    """Per group, appointments starting in [start, end) and before now: total, completed,
    arrived, no_show, cancelled, late_cancelled, no_show_rate = no_show / (completed +
    arrived + no_show), late_cancel_rate = late_cancelled / total (None on a zero
    denominator, 4 decimals) and wait_median_minutes. Groups without appointments are left
    out; groups in key order (lead-time buckets shortest first)."""
    now = now or timezone.now()
    rows = Appointment.objects.filter(start__gte=start, start__lt=min(end, now))
    if doctor_id is not None:
        rows = rows.filter(doctor_id=doctor_id)
    keyed = rows.annotate(group_key=_group_key(group_by)).order_by()
    counts = keyed.values("group_key").annotate(
        total=Count("id"),
        completed=Count("id", filter=Q(status=Status.COMPLETED)),
        arrived=Count("id", filter=Q(status=Status.ARRIVED)),
        no_show=Count("id", filter=Q(status=Status.NO_SHOW)),
        cancelled=Count("id", filter=Q(status=Status.CANCELLED)),
        late_cancelled=Count("id", filter=late_cancelled()),
    )
    waits: dict = {}
    started = keyed.filter(seen_at__isnull=False, arrived_at__isnull=False).values_list(
        "group_key", "start", "arrived_at", "seen_at"
    )
    for key, visit_start, arrived_at, seen_at in started:
        waits.setdefault(key, []).append(
            wait_minutes(start=visit_start, arrived_at=arrived_at, seen_at=seen_at)
        )
    groups = []
    for row in counts:
        raw = row.pop("group_key")
        kept = row["completed"] + row["arrived"] + row["no_show"]
        group_waits = waits.get(raw)
        groups.append(
            {
                "key": _key(group_by, raw),
                **row,
                "no_show_rate": _rate(row["no_show"], kept),
                "late_cancel_rate": _rate(row["late_cancelled"], row["total"]),
                "wait_median_minutes": (
                    round(statistics.median(group_waits), 1) if group_waits else None
                ),
            }
        )
    return sorted(groups, key=lambda g: _order(group_by, g["key"]))
