"""Query filters for the users list and the doctor directory."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from accounts.models import DoctorProfile, User


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=User.Role.choices)
    is_active = django_filters.BooleanFilter()
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


class DoctorFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", max_length=100)
    specialty = django_filters.CharFilter(field_name="specialty", lookup_expr="iexact")
    location = django_filters.CharFilter(field_name="location", lookup_expr="icontains")

    class Meta:
        model = DoctorProfile
        fields = ["search", "specialty", "location"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        condition = Q()
        for term in value.split():
            condition &= (
                Q(user__first_name__icontains=term)
                | Q(user__last_name__icontains=term)
                | Q(specialty__icontains=term)
            )
        return queryset.filter(condition)
