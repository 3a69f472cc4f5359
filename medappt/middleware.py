"""Early middleware: health probes, request context and log line, body-size limit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from medappt import context
from medappt.health import healthz, readyz

logger = logging.getLogger("medappt.request")

HEALTH_VIEWS = {"/healthz": healthz, "/readyz": readyz}
# Multipart photo uploads may be larger than JSON bodies.
UPLOAD_PATH_SUFFIXES = ("/photo/",)


class HealthCheckMiddleware:
    """Answer /healthz and /readyz before host validation and the SSL redirect run."""

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
            request.path,
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
