"""Every error under /fhir/ is an OperationOutcome (DESIGN-R2 §R2-1): the DRF views' errors
through `exception_handler`, and those Django and the middleware answer themselves (no route,
a 413 body, a 500) through the formatter registered with core.errors."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.response import Response

from core.exceptions import exception_handler as core_exception_handler

FHIR_JSON = "application/fhir+json"

# The issue type (http://hl7.org/fhir/issue-type) of each status an error may have.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
}
WWW_AUTHENTICATE = 'Bearer realm="fhir"'


def issue_code(status: int) -> str:
    return ISSUE_CODES.get(status, "exception" if status >= 500 else "processing")


def _messages(data: Any, prefix: str = "") -> list[str]:
    """The messages of a DRF error body ({"detail"} or field errors), one per issue."""
    if isinstance(data, dict):
        if set(data) <= {"detail", "code"} and "detail" in data:
            return _messages(data["detail"], prefix)
        found = []
        for field, value in data.items():
            name = "" if field in ("non_field_errors", "detail") else field
            found += _messages(value, f"{prefix}{name}: " if name else prefix)
        return found
    if isinstance(data, list | tuple):
        return [message for item in data for message in _messages(item, prefix)]
    return [f"{prefix}{data}"]


def operation_outcome(status: int, messages: list[str], severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue per message, coded for the status (a dict in the
    R4B model's shape, as every body: formats/fhir/mapping.py)."""
    code = issue_code(status)
    issues = []
    for message in messages or [""]:
        issue = {"severity": severity, "code": code}
        issues.append({**issue, "diagnostics": str(message)} if message else issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


def outcome_bytes(outcome: dict[str, Any]) -> bytes:
    return json.dumps(outcome, separators=(",", ":"), ensure_ascii=False).encode()


def error_format(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    """The /fhir/ formatter for core.errors: Django's own 400/403/404/500 and the 413."""
    response = HttpResponse(
        outcome_bytes(operation_outcome(status, [detail])),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )
    if status == 401:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """The project's one handler decides the status and headers; the body becomes an
    OperationOutcome. None (an unexpected exception) goes on to handler500, which is ours too."""
    response = core_exception_handler(exc, context)
    if response is None:
        return None
    response.data = operation_outcome(response.status_code, _messages(response.data))
    if response.status_code == 401:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response
