"""Serializer fields shared by the apps: datetimes in UTC with `Z`, offsets required."""

from __future__ import annotations

import datetime

from django.db import models
from django.utils import timezone
from rest_framework import serializers


def utc_iso(value: datetime.datetime | None) -> str | None:
    """What UTCDateTimeField renders, for output serializers that read attributes directly."""
    if value is None:
        return None
    text = value.astimezone(datetime.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class UTCDateTimeField(serializers.DateTimeField):
    """Renders in UTC with `Z`; refuses input without an explicit offset (DESIGN.md §5 Data)."""

    default_error_messages = {
        "naive": "Datetime must include a UTC offset, e.g. 2030-01-31T09:00:00Z.",
    }

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        try:
            return value.astimezone(datetime.UTC)
        except OverflowError:
            self.fail("overflow")


class ModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose model datetimes render through UTCDateTimeField."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }
