"""What OPTIONS answers on the API."""

from __future__ import annotations

from rest_framework.metadata import SimpleMetadata


class APIMetadata(SimpleMetadata):
    """Name, description, renderers and parsers; no per-field `actions`.

    DRF builds `actions` from the view's `serializer_class`, but our viewsets validate input
    with one serializer per action (and some have no serializer_class at all, which made
    OPTIONS a 500). The OpenAPI schema at /api/schema/ is the field-level description.
    """

    def determine_actions(self, request, view) -> dict:
        return {}
