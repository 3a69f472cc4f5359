"""One dispatcher for the errors Django and the middleware answer themselves (a 400 for a bad
Host, a 403 from CSRF, a 404 no route matched, a 413 body, a 500), formatted by path prefix:
`/api/` JSON `{"detail"}`, `/calendar/` plain text, `/portal/` an HTML page; an app that
serves another format (FHIR's OperationOutcome under `/fhir/`) registers its own. Elsewhere
(the admin) Django's own pages answer.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

ErrorFormatter = Callable[[HttpRequest, int, str], HttpResponse]
_formatters: dict[str, ErrorFormatter] = {}


def register_error_format(prefix: str, formatter: ErrorFormatter) -> None:
    """Format the errors of every path under `prefix` (e.g. "/fhir/") with `formatter`."""
    _formatters[prefix] = formatter


def error_response(request: HttpRequest, status: int, detail: str) -> HttpResponse | None:
    """The error in the format of the request's prefix; None where Django's own page fits."""
    for prefix in sorted(_formatters, key=len, reverse=True):
        if request.path.startswith(prefix):
            return _formatters[prefix](request, status, detail)
    return None


def _json(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    return JsonResponse({"detail": detail}, status=status)


def _text(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    return HttpResponse(f"{detail}\n", status=status, content_type="text/plain; charset=utf-8")


def _html(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    # No request: the page must render even when the database or the session is what failed.
    context = {"status": status, "detail": detail, "clinic_name": settings.CLINIC_NAME}
    body = render_to_string("errors/error.html", context)
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


register_error_format("/api/", _json)
register_error_format("/calendar/", _text)
register_error_format("/portal/", _html)
