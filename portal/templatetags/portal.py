"""Template helpers of the portal: a fresh Idempotency-Key per form, dates in the clinic's
zone formatted for the active language."""

from __future__ import annotations

import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import time as time_filter
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.html import format_html
from django.utils.translation import pgettext_lazy

from portal.keyed import KEY_FIELD, new_key

register = template.Library()


@register.simple_tag
def idempotency_field() -> str:
    """<input type=hidden> with a new key: every form on a page has its own."""
    return format_html('<input type="hidden" name="{}" value="{}">', KEY_FIELD, new_key())


@register.filter
def when(value: datetime.datetime | None) -> str:
    """Weekday, date and time in TIME_ZONE, in the active language's formats."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{date_filter(local, 'l')}, {date_filter(local, 'DATE_FORMAT')}, {time_filter(local)}"


@register.filter
def clock(value: datetime.datetime | None) -> str:
    """The time of day in TIME_ZONE, in the active language's format."""
    return time_filter(timezone.localtime(value)) if value is not None else ""


@register.filter
def day_name(value: datetime.date | datetime.datetime | None) -> str:
    """Weekday and day of the month ("Tuesday, December 8" / "martes, 8 de diciembre")."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value)
    return f"{date_filter(value, 'l')}, {date_filter(value, 'MONTH_DAY_FORMAT')}"


@register.filter
def weekday_names(days: list[int]) -> str:
    """A waitlist entry's weekdays (0 = Monday) by name, in the active language."""
    return ", ".join(str(WEEKDAYS[day]) for day in days if day in WEEKDAYS)


# The appointment statuses as a patient reads them (the model's labels are the API's, in
# English); one place, so every page says the same.
STATUS_NAMES = {
    "pending": pgettext_lazy("appointment status", "Pending"),
    "confirmed": pgettext_lazy("appointment status", "Confirmed"),
    "arrived": pgettext_lazy("appointment status", "Arrived"),
    "cancelled": pgettext_lazy("appointment status", "Cancelled"),
    "completed": pgettext_lazy("appointment status", "Completed"),
    "no_show": pgettext_lazy("appointment status", "No-show"),
}


@register.filter
def status_name(status: str) -> str:
    return str(STATUS_NAMES.get(status, status))


WAITLIST_STATUS_NAMES = {
    "active": pgettext_lazy("waitlist status", "Waiting"),
    "offered": pgettext_lazy("waitlist status", "Offered a time"),
    "booked": pgettext_lazy("waitlist status", "Booked"),
    "cancelled": pgettext_lazy("waitlist status", "Left"),
    "expired": pgettext_lazy("waitlist status", "Expired"),
    "pending": pgettext_lazy("waitlist status", "Awaiting your answer"),
    "accepted": pgettext_lazy("waitlist status", "Accepted"),
    "declined": pgettext_lazy("waitlist status", "Declined"),
    "superseded": pgettext_lazy("waitlist status", "Taken by someone else"),
}


@register.filter
def waitlist_status(status: str) -> str:
    """A waitlist entry's or offer's status in words."""
    return str(WAITLIST_STATUS_NAMES.get(status, status))
