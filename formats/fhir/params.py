"""Search and operation inputs: prefixed dates, references, _count and _page. A bad value is
a 400 (ValidationError through the one handler); an unknown parameter is ignored and reported
in an OperationOutcome entry of the bundle."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

DEFAULT_COUNT = 20
MAX_COUNT = 100
# Parameters every search takes, besides its own.
COMMON = {"_count", "_page", "_format", "_id"}
DATE_PREFIXES = ("eq", "ge", "gt", "le", "lt")
ID_PATTERN_MAX = 18


def parse_instant(name: str, value: str) -> datetime.datetime:
    """An ISO 8601 datetime with its offset; a date or a naive time is a 400."""
    # An unencoded "+" in a query string arrives as a space.
    text = value.strip().replace(" ", "+")
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationError(
            gettext("%(name)s: a date and time with its UTC offset is required.") % {"name": name}
        )
    return moment


@dataclass
class DateRange:
    """The conditions of one or more prefixed date parameters on one field."""

    conditions: list[tuple[str, datetime.datetime]] = field(default_factory=list)

    def q(self, field_name: str) -> Q:
        lookups = {"eq": "", "ge": "__gte", "gt": "__gt", "le": "__lte", "lt": "__lt"}
        q = Q()
        for prefix, moment in self.conditions:
            q &= Q(**{f"{field_name}{lookups[prefix]}": moment})
        return q

    def bound(self, *prefixes: str) -> datetime.datetime | None:
        found = [moment for prefix, moment in self.conditions if prefix in prefixes]
        return (max(found) if prefixes[0] in ("ge", "gt") else min(found)) if found else None

    @property
    def equal(self) -> datetime.datetime | None:
        return self.bound("eq")


def parse_dates(name: str, values: list[str]) -> DateRange:
    """`date=ge2026-01-01T00:00:00+00:00&date=lt…`: eq (no prefix), ge, gt, le, lt."""
    dates = DateRange()
    for value in values:
        prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
        text = value[2:] if value[:2] in DATE_PREFIXES else value
        dates.conditions.append((prefix, parse_instant(name, text)))
    return dates


def parse_id(name: str, value: str, resource: str | None = None) -> int:
    """`9`, or `Resource/9` when `resource` is given; anything else is a 400."""
    text = value.strip()
    if resource and text.startswith(f"{resource}/"):
        text = text[len(resource) + 1 :]
    if not text.isdigit() or len(text) > ID_PATTERN_MAX:
        raise ValidationError(gettext("%(name)s: not a valid reference.") % {"name": name})
    return int(text)


def parse_ids(name: str, values: list[str], resource: str | None = None) -> list[int]:
    """Repeated or comma-separated references (FHIR's OR), in the order given."""
    return [parse_id(name, part, resource) for value in values for part in value.split(",")]


def parse_positive(name: str, value: str | None, default: int, minimum: int) -> int:
    if value is None or value == "":
        return default
    text = value.strip()
    if not text.isdigit() or len(text) > ID_PATTERN_MAX or int(text) < minimum:
        raise ValidationError(
            gettext("%(name)s: a whole number of at least %(minimum)d is required.")
            % {"name": name, "minimum": minimum}
        )
    return int(text)


def page_size(value: str | None) -> int:
    """_count: 20 unless given, at most 100 (FHIR lets a server return fewer); 0 = total only."""
    return min(parse_positive("_count", value, DEFAULT_COUNT, 0), MAX_COUNT)


def page_number(value: str | None) -> int:
    return parse_positive("_page", value, 1, 1)


def unknown_names(names: list[str], supported: set[str]) -> list[str]:
    """The parameter names a search does not support (modifiers included), in order."""
    return sorted({name for name in names if name not in supported | COMMON})
