"""Query filters for the users list and the doctor directory."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from accounts.models import DoctorProfile, User
from medappt.filters import AwareDateTimeFilter, StrictBooleanFilter

MAX_AVAILABILITY_SPAN = datetime.timedelta(days=62)
# A one-sided window stops at the ends of time rather than overflowing past them.
EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.UTC)
LATEST = datetime.datetime.max.replace(tzinfo=datetime.UTC)


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=User.Role.choices)
    is_active = StrictBooleanFilter()
    search = django_filters.CharFilter(method="filter_search", max_length=100)

    class Meta:
        model = User
        fields = ["role", "is_active", "search"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        condition = Q()
        for term in value.split():
            condition &= (
                Q(first_name__icontains=term)
                | Q(last_name__icontains=term)
                | Q(email__icontains=term)
            )
        return queryset.filter(condition)


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
    search = django_filters.CharFilter(method="filter_search", max_length=100)
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
        from scheduling.selectors import doctors_with_free_blocks

        if start is None:
            start = (
                end - MAX_AVAILABILITY_SPAN if end - EARLIEST > MAX_AVAILABILITY_SPAN else EARLIEST
            )
        if end is None:
            end = (
                start + MAX_AVAILABILITY_SPAN if LATEST - start > MAX_AVAILABILITY_SPAN else LATEST
            )
        return queryset.filter(doctors_with_free_blocks(start=start, end=end))

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        condition = Q()
        for term in value.split():
            condition &= (
                Q(user__first_name__icontains=term)
                | Q(user__last_name__icontains=term)
                | Q(specialty__icontains=term)
            )
        return queryset.filter(condition)
