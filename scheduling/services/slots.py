"""The DST-exact slot cutter every pattern of blocks uses (time-blocks/bulk/, templates)."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterator

Slot = tuple[datetime.datetime, datetime.datetime]


def day_slots(
    *,
    day: datetime.date,
    start_time: datetime.time,
    end_time: datetime.time,
    slot_minutes: int,
    zone: zoneinfo.ZoneInfo,
) -> Iterator[Slot | None]:
    """The slots of one local day from start_time to end_time, in UTC; None for one that
    starts in a DST gap (that wall-clock time does not exist that day).

    09:00 local stays 09:00 local across a daylight-saving change. A slot lasts exactly
    slot_minutes; a trailing partial slot is dropped; an ambiguous local time takes its
    first occurrence (fold=0).
    """
    slot = datetime.timedelta(minutes=slot_minutes)
    local = datetime.datetime.combine(day, start_time)
    day_end = datetime.datetime.combine(day, end_time)
    while local <= day_end - slot:  # (not local + slot: no overflow on 9999-12-31)
        aware = local.replace(tzinfo=zone)
        round_trip = aware.astimezone(datetime.UTC).astimezone(zone)
        if round_trip.replace(tzinfo=None) != local:
            yield None
        else:
            start = aware.astimezone(datetime.UTC)
            yield (start, start + slot)
        local += slot
