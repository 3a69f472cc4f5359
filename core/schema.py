"""OpenAPI generation that documents the error responses of the contract (docs/api-rules.md)."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from core import exceptions

ErrorSerializer = inline_serializer(name="Error", fields={"detail": serializers.CharField()})
ConflictSerializer = inline_serializer(
    name="Conflict",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.ChoiceField(choices=sorted(exceptions.CONFLICT_CODES)),
    },
)
UnprocessableSerializer = inline_serializer(
    name="Unprocessable",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.ChoiceField(choices=[exceptions.IDEMPOTENCY_KEY_REUSED]),
    },
)
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    type=str,
    required=False,
    description=(
        "1-255 printable ASCII characters (else 400), unique per user and request; mandatory "
        "when the server sets IDEMPOTENCY_REQUIRED. A retry with the same key and body gets the "
        "first answer again (its status, a 409 too, and its body) with the header "
        "`Idempotent-Replayed: true`, and nothing runs twice; the same key with another body "
        "is 422 idempotency_key_reused; while the first request still runs, a retry waits up "
        "to IDEMPOTENCY_WAIT_SECONDS, then gets 409 idempotency_in_progress with Retry-After. "
        "Keys are kept IDEMPOTENCY_KEY_TTL_HOURS."
    ),
)
# A replay answers whatever the first request answered (below 500) and says so.
IDEMPOTENT_REPLAYED_HEADER = OpenApiParameter(
    name="Idempotent-Replayed",
    location=OpenApiParameter.HEADER,
    type=str,
    enum=["true"],
    response=["200", "201", "400", "404", "409"],
    description=(
        "Present on a replay: this is the stored answer of the first request with the same "
        "Idempotency-Key (nothing ran again)."
    ),
)
# 400 bodies are DRF field errors ({"field": ["message"]}) or {"detail": "..."}: any object.
ValidationErrorSchema = OpenApiTypes.OBJECT

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
JSON = "application/json"


class AutoSchema(openapi.AutoSchema):
    """Adds 400/401/403/404/409/413/415/422/429 to every operation where they can occur, and
    the Idempotency-Key header to the operations that accept it."""

    def _is_idempotent(self) -> bool:
        handler = getattr(self.view, getattr(self.view, "action", None) or "", None)
        return bool(getattr(handler, "idempotent", False))

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._is_idempotent():
            parameters = [*parameters, IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED_HEADER]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, serializer in self._error_responses().items():
            # Error bodies are JSON whatever the view renders on success (the CSV export).
            responses.setdefault(
                code, self._get_response_for_code(serializer, code, media_types=[JSON])
            )
        return responses

    def _error_responses(self) -> dict[str, object]:
        errors: dict[str, object] = {"401": ErrorSerializer}
        permissions = self.view.get_permissions()
        if not any(isinstance(permission, AllowAny) for permission in permissions):
            errors["403"] = ErrorSerializer
        has_query = self._is_list_view() or any(
            parameter["in"] == "query" for parameter in self._get_parameters()
        )
        if self.method in WRITE_METHODS or has_query:
            # The generic shape: lists of messages keyed by field (or "detail").
            errors["400"] = ValidationErrorSchema
        # A page out of range, an object not visible to the caller, or (DRF's rule) a
        # `?format=` that names no renderer of the view.
        if "{" in self.path or self._is_list_view() or self._get_format_parameters():
            errors["404"] = ErrorSerializer
        if self.method in WRITE_METHODS:
            errors["409"] = ConflictSerializer
            errors["413"] = ErrorSerializer
        if self.method in BODY_METHODS and self.get_request_serializer() is not None:
            # A body in a media type the operation does not parse (DRF's parsers decide).
            errors["415"] = ErrorSerializer
        if self.view.get_throttles():
            errors["429"] = ErrorSerializer
        if self._is_idempotent():
            errors["422"] = UnprocessableSerializer
        return errors
