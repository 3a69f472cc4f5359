"""Input validation and output shapes for the doctor directory, time blocks, appointments and
reviews."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import DoctorProfile, User, validate_timezone
from accounts.selectors import doctor_specialties
from accounts.serializers import photo_url
from core.fields import FastModelSerializer, ModelSerializer, ObjectIdField, UTCDateTimeField
from scheduling.models import (
    GENERAL_VISIT_TYPE,
    Appointment,
    Review,
    SlotHold,
    TimeBlock,
    VisitType,
)
from scheduling.selectors import offered_visit_type_ids
from scheduling.services import MAX_BULK_DAYS


def _doctor_field() -> ObjectIdField:
    return ObjectIdField(
        queryset=User.objects.select_related("doctor_profile"),
        required=False,
        error_messages={"does_not_exist": gettext_lazy("Unknown doctor.")},
        help_text="Required for staff and admins.",
    )


def _time_block_field() -> ObjectIdField:
    return ObjectIdField(
        queryset=TimeBlock.objects.all(),
        error_messages={"does_not_exist": gettext_lazy("Unknown time block.")},
    )


def _hold_field() -> ObjectIdField:
    return ObjectIdField(
        queryset=SlotHold.objects.all(),
        required=False,
        error_messages={"does_not_exist": "Unknown hold."},
        help_text="The caller's live hold on the block, converted by this booking.",
    )


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
class DoctorSerializer(FastModelSerializer):
    """The public doctor: no email, phone or licence number."""

    id = serializers.IntegerField(source="user_id", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    photo_url = serializers.SerializerMethodField()
    specialties = serializers.SerializerMethodField()
    visit_types = serializers.SerializerMethodField()
    rating_average = serializers.SerializerMethodField()
    rating_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = DoctorProfile
        fields = [
            "id",
            "first_name",
            "last_name",
            "specialty",
            "specialties",
            "hospital",
            "bio",
            "location",
            "timezone",
            "photo_url",
            "visit_types",
            "rating_average",
            "rating_count",
        ]
        read_only_fields = fields

    def get_visit_types(self, profile: DoctorProfile) -> list[int]:
        """The ids of the active visit types the doctor actively offers."""
        return offered_visit_type_ids(profile)

    def get_photo_url(self, profile: DoctorProfile) -> str | None:
        return photo_url(profile.user)

    def get_specialties(self, profile: DoctorProfile) -> list[str]:
        return doctor_specialties(profile)

    def get_rating_average(self, profile: DoctorProfile) -> float | None:
        average = getattr(profile, "rating_average", None)
        return None if average is None else round(float(average), 2)


# Visible reviews per rating, "1" to "5"; the five counts sum to rating_count.
RATING_HISTOGRAM_SCHEMA = {
    "type": "object",
    "properties": {str(stars): {"type": "integer", "minimum": 0} for stars in range(1, 6)},
    "required": [str(stars) for stars in range(1, 6)],
    "additionalProperties": False,
}


class DoctorDetailSerializer(DoctorSerializer):
    """One public doctor: the list shape plus the rating histogram (context
    `rating_histogram`, from doctor_rating_histogram())."""

    rating_histogram = serializers.SerializerMethodField()

    class Meta(DoctorSerializer.Meta):
        fields = [*DoctorSerializer.Meta.fields, "rating_histogram"]
        read_only_fields = fields

    @extend_schema_field(RATING_HISTOGRAM_SCHEMA)
    def get_rating_histogram(self, profile: DoctorProfile) -> dict[str, int]:
        return self.context["rating_histogram"]


class DirectoryStatsSerializer(serializers.Serializer):
    doctors = serializers.IntegerField()
    specialties = serializers.IntegerField()
    appointments_completed = serializers.IntegerField()
    reviews = serializers.IntegerField()


class DoctorMeSerializer(DoctorSerializer):
    """The doctor's own profile: the public shape plus the licence number."""

    class Meta(DoctorSerializer.Meta):
        fields = [*DoctorSerializer.Meta.fields, "license_number"]
        read_only_fields = fields


class TimeBlockSerializer(ModelSerializer):
    is_booked = serializers.BooleanField(read_only=True)

    class Meta:
        model = TimeBlock
        fields = ["id", "doctor", "start", "end", "visit_type", "created_at", "is_booked"]
        read_only_fields = fields


class AvailabilitySerializer(FastModelSerializer):
    class Meta:
        model = TimeBlock
        fields = ["id", "start", "end", "visit_type"]
        read_only_fields = fields


class VisitTypeSerializer(FastModelSerializer):
    class Meta:
        model = VisitType
        fields = [
            "id",
            "name",
            "slug",
            "duration_minutes",
            "specialty",
            "description",
            "active",
        ]
        read_only_fields = fields


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    total = serializers.IntegerField()
    on_leave = serializers.IntegerField(
        help_text="Of the skipped slots, those inside an active leave or clinic closure."
    )


class AppointmentSerializer(FastModelSerializer):
    # Empty until cancelled (read-only model fields would lose the blank in the schema).
    cancellation_code = serializers.ChoiceField(
        choices=Appointment.CancellationCode.choices, allow_blank=True, read_only=True
    )
    doctor_name = serializers.SerializerMethodField()
    patient_name = serializers.SerializerMethodField()
    doctor_location = serializers.SerializerMethodField()
    doctor_timezone = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "doctor",
            "time_block",
            "visit_type",
            "start",
            "end",
            "status",
            "reason",
            "notes",
            "cancellation_reason",
            "cancellation_code",
            "cancelled_by",
            "rescheduled_from",
            "doctor_name",
            "patient_name",
            "doctor_location",
            "doctor_timezone",
            "created_at",
            "updated_at",
            "confirmed_at",
            "cancelled_at",
            "completed_at",
            "arrived_at",
            "seen_at",
            "checked_in_by",
        ]
        read_only_fields = fields

    def get_doctor_name(self, appointment: Appointment) -> str:
        return appointment.doctor.full_name

    def get_patient_name(self, appointment: Appointment) -> str:
        return appointment.patient.full_name

    def get_doctor_location(self, appointment: Appointment) -> str:
        profile = getattr(appointment.doctor, "doctor_profile", None)
        return profile.location if profile else ""

    def get_doctor_timezone(self, appointment: Appointment) -> str | None:
        profile = getattr(appointment.doctor, "doctor_profile", None)
        return profile.timezone if profile else None


# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------
def _visit_type_field() -> ObjectIdField:
    return ObjectIdField(
        queryset=VisitType.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": gettext_lazy("Unknown visit type.")},
        help_text="An active visit type the doctor offers; null or absent: general.",
    )


class TimeBlockCreateInputSerializer(serializers.Serializer):
    doctor = _doctor_field()
    start = UTCDateTimeField()
    end = UTCDateTimeField(
        required=False, help_text="Optional with visit_type: the type's duration."
    )
    visit_type = _visit_type_field()


class VisitTypeCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=50)
    duration_minutes = serializers.IntegerField(min_value=5, max_value=720)
    specialty = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="Blank: any."
    )
    description = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default=""
    )

    def validate_slug(self, value: str) -> str:
        if value.lower() == GENERAL_VISIT_TYPE:
            raise serializers.ValidationError(
                gettext("'%(slug)s' is reserved.") % {"slug": GENERAL_VISIT_TYPE}
            )
        return value


class VisitTypeUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    duration_minutes = serializers.IntegerField(min_value=5, max_value=720, required=False)
    specialty = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class DoctorVisitTypesInputSerializer(serializers.Serializer):
    visit_types = serializers.ListField(
        child=ObjectIdField(
            queryset=VisitType.objects.all(),
            error_messages={"does_not_exist": gettext_lazy("Unknown visit type.")},
        ),
        allow_empty=True,
        max_length=100,
        help_text="Every visit type the doctor offers (the others are withdrawn).",
    )


class TimeBlockUpdateInputSerializer(serializers.Serializer):
    start = UTCDateTimeField(required=False)
    end = UTCDateTimeField(required=False)


class TimeBlockBulkInputSerializer(serializers.Serializer):
    doctor = _doctor_field()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        allow_empty=False,
        max_length=7,
        help_text="0 = Monday … 6 = Sunday.",
    )
    start_time = serializers.TimeField(input_formats=["%H:%M"], format="%H:%M")
    end_time = serializers.TimeField(input_formats=["%H:%M"], format="%H:%M")
    slot_minutes = serializers.IntegerField(
        min_value=5,
        max_value=720,
        required=False,
        help_text="Required without visit_type; with one, its duration (the default).",
    )
    visit_type = _visit_type_field()
    timezone = serializers.CharField(
        max_length=64,
        required=False,
        validators=[validate_timezone],
        help_text="IANA name; the doctor's timezone by default.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["end_time"] <= attrs["start_time"]:
            raise serializers.ValidationError(
                {"end_time": [gettext("Must be after %(other)s.") % {"other": "start_time"}]}
            )
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError(
                {"date_to": [gettext("Must not be before %(other)s.") % {"other": "date_from"}]}
            )
        if (attrs["date_to"] - attrs["date_from"]).days > MAX_BULK_DAYS:
            raise serializers.ValidationError(
                {
                    "date_to": [
                        gettext("At most %(days)d days after %(other)s.")
                        % {"days": MAX_BULK_DAYS, "other": "date_from"}
                    ]
                }
            )
        return attrs


class AppointmentCreateInputSerializer(serializers.Serializer):
    time_block = _time_block_field()
    hold = _hold_field()
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    patient = ObjectIdField(
        queryset=User.objects.all(),
        required=False,
        error_messages={"does_not_exist": gettext_lazy("Unknown patient.")},
        help_text="Required for staff and admins.",
    )

    def __init__(self, *args, names_patient: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if names_patient:
            self.fields["patient"].required = True
        else:
            # A patient books for themself: their `patient` is ignored, not validated.
            del self.fields["patient"]


class AppointmentUpdateInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    code = serializers.ChoiceField(
        choices=["patient", "provider", "clinic"],
        required=False,
        help_text="Staff and admins only: who the cancellation is recorded against "
        "(default clinic). A patient's own cancel is patient, a doctor's provider.",
    )

    def __init__(self, *args, names_code: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.names_code = names_code

    def validate_code(self, value: str) -> str:
        if not self.names_code:
            raise serializers.ValidationError(gettext("Only staff and admins may set the code."))
        return value


class RescheduleInputSerializer(serializers.Serializer):
    time_block = _time_block_field()
    hold = _hold_field()


# ---------------------------------------------------------------------------
# Slot holds
# ---------------------------------------------------------------------------
class SlotHoldCreateInputSerializer(serializers.Serializer):
    time_block = _time_block_field()
    patient = ObjectIdField(
        queryset=User.objects.all(),
        required=False,
        error_messages={"does_not_exist": "Unknown patient."},
        help_text="Required for staff and admins.",
    )

    def __init__(self, *args, names_patient: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if names_patient:
            self.fields["patient"].required = True
        else:
            del self.fields["patient"]  # a patient holds for themself


class SlotHoldSerializer(serializers.ModelSerializer):
    start = UTCDateTimeField(source="time_block.start", read_only=True)
    end = UTCDateTimeField(source="time_block.end", read_only=True)
    expires_at = UTCDateTimeField(read_only=True)
    visit_type = serializers.IntegerField(
        source="time_block.visit_type_id", read_only=True, allow_null=True
    )
    status = serializers.SerializerMethodField()

    class Meta:
        model = SlotHold
        fields = [
            "id",
            "time_block",
            "patient",
            "visit_type",
            "start",
            "end",
            "status",
            "expires_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=SlotHold.Status.choices))
    def get_status(self, hold: SlotHold) -> str:
        return hold.status_at(self.context.get("now") or timezone.now())


# ---------------------------------------------------------------------------
# Reviews and votes: public reviews never name the patient or the visit
# ---------------------------------------------------------------------------
class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.SerializerMethodField()
    created_on = serializers.SerializerMethodField()
    helpful_count = serializers.IntegerField(read_only=True, default=0)
    my_vote = serializers.IntegerField(read_only=True, allow_null=True, default=None)

    class Meta:
        model = Review
        fields = ["id", "rating", "comment", "reviewer", "created_on", "helpful_count", "my_vote"]
        read_only_fields = fields

    def get_reviewer(self, review: Review) -> str:
        """First name and last initial only."""
        author = review.author
        initial = f" {author.last_name[:1]}." if author.last_name else ""
        return f"{author.first_name}{initial}".strip() or "Patient"

    def get_created_on(self, review: Review) -> str:
        return timezone.localdate(review.created_at).isoformat()


class ReviewCreateInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReviewUpdateInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class VoteInputSerializer(serializers.Serializer):
    value = serializers.ChoiceField(choices=[1, -1])


class VoteResultSerializer(serializers.Serializer):
    helpful_count = serializers.IntegerField()
    my_vote = serializers.IntegerField(allow_null=True)
