"""Input and output shapes of leave and clinic closures (DESIGN-R2 §R2-5, R2-11)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from core.fields import ModelSerializer, ObjectIdField, UTCDateTimeField
from scheduling.models import Appointment, Leave
from scheduling.services.leaves import RESOLVE_ACTIONS


class LeavePreviewInputSerializer(serializers.Serializer):
    doctor = ObjectIdField(
        queryset=User.objects.select_related("doctor_profile"),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": gettext_lazy("Unknown doctor.")},
        help_text=(
            "Staff and admins name the doctor; an admin's explicit null is a clinic closure. "
            "A doctor leaves it out (or names themself)."
        ),
    )
    start = UTCDateTimeField()
    end = UTCDateTimeField()
    category = serializers.ChoiceField(
        choices=Leave.Category.choices,
        help_text="vacation, sick, training or other for a doctor; holiday or other for a closure.",
    )


class LeaveCreateInputSerializer(LeavePreviewInputSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class LeaveResolveInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[(a, a) for a in RESOLVE_ACTIONS])


class LeaveSerializer(ModelSerializer):
    active = serializers.SerializerMethodField()

    class Meta:
        model = Leave
        fields = [
            "id",
            "doctor",
            "start",
            "end",
            "category",
            "note",
            "active",
            "cancelled_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_active(self, leave: Leave) -> bool:
        return leave.cancelled_at is None


class AffectedAppointmentSerializer(serializers.ModelSerializer):
    start = UTCDateTimeField(read_only=True)
    # Plain text: the appointment's status enum is named by AppointmentSerializer's schema.
    status = serializers.CharField(read_only=True, help_text="The appointment's status.")

    class Meta:
        model = Appointment
        fields = ["id", "patient", "start", "status"]
        read_only_fields = fields


class UnresolvedAppointmentSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="appointment.id")
    patient = serializers.IntegerField(source="appointment.patient_id")
    start = UTCDateTimeField(source="appointment.start")
    status = serializers.CharField(source="appointment.status")
    code = serializers.CharField(
        help_text="Why it stays: no_free_block, or the 409 code the move or cancel met."
    )


class LeavePreviewSerializer(serializers.Serializer):
    free_blocks = serializers.IntegerField()
    affected_appointments = AffectedAppointmentSerializer(many=True)


class LeaveCreatedSerializer(serializers.Serializer):
    leave = LeaveSerializer()
    removed_blocks = serializers.IntegerField()
    affected_appointments = AffectedAppointmentSerializer(many=True)


class LeaveResolutionSerializer(serializers.Serializer):
    cancelled = AffectedAppointmentSerializer(many=True)
    rescheduled = AffectedAppointmentSerializer(many=True, help_text="With their new start.")
    unresolved = UnresolvedAppointmentSerializer(many=True)
