"""Query filters for the doctor directory, time blocks and appointments (`from`/`to` are
half-open on start)."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts.models import DoctorProfile
from core.filters import (
    AwareDateTimeFilter,
    CommaSeparatedChoiceFilter,
    IdFilter,
    StrictBooleanFilter,
    TermsFilter,
)
from scheduling.models import (
    GENERAL_VISIT_TYPE,
    Appointment,
    AvailabilityTemplate,
    Leave,
    SlotHold,
    TimeBlock,
    VisitType,
    WaitlistEntry,
    WaitlistOffer,
)
from scheduling.selectors import (
    FEATURED_DEFAULT_LIMIT,
    FEATURED_MAX_LIMIT,
    FEATURED_MIN_REVIEWS,
    doctor_list_featured,
    doctors_offering,
    doctors_with_free_blocks,
    doctors_with_specialty,
    doctors_with_specialty_containing,
    visit_type_resolve,
    visit_types_for_specialty,
    visit_types_offered_by,
    with_visit_type,
)

VISIT_TYPE_HELP = "A visit type's id or slug, or `general` (untagged); unknown: 400."


class VisitTypeField(forms.CharField):
    """`?visit_type=<id|slug|general>`: the type (or GENERAL_VISIT_TYPE); unknown is a 400."""

    def clean(self, value):
        # CharField's own checks first: its validators refuse a NUL character, which
        # PostgreSQL cannot compare (a 500 if it reached the lookup below).
        value = super().clean(value)
        if value in (None, ""):
            return None
        resolved = visit_type_resolve(value)
        if resolved is None:
            raise forms.ValidationError(gettext("Unknown visit type."), code="invalid")
        return resolved


@extend_schema_field(OpenApiTypes.STR)
class VisitTypeFilter(django_filters.Filter):
    """Rows of one visit type (`general`: untagged)."""

    field_class = VisitTypeField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("help_text", VISIT_TYPE_HELP)
        super().__init__(*args, **kwargs)

    def filter(self, queryset: QuerySet, value) -> QuerySet:
        return with_visit_type(queryset, value) if value else queryset


MAX_AVAILABILITY_SPAN = datetime.timedelta(days=62)
# A one-sided window stops at the ends of time rather than overflowing past them.
EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.UTC)
LATEST = datetime.datetime.max.replace(tzinfo=datetime.UTC)


class DoctorFilterForm(forms.Form):
    """available_from/available_to: not reversed, spanning at most 62 days."""

    def clean(self) -> dict:
        data = super().clean()
        if data.get("limit") is not None and not data.get("featured"):
            self.add_error("limit", gettext("Only with featured=true."))
        if data.get("featured") and "ordering" in self.data:
            self.add_error(
                "featured", gettext("Featured doctors have their own order: drop ordering.")
            )
        start, end = data.get("available_from"), data.get("available_to")
        if start and end:
            if start > end:
                self.add_error(
                    "available_from",
                    gettext("Must not be after %(other)s.") % {"other": "available_to"},
                )
            elif end - start > MAX_AVAILABILITY_SPAN:
                self.add_error(
                    "available_to",
                    gettext("The range spans at most %(days)d days.")
                    % {"days": MAX_AVAILABILITY_SPAN.days},
                )
        return data


class DoctorSearchFilter(TermsFilter):
    """`?search=`: every term matches a name, the hospital or any of the doctor's
    specialties (each specialty through an Exists, so a doctor appears once)."""

    def filter(self, queryset, value: str):
        condition = Q()
        for term in (value or "").split():
            match = doctors_with_specialty_containing(term)
            for field in self.search_fields:
                match |= Q(**{f"{field}__icontains": term})
            condition &= match
        return queryset.filter(condition) if condition else queryset


@extend_schema_field(OpenApiTypes.INT)
class FeaturedLimitFilter(IdFilter):
    """`?limit=`: how many featured doctors, 1 to FEATURED_MAX_LIMIT (only with featured)."""


class DoctorFilter(django_filters.FilterSet):
    search = DoctorSearchFilter(fields=("user__first_name", "user__last_name", "hospital"))
    specialty = django_filters.CharFilter(method="filter_specialty")
    location = django_filters.CharFilter(field_name="location", lookup_expr="icontains")
    visit_type = VisitTypeFilter(
        method="filter_visit_type",
        help_text=VISIT_TYPE_HELP + " Doctors offering the type; with available_*: doctors "
        "with a bookable block of it (`general`: an untagged one).",
    )
    available_from = AwareDateTimeFilter(method="filter_available")
    available_to = AwareDateTimeFilter(method="filter_available")
    featured = StrictBooleanFilter(
        method="filter_featured",
        help_text=(
            f"true: only the best-rated doctors with at least {FEATURED_MIN_REVIEWS} "
            "visible reviews, by rating, then review count, then id, at most `limit` of them "
            "(one page at the default page size); `ordering` is refused with it."
        ),
    )
    limit = FeaturedLimitFilter(
        method="filter_featured",
        max_value=FEATURED_MAX_LIMIT,
        help_text=f"With featured=true: at most this many (1-{FEATURED_MAX_LIMIT}, default "
        f"{FEATURED_DEFAULT_LIMIT}).",
    )

    class Meta:
        model = DoctorProfile
        fields = [
            "search",
            "specialty",
            "location",
            "visit_type",
            "available_from",
            "available_to",
            "featured",
            "limit",
        ]
        form = DoctorFilterForm

    def filter_specialty(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(doctors_with_specialty(value)) if value else queryset

    def filter_visit_type(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # Without available_*: the doctors offering it (every doctor offers general visits).
        # With them, the type narrows the free blocks, in _filter_available.
        available = {"available_from", "available_to"} & {
            k for k, v in self.form.cleaned_data.items() if v is not None
        }
        if not value or value == GENERAL_VISIT_TYPE or available:
            return queryset
        return queryset.filter(doctors_offering(value))

    def filter_featured(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # Featuring orders and cuts the list: applied once, last, in filter_queryset.
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = self._filter_available(super().filter_queryset(queryset))
        if not self.form.cleaned_data.get("featured"):
            return queryset
        limit = self.form.cleaned_data.get("limit") or FEATURED_DEFAULT_LIMIT
        return doctor_list_featured(queryset)[:limit]

    def filter_available(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # Both bounds are applied together, once, in filter_queryset.
        return queryset

    def _filter_available(self, queryset: QuerySet) -> QuerySet:
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
        visit_type = self.form.cleaned_data.get("visit_type")
        return queryset.filter(
            doctors_with_free_blocks(start=start, end=end, visit_type=visit_type)
        )


def _start_range() -> dict[str, AwareDateTimeFilter]:
    # `from` is a Python keyword, so these two are added to the filter sets by name.
    return {
        "from": AwareDateTimeFilter(field_name="start", lookup_expr="gte"),
        "to": AwareDateTimeFilter(field_name="start", lookup_expr="lt"),
    }


class TimeBlockFilter(django_filters.FilterSet):
    doctor = IdFilter(field_name="doctor_id")
    is_booked = StrictBooleanFilter(field_name="is_booked")
    visit_type = VisitTypeFilter()

    class Meta:
        model = TimeBlock
        fields = ["doctor", "is_booked", "visit_type"]


class AppointmentFilter(django_filters.FilterSet):
    status = CommaSeparatedChoiceFilter(field_name="status", choices=Appointment.Status.choices)
    doctor = IdFilter(field_name="doctor_id")
    patient = IdFilter(field_name="patient_id")
    visit_type = VisitTypeFilter()

    class Meta:
        model = Appointment
        fields = ["status", "doctor", "patient", "visit_type"]


class VisitTypeListFilter(django_filters.FilterSet):
    specialty = django_filters.CharFilter(
        method="filter_specialty", help_text="Types a doctor of this specialty may offer."
    )
    doctor = IdFilter(method="filter_doctor", help_text="Types the doctor offers.")

    class Meta:
        model = VisitType
        fields = ["specialty", "doctor"]

    def filter_specialty(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return visit_types_for_specialty(queryset, value) if value else queryset

    def filter_doctor(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        return visit_types_offered_by(queryset, value)


TimeBlockFilter.base_filters.update(_start_range())
AppointmentFilter.base_filters.update(_start_range())


class SlotHoldFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")

    class Meta:
        model = SlotHold
        fields = ["patient"]


class WaitlistEntryFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")

    class Meta:
        model = WaitlistEntry
        fields = ["patient"]


class WaitlistOfferFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="entry__patient_id")
    time_block = IdFilter(field_name="time_block_id")

    class Meta:
        model = WaitlistOffer
        fields = ["patient", "time_block"]


class AvailabilityTemplateFilter(django_filters.FilterSet):
    doctor = IdFilter(field_name="doctor_id")
    active = StrictBooleanFilter(field_name="active")

    class Meta:
        model = AvailabilityTemplate
        fields = ["doctor", "active"]


class LeaveFilter(django_filters.FilterSet):
    """`doctor`; `from`/`to`: leaves overlapping the window; `active`: uncancelled or not."""

    doctor = IdFilter(field_name="doctor_id")
    active = StrictBooleanFilter(field_name="cancelled_at", lookup_expr="isnull")

    class Meta:
        model = Leave
        fields = ["doctor", "active"]


LeaveFilter.base_filters.update(
    {
        "from": AwareDateTimeFilter(field_name="end", lookup_expr="gt"),
        "to": AwareDateTimeFilter(field_name="start", lookup_expr="lt"),
    }
)
