"""What several portal pages share: the week of bookable slots, rendering with a status."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext

from scheduling.day import clinic_day_bounds, clinic_today
from scheduling.models import TimeBlock
from scheduling.selectors import VisitTypeChoice, time_block_list_free

# How far ahead the week pages go (AVAILABILITY_HORIZON_DAYS replaces it once R2-5 is in).
MAX_WEEKS_AHEAD = 26


@dataclass
class Day:
    date: datetime.date
    slots: list[TimeBlock] = field(default_factory=list)


@dataclass
class Week:
    monday: datetime.date
    days: list[Day]
    previous: datetime.date | None
    following: datetime.date | None

    @property
    def empty(self) -> bool:
        return not any(day.slots for day in self.days)


def week_monday(
    request: HttpRequest,
    first_free_of: int | None = None,
    visit_type: VisitTypeChoice | None = None,
) -> datetime.date:
    """The Monday of `?week=YYYY-MM-DD` (any day of it), from this week to MAX_WEEKS_AHEAD;
    without it, the week of the next bookable slot of doctor `first_free_of` (of `visit_type`
    when given; else this week). A malformed date is 400."""
    today = clinic_today()
    this_monday = today - datetime.timedelta(days=today.weekday())
    raw = request.GET.get("week", "")
    if not raw and first_free_of is not None:
        first = (
            time_block_list_free(
                doctor_id=first_free_of,
                start=timezone.now(),
                end=clinic_day_bounds(this_monday + datetime.timedelta(weeks=MAX_WEEKS_AHEAD))[0],
                visit_type=visit_type,
            )
            .values_list("start", flat=True)
            .first()
        )
        if first is not None:
            raw = timezone.localtime(first).date().isoformat()
    if not raw:
        return this_monday
    try:
        day = datetime.date.fromisoformat(raw)
    except ValueError as error:
        raise BadRequest(gettext("Give the week as a date: YYYY-MM-DD.")) from error
    monday = day - datetime.timedelta(days=day.weekday())
    last = this_monday + datetime.timedelta(weeks=MAX_WEEKS_AHEAD)
    return min(max(monday, this_monday), last)


def doctor_week(
    *, doctor_id: int, monday: datetime.date, visit_type: VisitTypeChoice | None = None
) -> Week:
    """The doctor's bookable blocks of the week starting `monday` (clinic days, TIME_ZONE):
    time_block_list_free(), so held, booked, on-leave and past slots are not there; of one
    visit type (or general ones) when given."""
    start = clinic_day_bounds(monday)[0]
    end = clinic_day_bounds(monday + datetime.timedelta(days=7))[0]
    days = [Day(monday + datetime.timedelta(days=i)) for i in range(7)]
    blocks = time_block_list_free(
        doctor_id=doctor_id, start=start, end=end, visit_type=visit_type
    ).select_related("visit_type")
    for block in blocks:
        index = (timezone.localtime(block.start).date() - monday).days
        if 0 <= index < 7:
            days[index].slots.append(block)
    today = clinic_today()
    this_monday = today - datetime.timedelta(days=today.weekday())
    previous = monday - datetime.timedelta(weeks=1)
    following = monday + datetime.timedelta(weeks=1)
    return Week(
        monday=monday,
        days=days,
        previous=previous if previous >= this_monday else None,
        following=following
        if following <= this_monday + datetime.timedelta(weeks=MAX_WEEKS_AHEAD)
        else None,
    )


def page(
    request: HttpRequest, template: str, context: dict | None = None, status: int = 200
) -> HttpResponse:
    """Render a portal page (each form on it carries its own Idempotency-Key: the
    idempotency_field tag)."""
    return render(request, template, context or {}, status=status)


def refusal(answer_data: dict) -> tuple[str | None, dict[str, list[str]]]:
    """(the 409's message, the field errors) of a stored answer."""
    return answer_data.get("detail"), answer_data.get("errors", {})
