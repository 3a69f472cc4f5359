"""The RRULE subset templates accept (DESIGN-R2 R2-5), checked here before python-dateutil
sees the text: dateutil also accepts UNTIL, COUNT, DTSTART, BYHOUR and more, which would let
a rule escape valid_from/valid_until or the template's hours."""

from __future__ import annotations

import datetime
import re

from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

ALLOWED_PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "WKST")
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_RRULE_LENGTH = 500
_BYDAY = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_INTEGER = re.compile(r"^[+-]?\d{1,3}$")


def _invalid(message: str) -> ValidationError:
    return ValidationError({"rrule": [message]})


def _integers(name: str, value: str, *, low: int, high: int, signed: bool) -> None:
    for item in value.split(","):
        if not _INTEGER.match(item):
            raise _invalid(gettext("%(part)s takes integers.") % {"part": name})
        number = int(item)
        if number == 0 or not (-high if signed else low) <= number <= high:
            raise _invalid(gettext("%(part)s is out of range.") % {"part": name})


def rrule_check(text: str) -> str:
    """The rule, normalised (upper case, no `RRULE:` prefix), or a 400 on `rrule` naming what
    is not allowed: only FREQ (DAILY, WEEKLY, MONTHLY), INTERVAL, BYDAY, BYMONTHDAY, BYSETPOS
    and WKST, each once."""
    rule = (text or "").strip().upper()
    rule = rule.removeprefix("RRULE:")
    if not rule or len(rule) > MAX_RRULE_LENGTH or any(c.isspace() for c in rule):
        raise _invalid(gettext("Give an RRULE such as FREQ=WEEKLY;BYDAY=MO,WE."))
    seen: dict[str, str] = {}
    for part in rule.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not name or not value:
            raise _invalid(gettext("Each part of the rule is NAME=VALUE."))
        if name not in ALLOWED_PARTS:
            raise _invalid(
                gettext("%(part)s is not allowed; use only %(allowed)s.")
                % {"part": name, "allowed": ", ".join(ALLOWED_PARTS)}
            )
        if name in seen:
            raise _invalid(gettext("%(part)s appears twice.") % {"part": name})
        seen[name] = value
    if seen.get("FREQ") not in FREQUENCIES:
        raise _invalid(
            gettext("FREQ must be one of %(allowed)s.") % {"allowed": ", ".join(FREQUENCIES)}
        )
    if "INTERVAL" in seen:
        _integers("INTERVAL", seen["INTERVAL"], low=1, high=366, signed=False)
        if "," in seen["INTERVAL"] or seen["INTERVAL"].startswith(("+", "-")):
            raise _invalid(gettext("%(part)s is out of range.") % {"part": "INTERVAL"})
    for item in seen.get("BYDAY", "MO").split(","):
        match = _BYDAY.match(item)
        if not match or (match.group(2) and not 1 <= int(match.group(2)) <= 53):
            raise _invalid(gettext("BYDAY takes days such as MO, WE or 1MO, -1FR."))
    if "BYMONTHDAY" in seen:
        _integers("BYMONTHDAY", seen["BYMONTHDAY"], low=1, high=31, signed=True)
    if "BYSETPOS" in seen:
        _integers("BYSETPOS", seen["BYSETPOS"], low=1, high=366, signed=True)
    if "WKST" in seen and seen["WKST"] not in WEEKDAYS:
        raise _invalid(gettext("WKST takes one day such as MO."))
    return ";".join(f"{name}={value}" for name, value in seen.items())


def rrule_days(
    rule: str, *, valid_from: datetime.date, date_from: datetime.date, date_to: datetime.date
) -> list[datetime.date]:
    """The dates the (checked) rule gives in [date_from, date_to], counted from valid_from
    (its DTSTART: INTERVAL and the weeks count from there), with a naive local start."""
    if date_to < date_from:
        return []
    start = datetime.datetime.combine(valid_from, datetime.time())
    try:
        recurrence = rrulestr(rule, dtstart=start)
    except (ValueError, TypeError) as error:
        raise _invalid(gettext("This rule cannot be read.")) from error
    first = datetime.datetime.combine(date_from, datetime.time())
    last = datetime.datetime.combine(date_to, datetime.time())
    return [moment.date() for moment in recurrence.between(first, last, inc=True)]
