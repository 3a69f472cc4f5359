"""application/fhir+json in and out. JSON is the only format: an Accept (or `_format`) that
admits no JSON is a 406 OperationOutcome."""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer

from core.parsers import JSONParser
from formats.fhir.errors import FHIR_JSON

# Media ranges (Accept) and `_format` values that a JSON answer satisfies.
JSON_RANGES = {"*/*", "application/*", "application/json", FHIR_JSON, "application/json+fhir"}
JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}


class FHIRJSONRenderer(BaseRenderer):
    """A FHIR model (or a plain dict) as compact JSON."""

    media_type = FHIR_JSON
    format = "json"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        if isinstance(data, FHIRAbstractModel):
            return data.model_dump_json().encode()
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


class FHIRJSONParser(JSONParser):
    """A Parameters body of $find, sent as application/fhir+json."""

    media_type = FHIR_JSON


def _ranges(accept: str) -> set[str]:
    return {part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()}


class FHIRContentNegotiation(BaseContentNegotiation):
    """JSON whenever `_format` or Accept admits it (no Accept at all does); else 406."""

    def select_parser(self, request, parsers):
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type == "application/json":
            return parsers[0]
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        wanted = request.query_params.get("_format")
        if wanted is not None:
            if wanted.strip().lower() in JSON_FORMATS:
                return renderer, renderer.media_type
            raise NotAcceptable(gettext("Only JSON is supported (application/fhir+json)."))
        accept = request.META.get("HTTP_ACCEPT", "")
        ranges = _ranges(accept)
        if not ranges or ranges & JSON_RANGES:
            return renderer, renderer.media_type
        raise NotAcceptable(gettext("Only JSON is supported (application/fhir+json)."))
