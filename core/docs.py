"""The schema and docs views under /api/.

Kept apart from core.schema: that module is DRF's DEFAULT_SCHEMA_CLASS, and importing
drf-spectacular's views while DRF resolves it would be circular.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponseBase
from django.utils import translation
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.throttles import SchemaRateThrottle

# Generated schemas of this process by (language, API version). Generating one costs 100-250
# ms of CPU; it changes only with the code and the settings. Bounded, since `lang` and
# `version` come from the query string: past the bound a schema is generated, not kept.
MAX_CACHED_SCHEMAS = 8
_schemas: dict[tuple[str, str | None], dict] = {}


def forget_schemas() -> None:
    _schemas.clear()


@receiver(setting_changed)
def _forget_schemas_when_settings_change(**kwargs: Any) -> None:
    forget_schemas()


def _language() -> str:
    """The catalogue the schema is translated with (an unknown language falls back)."""
    try:
        return translation.get_supported_language_variant(translation.get_language() or "")
    except LookupError:
        return settings.LANGUAGE_CODE


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
    """GET /api/schema/: the OpenAPI 3 document (YAML, or JSON with ?format=json), generated
    once per process, language and version; throttled per client address."""

    throttle_classes = [SchemaRateThrottle]

    def _get_schema_response(self, request: Request) -> Response:
        # drf-spectacular's own, with the generated document kept for the next request.
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (_language(), version)
        schema = _schemas.get(key)
        if schema is None:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            schema = generator.get_schema(request=request, public=self.serve_public)
            if len(_schemas) < MAX_CACHED_SCHEMAS:
                _schemas[key] = schema
        filename = self._get_filename(request, version)
        return Response(
            data=schema, headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )


class SwaggerView(JSONErrorsMixin, SpectacularSwaggerSplitView):
    """GET /api/docs/: Swagger UI, served from drf-spectacular-sidecar's static files; its
    start script comes from /api/docs/?script, so the page needs no inline script (CSP)."""


class RedocView(JSONErrorsMixin, SpectacularRedocView):
    """GET /api/redoc/: ReDoc; the stock template pulls fonts from a CDN, ours does not."""

    template_name = "api/redoc.html"
