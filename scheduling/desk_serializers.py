"""Query parameters and output shapes of the front desk's reads: day/ and stats/appointments/
(DESIGN-R2 §R2-4, R2-11)."""

from __future__ import annotations

import datetime
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from rest_framework import serializers

from core.fields import UTCDateTimeField
from core.filters import MAX_ID, AwareDateTimeField
from scheduling.day import clinic_day_bounds, clinic_today
from scheduling.selectors import visit_type_resolve
from scheduling.stats import GROUP_BY, MAX_STATS_DAYS

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---------------------------------------------------------------------------
# Input (query parameters)
# ---------------------------------------------------------------------------
class DayQueryInputSerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="A day in TIME_ZONE; default today.")
    doctor = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="One doctor's day."
    )
    visit_type = serializers.CharField(
        required=False,
        max_length=60,
        help_text="A visit type's id or slug, or `general` (untagged); unknown: 400.",
    )

    def validate_visit_type(self, value: str):
        resolved = visit_type_resolve(value)
        if resolved is None:
            raise serializers.ValidationError(gettext("Unknown visit type."))
        return resolved


def _window_end(value: str, *, inclusive_day: bool) -> datetime.datetime:
    """A date is a TIME_ZONE day (its start, or with inclusive_day the next day's start);
    anything else must be an ISO 8601 datetime with an offset."""
    if DATE_RE.match(value):
        try:
            day = datetime.date.fromisoformat(value)
        except ValueError as error:
            raise serializers.ValidationError("Enter a valid date.") from error
        start, end = clinic_day_bounds(day)
        return end if inclusive_day else start
    try:
        return AwareDateTimeField().clean(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from error


class StatsQueryInputSerializer(serializers.Serializer):
    # Strings: a date (TIME_ZONE day, `to` inclusive) or a datetime with an offset.
    from_ = serializers.CharField(
        required=False,
        help_text="A date (TIME_ZONE) or an offset datetime; default 29 days before `to`.",
    )
    to = serializers.CharField(
        required=False,
        help_text="A date (TIME_ZONE, inclusive) or an offset datetime (exclusive); default today.",
    )
    group_by = serializers.ChoiceField(choices=GROUP_BY, default="doctor")
    doctor = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="One doctor's appointments."
    )

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # a keyword in Python
        return fields

    def validate_from(self, value: str) -> datetime.datetime:
        return _window_end(value, inclusive_day=False)

    def validate_to(self, value: str) -> datetime.datetime:
        return _window_end(value, inclusive_day=True)

    def validate(self, attrs: dict) -> dict:
        end = attrs.get("to") or clinic_day_bounds(clinic_today())[1]
        start = attrs.get("from") or end - datetime.timedelta(days=30)
        if start > end:
            raise serializers.ValidationError({"from": ["Must not be after to."]})
        if end - start > datetime.timedelta(days=MAX_STATS_DAYS):
            raise serializers.ValidationError(
                {"to": [f"The range spans at most {MAX_STATS_DAYS} days."]}
            )
        attrs["from"], attrs["to"] = start, end
        return attrs


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
class DayFreeBlockSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    start = UTCDateTimeField()
    end = UTCDateTimeField()
    visit_type = serializers.IntegerField(allow_null=True, help_text="null: general.")


class DayAppointmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    start = UTCDateTimeField()
    end = UTCDateTimeField()
    status = serializers.CharField()
    visit_type = serializers.IntegerField(allow_null=True, help_text="null: general.")
    patient = serializers.IntegerField()
    patient_name = serializers.CharField()
    arrived_at = UTCDateTimeField(allow_null=True)
    seen_at = UTCDateTimeField(allow_null=True)
    late_minutes = serializers.IntegerField(
        allow_null=True,
        help_text="Whole minutes of max(0, arrived_at - start); null until arrived.",
    )
    waiting_minutes = serializers.IntegerField(
        allow_null=True,
        help_text="Whole minutes from max(arrived_at, start) to seen_at (or now); "
        "null until arrived.",
    )


class DayDoctorSerializer(serializers.Serializer):
    doctor = serializers.IntegerField()
    free_blocks = DayFreeBlockSerializer(many=True)
    appointments = DayAppointmentSerializer(many=True)


class DaySerializer(serializers.Serializer):
    date = serializers.DateField()
    timezone = serializers.CharField()
    doctors = DayDoctorSerializer(many=True)


class StatsGroupSerializer(serializers.Serializer):
    key = serializers.JSONField(
        help_text="Doctor id; weekday 0-6 (0 = Monday); hour 0-23; lead-time bucket "
        "(<1d, 1-7d, 7-30d, >30d); visit type (general)."
    )
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    arrived = serializers.IntegerField()
    no_show = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    late_cancelled = serializers.IntegerField()
    no_show_rate = serializers.FloatField(allow_null=True)
    late_cancel_rate = serializers.FloatField(allow_null=True)
    wait_median_minutes = serializers.FloatField(allow_null=True)


class StatsSerializer(serializers.Serializer):
    from_ = UTCDateTimeField(help_text="The window's start (inclusive).")
    to = UTCDateTimeField(help_text="The window's end (exclusive); never after now.")
    group_by = serializers.CharField()
    groups = StatsGroupSerializer(many=True)

    def get_fields(self) -> dict:
        fields = super().get_fields()
        return {"from": fields.pop("from_"), **fields}  # `from` is a keyword in Python
