"""Input and output shapes of the waitlist (DESIGN-R2 §R2-3, R2-11)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework import serializers

from accounts.models import User
from core.fields import ModelSerializer, ObjectIdField, UTCDateTimeField
from scheduling.models import VisitType, WaitlistEntry, WaitlistOffer


class WaitlistEntryCreateInputSerializer(serializers.Serializer):
    patient = ObjectIdField(
        queryset=User.objects.all(),
        required=False,
        error_messages={"does_not_exist": gettext_lazy("Unknown patient.")},
        help_text="Required for staff and admins.",
    )
    doctor = ObjectIdField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": gettext_lazy("Unknown doctor.")},
        help_text="A doctor, or else `specialty` (exactly one of the two).",
    )
    specialty = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Any doctor of it."
    )
    visit_type = ObjectIdField(
        queryset=VisitType.objects.filter(active=True),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": gettext_lazy("Unknown visit type.")},
        help_text="Only blocks of this active visit type; null or absent: any block.",
    )
    date_from = serializers.DateField()
    date_to = serializers.DateField(help_text="Inclusive; at most WAITLIST_MAX_SPAN_DAYS days.")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        max_length=7,
        help_text="0 = Monday; empty or absent: any weekday.",
    )
    time_from = serializers.TimeField(
        required=False, allow_null=True, help_text="In the doctor's zone (specialty: TIME_ZONE)."
    )
    time_to = serializers.TimeField(
        required=False, allow_null=True, help_text="In the doctor's zone (specialty: TIME_ZONE)."
    )

    def __init__(self, *args: Any, names_patient: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if names_patient:
            self.fields["patient"].required = True
        else:
            del self.fields["patient"]  # a patient waits for themself


class WaitlistEntrySerializer(ModelSerializer):
    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "patient",
            "doctor",
            "specialty",
            "visit_type",
            "date_from",
            "date_to",
            "weekdays",
            "time_from",
            "time_to",
            "status",
            "missed_offers",
            "created_at",
        ]
        read_only_fields = fields


class WaitlistOfferSerializer(ModelSerializer):
    start = UTCDateTimeField(source="time_block.start", read_only=True)
    end = UTCDateTimeField(source="time_block.end", read_only=True)

    class Meta:
        model = WaitlistOffer
        fields = ["id", "entry", "time_block", "start", "end", "expires_at", "status"]
        read_only_fields = fields
