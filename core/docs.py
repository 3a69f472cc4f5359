"""The schema and docs views under /api/.

Kept apart from core.schema: that module is DRF's DEFAULT_SCHEMA_CLASS, and importing
drf-spectacular's views while DRF resolves it would be circular.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


class JSONErrorsMixin:
    """Errors of the schema and docs views are JSON like the rest of /api/, not YAML or HTML."""

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(JSONErrorsMixin, SpectacularAPIView):
    """GET /api/schema/: the OpenAPI 3 document (YAML, or JSON with ?format=json)."""


class SwaggerView(JSONErrorsMixin, SpectacularSwaggerView):
    """GET /api/docs/: Swagger UI, served from drf-spectacular-sidecar's static files."""


class RedocView(JSONErrorsMixin, SpectacularRedocView):
    """GET /api/redoc/: ReDoc; the stock template pulls fonts from a CDN, ours does not."""

    template_name = "api/redoc.html"
