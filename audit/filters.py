"""Filters of the audit API (`from`/`to` are half-open on `at`)."""

from __future__ import annotations

import django_filters
from auditlog.models import LogEntry
from django.db.models import QuerySet

from audit.models import AuditEvent
from core.filters import AwareDateTimeFilter, IdFilter


class AuditEventFilter(django_filters.FilterSet):
    actor = IdFilter(field_name="actor_id")
    action = django_filters.CharFilter(field_name="action", max_length=64)
    target_type = django_filters.CharFilter(field_name="target_type", max_length=32)
    target_id = django_filters.CharFilter(field_name="target_id", max_length=64)

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "target_type", "target_id"]


AuditEventFilter.base_filters.update(
    {
        "from": AwareDateTimeFilter(field_name="at", lookup_expr="gte"),
        "to": AwareDateTimeFilter(field_name="at", lookup_expr="lt"),
    }
)


class FieldChangeFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(method="filter_model", max_length=100)
    object_id = django_filters.CharFilter(field_name="object_pk", max_length=255)
    actor = IdFilter(field_name="actor_id")

    class Meta:
        model = LogEntry
        fields = ["model", "object_id", "actor"]

    def filter_model(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        app_label, _, model = value.lower().partition(".")
        return queryset.filter(content_type__app_label=app_label, content_type__model=model)
