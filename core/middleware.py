"""Early middleware: request context and log line, health probes, browser policy headers,
body-size limit; and django-auditlog's middleware taught to use client_ip()."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable

from auditlog.middleware import AuditlogMiddleware as BaseAuditlogMiddleware
from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.encoding import escape_uri_path

from core import context
from core.errors import error_response
from core.exceptions import RequestBodyTooLarge
from core.health import healthz, readyz
from core.logfilters import logged_path

logger = logging.getLogger("medappt.request")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
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
    """Give every request an id, fill the audit context and log one line when it ends; the
    language a request activated ends with it.

    The server's own id goes into audit rows and the log line; a well-formed client
    X-Request-ID is kept beside it (audit data, log line) and echoed in the response, so a
    client cannot make two requests share an audit request id.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = context.new_request_id()
        client_request_id = context.client_request_id_from(request)
        request.request_id = request_id
        request.client_request_id = client_request_id
        token = context.set_context(
            context.RequestContext(
                ip=context.client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:512],
                request_id=request_id,
                client_request_id=client_request_id,
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.reset_context(token)
            # LocaleMiddleware activates the request's language (the API's authentication the
            # user's own) and leaves it active on the thread; the next request's refusals made
            # before LocaleMiddleware runs (413) must not inherit it.
            translation.deactivate()
        response["X-Request-ID"] = client_request_id or request_id
        logger.info(
            "%s %s %s %.1fms request_id=%s%s",
            request.method,
            # Percent-encoded again: a decoded %0A in the path must not forge a second line.
            logged_path(escape_uri_path(request.path)),
            response.status_code,
            (time.perf_counter() - started) * 1000,
            request_id,
            f" client_request_id={client_request_id}" if client_request_id else "",
        )
        return response


# Pages a browser renders: the Django admin and the API docs (drf-spectacular-sidecar files).
CSP_PATH_PREFIXES = ("/admin/", "/api/docs/", "/api/redoc/")
# The portal's own pages: no inline script or style at all (PORTAL_CONTENT_SECURITY_POLICY).
PORTAL_PATH_PREFIX = "/portal/"


class BrowserPolicyMiddleware:
    """A Content-Security-Policy on the admin, API docs and portal pages, and `Cache-Control:
    no-store` on every /api/ answer that does not set its own (only photos do).

    Every /api/ answer, not just those with patient data: the rule cannot be got wrong by a
    new endpoint, and the public directory reads lose nothing (they are cached server side).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(CSP_PATH_PREFIXES):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        elif request.path.startswith(PORTAL_PATH_PREFIX):
            response.headers.setdefault(
                "Content-Security-Policy", settings.PORTAL_CONTENT_SECURITY_POLICY
            )
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class BoundedStream(io.RawIOBase):
    """A request body stream that raises RequestBodyTooLarge once more than `limit` bytes
    have been read, so a body without a Content-Length cannot grow without bound."""

    def __init__(self, stream, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def _count(self, data: bytes) -> bytes:
        self._read += len(data)
        if self._read > self._limit:
            raise RequestBodyTooLarge(self._limit)
        return data

    def read(self, size: int = -1, /) -> bytes:
        # Never ask for more than one byte past the limit: that byte proves the overflow.
        remaining = self._limit + 1 - self._read
        size = remaining if size is None or size < 0 else min(size, remaining)
        return self._count(self._stream.read(size)) if size > 0 else b""

    def readline(self, size: int = -1, /) -> bytes:
        remaining = self._limit + 1 - self._read
        size = remaining if size is None or size < 0 else min(size, remaining)
        return self._count(self._stream.readline(size)) if size > 0 else b""


def _refused(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    """In the format of the request's prefix (core/errors.py); JSON elsewhere."""
    return error_response(request, status, detail) or JsonResponse(
        {"detail": detail}, status=status
    )


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit with a JSON 413 before anything parses them.

    A declared Content-Length is judged from the header alone. A body without one (chunked
    transfer encoding: the server marks its input `wsgi.input_terminated`, as gunicorn does)
    is read here through a BoundedStream, which gives up one byte past the limit; a body that
    fits is handed on with its now known length, so Django and DRF parse it as usual.
    """

    CHUNK = 64 * 1024

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or ""
        try:
            length = int(declared or 0)
        except ValueError:
            return _refused(request, 400, translation.gettext("Invalid Content-Length header."))
        limit = (
            settings.MAX_UPLOAD_BODY_BYTES
            if request.path.endswith(UPLOAD_PATH_SUFFIXES)
            else settings.MAX_JSON_BODY_BYTES
        )
        if length > limit:
            return _refused(request, 413, RequestBodyTooLarge(limit).detail)
        if not declared and request.META.get("wsgi.input_terminated"):
            try:
                self._buffer_unsized_body(request, limit)
            except RequestBodyTooLarge:
                return _refused(request, 413, RequestBodyTooLarge(limit).detail)
        return self.get_response(request)

    def _buffer_unsized_body(self, request: HttpRequest, limit: int) -> None:
        stream = BoundedStream(request.META["wsgi.input"], limit)
        body = b"".join(iter(lambda: stream.read(self.CHUNK), b""))
        if body:
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))


class AuditlogMiddleware(BaseAuditlogMiddleware):
    """django-auditlog's middleware, recording the address client_ip() resolves.

    The stock one trusts the leftmost X-Forwarded-For entry, which any client can forge
    (and which need not even be an address). The actor of an API request is filled in later
    by the JWT authentication class (core.context.set_actor).

    Reads (GET, HEAD, OPTIONS) change no model, so they write no log entries and skip the
    per-request context set-up.
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in SAFE_METHODS:
            return self.get_response(request)
        return super().__call__(request)

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        if settings.AUDITLOG_DISABLE_REMOTE_ADDR:
            return None
        return context.client_ip(request)

    @staticmethod
    def _get_remote_port(request: HttpRequest) -> int | None:
        # X-Forwarded-Port is as forgeable as X-Forwarded-For; the port is not kept.
        return None
