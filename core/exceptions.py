"""Domain errors and the one exception handler that maps them onto the API contract.

Services raise `Conflict(code, detail)` or Django's `ValidationError`; they never import
DRF. The handler turns them into 409 `{"detail", "code"}` and 400 field errors, and makes
every other error a JSON body (docs/api-rules.md).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext, gettext_lazy
from django.views import csrf as csrf_views
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import error_response

# 409 codes (docs/api-rules.md). Tests import these.
SLOT_TAKEN = "slot_taken"
BLOCK_IN_PAST = "block_in_past"
BLOCK_TOO_SOON = "block_too_soon"
BLOCK_WITHDRAWN = "block_withdrawn"
PATIENT_OVERLAP = "patient_overlap"
TOO_MANY_ACTIVE = "too_many_active"
BLOCK_OVERLAP = "block_overlap"
ILLEGAL_TRANSITION = "illegal_transition"
CANCELLATION_TOO_LATE = "cancellation_too_late"
NOT_STARTED = "not_started"
BLOCK_HAS_APPOINTMENT = "block_has_appointment"
DOCTOR_UNAVAILABLE = "doctor_unavailable"
ALREADY_DOCTOR = "already_doctor"
NOT_A_PATIENT = "not_a_patient"
ALREADY_SUSPENDED = "already_suspended"
NOT_SUSPENDED = "not_suspended"
CANNOT_TARGET_SELF = "cannot_target_self"
NOT_COMPLETED = "not_completed"
ALREADY_REVIEWED = "already_reviewed"
OWN_REVIEW = "own_review"
REVIEW_LOCKED = "review_locked"
# Round 2 (docs/api-rules.md): holds, idempotency, waitlist, check-in, leave, feeds.
SLOT_HELD = "slot_held"
HOLD_EXPIRED = "hold_expired"
HOLD_LIMIT = "hold_limit"
IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
WAITLIST_DUPLICATE = "waitlist_duplicate"
WAITLIST_LIMIT = "waitlist_limit"
OFFER_EXPIRED = "offer_expired"
OFFER_TAKEN = "offer_taken"
CHECKIN_NOT_OPEN = "checkin_not_open"
DOCTOR_ON_LEAVE = "doctor_on_leave"
LEAVE_OVERLAP = "leave_overlap"
FEED_LIMIT = "feed_limit"
# 422: the same Idempotency-Key sent again with another request.
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
ILLEGAL_ROLE_CHANGE = "illegal_role_change"

# Every code a 409 may carry: the OpenAPI Conflict schema enumerates exactly these.
CONFLICT_CODES = (
    SLOT_TAKEN,
    BLOCK_IN_PAST,
    BLOCK_TOO_SOON,
    BLOCK_WITHDRAWN,
    PATIENT_OVERLAP,
    TOO_MANY_ACTIVE,
    BLOCK_OVERLAP,
    ILLEGAL_TRANSITION,
    CANCELLATION_TOO_LATE,
    NOT_STARTED,
    BLOCK_HAS_APPOINTMENT,
    DOCTOR_UNAVAILABLE,
    ALREADY_DOCTOR,
    NOT_A_PATIENT,
    ALREADY_SUSPENDED,
    NOT_SUSPENDED,
    CANNOT_TARGET_SELF,
    NOT_COMPLETED,
    ALREADY_REVIEWED,
    OWN_REVIEW,
    REVIEW_LOCKED,
    SLOT_HELD,
    HOLD_EXPIRED,
    HOLD_LIMIT,
    IDEMPOTENCY_IN_PROGRESS,
    WAITLIST_DUPLICATE,
    WAITLIST_LIMIT,
    OFFER_EXPIRED,
    OFFER_TAKEN,
    CHECKIN_NOT_OPEN,
    DOCTOR_ON_LEAVE,
    LEAVE_OVERLAP,
    FEED_LIMIT,
    ILLEGAL_ROLE_CHANGE,
)


class Conflict(Exception):
    """The request conflicts with the current state or a rule about the caller (409).

    `detail` is for people, so it goes through gettext; `code` is for programs and never does.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Unprocessable(Exception):
    """A well-formed request that cannot be processed as sent (422 `{"detail", "code"}`)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class RequestBodyTooLarge(Exception):
    """The request body is longer than the endpoint accepts (413)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.detail = gettext("Request body too large: at most %(limit)d bytes.") % {"limit": limit}
        super().__init__(self.detail)


class Unauthenticated(Exception):
    """Credentials or a token were refused (401). The message never says which part failed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


NOT_AUTHENTICATED = gettext_lazy("Authentication credentials were not provided or are invalid.")
NOT_FOUND = gettext_lazy("Not found.")


def _validation_error_body(error: DjangoValidationError) -> Any:
    if hasattr(error, "error_dict"):
        return {
            field if field != "__all__" else "non_field_errors": list(messages)
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": error.messages}


def _detail_text(detail: Any) -> str:
    """The one message of an error detail; simplejwt's is a dict with code and messages."""
    if isinstance(detail, dict):
        detail = detail.get("detail", "")
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail) or str(NOT_AUTHENTICATED)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Map domain and framework errors onto the JSON error contract."""
    if isinstance(exc, Conflict):
        response = Response(
            {"detail": exc.detail, "code": exc.code}, status=status.HTTP_409_CONFLICT
        )
        if exc.code == IDEMPOTENCY_IN_PROGRESS:
            response["Retry-After"] = "1"  # the first request with the key is still running
        return response
    if isinstance(exc, Unprocessable):
        return Response(
            {"detail": exc.detail, "code": exc.code}, status=status.HTTP_422_UNPROCESSABLE_ENTITY
        )
    if isinstance(exc, Unauthenticated):
        response = drf_exception_handler(exceptions.AuthenticationFailed(exc.detail), context)
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if isinstance(exc, DjangoValidationError):
        return Response(_validation_error_body(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestBodyTooLarge):
        return Response({"detail": exc.detail}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # ObjectDoesNotExist: a row the view had found was deleted by a concurrent request
        # before the service locked it; for the caller it no longer exists.
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        # Every 401 is exactly {"detail": "..."}: simplejwt's token errors also carry `code`
        # and `messages` (which token class refused it and why), which clients need not see.
        response.data = {"detail": _detail_text(getattr(exc, "detail", ""))}
    return response


@csrf_exempt  # it changes nothing; a CSRF refusal would be an HTML 403 instead of this 404
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """JSON 404 for any path under /api/ that no route matches."""
    return JsonResponse({"detail": NOT_FOUND}, status=404)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400 (a bad Host header, an unreadable body): by prefix (core/errors.py)."""
    response = error_response(request, 400, gettext("Bad request."))
    return response or defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: by prefix (core/errors.py), else Django's page."""
    response = error_response(request, 403, gettext("You do not have permission to do this."))
    return response or defaults.permission_denied(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: by prefix (the portal's page says what to do), else Django's page."""
    response = error_response(
        request,
        403,
        gettext(
            "This form was not sent from this site's page, or it expired. Reload the page "
            "and try again."
        ),
    )
    return response or csrf_views.csrf_failure(request, reason)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: by prefix (core/errors.py), else Django's page."""
    response = error_response(request, 404, gettext("Not found."))
    return response or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: by prefix (core/errors.py), never a traceback; else Django's page.

    The exception itself is logged (django.request, with its traceback) for operators; the
    client gets only the request id (X-Request-ID) to quote.
    """
    response = error_response(request, 500, gettext("Server error. Quote the X-Request-ID header."))
    return response or defaults.server_error(request)
