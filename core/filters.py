"""Query-parameter filters shared by the apps: datetimes must carry an offset."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

# Database ids are 64-bit: longer digit strings cannot name a row (and would overflow).
ID_REGEX = r"[0-9]{1,18}"
MAX_ID = 2**63 - 1


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipping the FilterSet when the request names none of its
    filters: its form would be built and cleaned only to filter nothing (about a tenth of
    an unfiltered list request's time)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and request.query_params.keys().isdisjoint(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


# django-filter always %-formats error messages (Django only when params are given), so a
# literal "%2B" would crash it: the percent sign comes in through params.
NAIVE_MESSAGE = gettext_lazy(
    "Datetime must include a UTC offset, e.g. 2030-01-31T09:00:00Z (send + as %(plus)s)."
)
INVALID_DATETIME = gettext_lazy("Enter a valid ISO 8601 datetime.")
NAIVE_PARAMS = {"plus": "%2B"}


class AwareDateTimeField(forms.Field):
    """ISO 8601 with an offset; a naive or malformed value is a 400 naming the parameter."""

    def to_python(self, value: str | None) -> datetime.datetime | None:
        if value in (None, ""):
            return None
        if not value.isprintable():  # parse_datetime would overlook a trailing NUL
            raise ValidationError(INVALID_DATETIME, code="invalid")
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationError(INVALID_DATETIME, code="invalid")
        if parsed.tzinfo is None:
            raise ValidationError(NAIVE_MESSAGE, code="naive", params=NAIVE_PARAMS)
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError as error:
            raise ValidationError(gettext("Datetime out of range."), code="invalid") from error


# Typed for the OpenAPI schema: with `method=` there is no model field to infer it from.
@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareDateTimeField


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is a 400 naming the parameter, not "no filter"."""

    # NullBooleanSelect would turn an unknown value into None before to_python sees it.
    widget = forms.TextInput
    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value: str | None) -> bool | None:
        if value in (None, ""):
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise ValidationError(gettext("Use true or false."), code="invalid") from None

    def validate(self, value: bool | None) -> None:
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class CommaSeparatedChoiceFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`?status=pending,confirmed`: every item must be a valid choice."""


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A positive integer id; anything else is a 400 naming the parameter."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


def parse_window(
    params,
    *,
    from_key: str = "from",
    to_key: str = "to",
    default_days: int = 14,
    max_days: int = 62,
) -> tuple[datetime.datetime, datetime.datetime]:
    """A `[from, to)` window from query parameters: defaults now → +default_days.

    A malformed or naive value, `from` after `to`, or a span over max_days is a
    ValidationError keyed by the parameter.
    """
    field = AwareDateTimeField(required=False)
    values = {}
    for key in (from_key, to_key):
        try:
            values[key] = field.clean(params.get(key))
        except ValidationError as error:
            raise ValidationError({key: error.messages}) from error
    start = values[from_key] or timezone.now()
    end = values[to_key]
    if end is None:
        try:
            end = start + datetime.timedelta(days=default_days)
        except OverflowError:  # `from` within default_days of year 9999: up to the end of time
            end = datetime.datetime.max.replace(tzinfo=datetime.UTC)
    if start > end:
        message = gettext("Must not be after %(other)s.") % {"other": to_key}
        raise ValidationError({from_key: [message]})
    if end - start > datetime.timedelta(days=max_days):
        message = gettext("The range spans at most %(days)d days.") % {"days": max_days}
        raise ValidationError({to_key: [message]})
    return start, end


@extend_schema_field(OpenApiTypes.STR)
class TermsFilter(django_filters.CharFilter):
    """`?search=`: every whitespace-separated term must match one of `fields`
    (case-insensitive substring)."""

    def __init__(self, *, fields: tuple[str, ...], **kwargs) -> None:
        kwargs.setdefault("max_length", 100)
        super().__init__(**kwargs)
        self.search_fields = fields

    def filter(self, queryset, value: str):
        condition = Q()
        for term in (value or "").split():
            match = Q()
            for field in self.search_fields:
                match |= Q(**{f"{field}__icontains": term})
            condition &= match
        return queryset.filter(condition) if condition else queryset
