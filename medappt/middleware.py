"""Early middleware: request context and log line, health probes, body-size limit; and
django-auditlog's middleware taught to use client_ip()."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from auditlog.middleware import AuditlogMiddleware as BaseAuditlogMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.encoding import escape_uri_path

from medappt import context
from medappt.health import healthz, readyz

logger = logging.getLogger("medappt.request")

HEALTH_VIEWS = {"/healthz": healthz, "/readyz": readyz}
# Multipart photo uploads may be larger than JSON bodies.
UPLOAD_PATH_SUFFIXES = ("/photo/",)


class HealthCheckMiddleware:
    """Answer /healthz and /readyz before host validation and the SSL redirect run.

    It sits after RequestContextMiddleware, so probes too get a request id and a log line.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = HEALTH_VIEWS.get(request.path)
        if view is not None:
            return view(request)
        return self.get_response(request)


class RequestContextMiddleware:
    """Give every request an id, fill the audit context and log one line when it ends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = context.request_id_from(request)
        request.request_id = request_id
        token = context.set_context(
            context.RequestContext(
                ip=context.client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:512],
                request_id=request_id,
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.reset_context(token)
        response["X-Request-ID"] = request_id
        logger.info(
            "%s %s %s %.1fms request_id=%s",
            request.method,
            # Percent-encoded again: a decoded %0A in the path must not forge a second line.
            escape_uri_path(request.path),
            response.status_code,
            (time.perf_counter() - started) * 1000,
            request_id,
        )
        return response


class BodySizeLimitMiddleware:
    """Refuse bodies whose declared Content-Length is over the limit with a JSON 413."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        limit = (
            settings.MAX_UPLOAD_BODY_BYTES
            if request.path.endswith(UPLOAD_PATH_SUFFIXES)
            else settings.MAX_JSON_BODY_BYTES
        )
        if length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: at most {limit} bytes."}, status=413
            )
        return self.get_response(request)


class AuditlogMiddleware(BaseAuditlogMiddleware):
    """django-auditlog's middleware, recording the address client_ip() resolves.

    The stock one trusts the leftmost X-Forwarded-For entry, which any client can forge
    (and which need not even be an address). The actor of an API request is filled in later
    by the JWT authentication class (medappt.context.set_actor).
    """

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        if settings.AUDITLOG_DISABLE_REMOTE_ADDR:
            return None
        return context.client_ip(request)

    @staticmethod
    def _get_remote_port(request: HttpRequest) -> int | None:
        # X-Forwarded-Port is as forgeable as X-Forwarded-For; the port is not kept.
        return None
