"""OpenAPI generation that documents the error responses of the contract (DESIGN.md §5, §9)."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from medappt import exceptions

ErrorSerializer = inline_serializer(name="Error", fields={"detail": serializers.CharField()})
ConflictSerializer = inline_serializer(
    name="Conflict",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.ChoiceField(choices=sorted(exceptions.CONFLICT_CODES)),
    },
)
# 400 bodies are DRF field errors ({"field": ["message"]}) or {"detail": "..."}: any object.
ValidationErrorSchema = OpenApiTypes.OBJECT

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class AutoSchema(openapi.AutoSchema):
    """Adds 400/401/403/404/409/413/429 to every operation where they can occur."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, serializer in self._error_responses().items():
            responses.setdefault(code, self._get_response_for_code(serializer, code))
        return responses

    def _error_responses(self) -> dict[str, object]:
        errors: dict[str, object] = {"401": ErrorSerializer}
        permissions = self.view.get_permissions()
        if not any(isinstance(permission, AllowAny) for permission in permissions):
            errors["403"] = ErrorSerializer
        has_query = bool(self._get_filter_parameters()) or self._is_list_view()
        if self.method in WRITE_METHODS or has_query:
            # The generic shape: lists of messages keyed by field (or "detail").
            errors["400"] = ValidationErrorSchema
        if "{" in self.path or self._is_list_view():
            errors["404"] = ErrorSerializer
        if self.method in WRITE_METHODS:
            errors["409"] = ConflictSerializer
            errors["413"] = ErrorSerializer
        if self.view.get_throttles():
            errors["429"] = ErrorSerializer
        return errors


class JWTScheme(SimpleJWTScheme):
    """Documents our JWTAuthentication subclass as the Bearer scheme."""

    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"
