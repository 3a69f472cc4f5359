"""Query filters for time blocks and appointments (`from`/`to` are half-open on start)."""

from __future__ import annotations

import django_filters

from medappt.filters import (
    AwareDateTimeFilter,
    CommaSeparatedChoiceFilter,
    IdFilter,
    StrictBooleanFilter,
)
from scheduling.models import Appointment, TimeBlock


def _start_range() -> dict[str, AwareDateTimeFilter]:
    # `from` is a Python keyword, so these two are added to the filter sets by name.
    return {
        "from": AwareDateTimeFilter(field_name="start", lookup_expr="gte"),
        "to": AwareDateTimeFilter(field_name="start", lookup_expr="lt"),
    }


class TimeBlockFilter(django_filters.FilterSet):
    doctor = IdFilter(field_name="doctor_id")
    is_booked = StrictBooleanFilter(field_name="is_booked")

    class Meta:
        model = TimeBlock
        fields = ["doctor", "is_booked"]


class AppointmentFilter(django_filters.FilterSet):
    status = CommaSeparatedChoiceFilter(field_name="status", choices=Appointment.Status.choices)
    doctor = IdFilter(field_name="doctor_id")
    patient = IdFilter(field_name="patient_id")

    class Meta:
        model = Appointment
        fields = ["status", "doctor", "patient"]


TimeBlockFilter.base_filters.update(_start_range())
AppointmentFilter.base_filters.update(_start_range())
