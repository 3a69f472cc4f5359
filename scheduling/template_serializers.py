"""Input and output shapes of availability templates and their exceptions (DESIGN-R2 R2-5,
R2-11)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework import serializers

from accounts.models import User
from core.fields import ModelSerializer, ObjectIdField, UTCDateTimeField
from scheduling.models import AvailabilityException, AvailabilityTemplate, VisitType

TIME = {"input_formats": ["%H:%M"], "format": "%H:%M"}


class AvailabilityTemplateInputSerializer(serializers.Serializer):
    doctor = ObjectIdField(
        queryset=User.objects.select_related("doctor_profile"),
        required=False,
        error_messages={"does_not_exist": gettext_lazy("Unknown doctor.")},
        help_text="Required for staff and admins; a doctor's own is ignored.",
    )
    rrule = serializers.CharField(
        max_length=500,
        help_text="FREQ (DAILY, WEEKLY, MONTHLY), INTERVAL, BYDAY, BYMONTHDAY, BYSETPOS, WKST "
        "only, e.g. FREQ=WEEKLY;BYDAY=MO,WE.",
    )
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(help_text="Inclusive; at most 366 days after valid_from.")
    start_time = serializers.TimeField(**TIME, help_text="Local time in `timezone`.")
    end_time = serializers.TimeField(**TIME)
    slot_minutes = serializers.IntegerField(
        min_value=5,
        max_value=720,
        required=False,
        allow_null=True,
        help_text="Required without visit_type; with one, its duration (the default).",
    )
    visit_type = ObjectIdField(
        queryset=VisitType.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": gettext_lazy("Unknown visit type.")},
        help_text="An active visit type the doctor offers; null or absent: general.",
    )
    timezone = serializers.CharField(
        max_length=64, required=False, help_text="IANA name; the doctor's timezone by default."
    )


class AvailabilityTemplateUpdateInputSerializer(AvailabilityTemplateInputSerializer):
    active = serializers.BooleanField(
        required=False, help_text="false: its never-used free blocks are removed."
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        del fields["doctor"]  # a template's doctor never changes
        return fields


class AvailabilityTemplateSerializer(ModelSerializer):
    start_time = serializers.TimeField(format="%H:%M", read_only=True)
    end_time = serializers.TimeField(format="%H:%M", read_only=True)

    class Meta:
        model = AvailabilityTemplate
        fields = [
            "id",
            "doctor",
            "rrule",
            "valid_from",
            "valid_until",
            "start_time",
            "end_time",
            "slot_minutes",
            "visit_type",
            "timezone",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TemplateResultSerializer(serializers.Serializer):
    template = AvailabilityTemplateSerializer(allow_null=True)
    created = serializers.IntegerField(help_text="Blocks created up to the horizon.")
    removed = serializers.IntegerField(help_text="Never-used free blocks deleted.")
    kept_booked = serializers.IntegerField(
        help_text="Future blocks of the template kept because they were used (booked, held)."
    )


class SlotSerializer(serializers.Serializer):
    start = UTCDateTimeField()
    end = UTCDateTimeField()


class TemplatePreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    slots = SlotSerializer(many=True)


class AvailabilityExceptionInputSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="A local date of the template.")
    kind = serializers.ChoiceField(choices=AvailabilityException.Kind.choices)
    start_time = serializers.TimeField(**TIME, required=False, allow_null=True)
    end_time = serializers.TimeField(**TIME, required=False, allow_null=True)


class AvailabilityExceptionSerializer(ModelSerializer):
    start_time = serializers.TimeField(format="%H:%M", read_only=True, allow_null=True)
    end_time = serializers.TimeField(format="%H:%M", read_only=True, allow_null=True)

    class Meta:
        model = AvailabilityException
        fields = ["id", "template", "date", "kind", "start_time", "end_time"]
        read_only_fields = fields
