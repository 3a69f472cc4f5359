"""`?ordering=` with a fixed menu: each accepted value maps to a full, stable order_by."""

from __future__ import annotations

from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend


class MappedOrderingFilter(BaseFilterBackend):
    """Reads the view's `ordering_map` ({value: (order_by fields...)}); other values are 400."""

    param = "ordering"

    def filter_queryset(self, request, queryset, view):
        value = request.query_params.get(self.param)
        if value is None:
            return queryset
        ordering_map = getattr(view, "ordering_map", {})
        if value not in ordering_map:
            choices = ", ".join(ordering_map)
            message = gettext("Must be one of: %(choices)s.") % {"choices": choices}
            raise ValidationError({self.param: [message]})
        return queryset.order_by(*ordering_map[value])

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.param,
                "required": False,
                "in": "query",
                "description": "Sort order.",
                "schema": {"type": "string", "enum": list(getattr(view, "ordering_map", {}))},
            }
        ]
