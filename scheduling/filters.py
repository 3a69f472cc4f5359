"""Query filters for the doctor directory, time blocks and appointments (`from`/`to` are
half-open on start)."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import QuerySet

from accounts.models import DoctorProfile
from core.filters import (
    AwareDateTimeFilter,
    CommaSeparatedChoiceFilter,
    IdFilter,
    StrictBooleanFilter,
    TermsFilter,
)
from scheduling.models import Appointment, TimeBlock
from scheduling.selectors import doctors_with_free_blocks

MAX_AVAILABILITY_SPAN = datetime.timedelta(days=62)
# A one-sided window stops at the ends of time rather than overflowing past them.
EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.UTC)
LATEST = datetime.datetime.max.replace(tzinfo=datetime.UTC)


class DoctorFilterForm(forms.Form):
    """available_from/available_to: not reversed, spanning at most 62 days."""

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("available_from"), data.get("available_to")
        if start and end:
            if start > end:
                self.add_error("available_from", "Must not be after available_to.")
            elif end - start > MAX_AVAILABILITY_SPAN:
                self.add_error("available_to", "The range spans at most 62 days.")
        return data


class DoctorFilter(django_filters.FilterSet):
    search = TermsFilter(fields=("user__first_name", "user__last_name", "specialty"))
    specialty = django_filters.CharFilter(field_name="specialty", lookup_expr="iexact")
    location = django_filters.CharFilter(field_name="location", lookup_expr="icontains")
    available_from = AwareDateTimeFilter(method="filter_available")
    available_to = AwareDateTimeFilter(method="filter_available")

    class Meta:
        model = DoctorProfile
        fields = ["search", "specialty", "location", "available_from", "available_to"]
        form = DoctorFilterForm

    def filter_available(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # Both bounds are applied together, once, in filter_queryset.
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        start = self.form.cleaned_data.get("available_from")
        end = self.form.cleaned_data.get("available_to")
        if start is None and end is None:
            return queryset
        if start is None:
            start = (
                end - MAX_AVAILABILITY_SPAN if end - EARLIEST > MAX_AVAILABILITY_SPAN else EARLIEST
            )
        if end is None:
            end = (
                start + MAX_AVAILABILITY_SPAN if LATEST - start > MAX_AVAILABILITY_SPAN else LATEST
            )
        return queryset.filter(doctors_with_free_blocks(start=start, end=end))


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
