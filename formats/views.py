"""Calendar feeds: the owner's links (calendar-feeds/) and the feed itself (/calendar/)."""

from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import error_response
from core.filters import ID_REGEX
from core.permissions import ActionPermissionsMixin, IsDoctor, IsPatient
from core.throttles import CalendarFeedAddressRateThrottle, CalendarFeedTokenRateThrottle
from core.validation import valid_input
from formats import calendar, selectors, services
from formats.models import CalendarFeedToken
from formats.serializers import (
    CalendarFeedCreatedSerializer,
    CalendarFeedCreateInputSerializer,
    CalendarFeedSerializer,
)

FEED_SUFFIX = ".ics"
FEED_CACHE_CONTROL = "private, max-age=300"


@extend_schema_view(
    create=extend_schema(
        request=CalendarFeedCreateInputSerializer, responses={201: CalendarFeedCreatedSerializer}
    ),
    destroy=extend_schema(responses={204: None}),
)
class CalendarFeedViewSet(ActionPermissionsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Patients and doctors make, list and revoke links to their own appointments as
    iCalendar (docs/api-rules.md)."""

    permission_classes_by_action = {
        "list": IsPatient | IsDoctor,
        "create": IsPatient | IsDoctor,
        "destroy": IsPatient | IsDoctor,
    }
    serializer_class = CalendarFeedSerializer
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return CalendarFeedToken.objects.none()
        return selectors.calendar_feed_list_live(user=self.request.user)

    def create(self, request: Request) -> Response:
        data = valid_input(CalendarFeedCreateInputSerializer, request)
        feed, token = services.calendar_feed_create(actor=request.user, name=data["name"])
        body = CalendarFeedCreatedSerializer(feed, context={"token": token}).data
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        services.calendar_feed_revoke(actor=request.user, feed=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _unlogged(response: HttpResponse) -> HttpResponse:
    # Django's request logger writes the path of every 4xx ("Not Found: /calendar/…"): the
    # path holds the token, and RequestContextMiddleware already logs it redacted.
    response._has_been_logged = True
    return response


def _error(request: HttpRequest, code: int, detail: str) -> HttpResponse:
    return _unlogged(error_response(request, code, detail))


def calendar_feed(request: HttpRequest, name: str) -> HttpResponse:
    """GET /calendar/<token>.ics, no JWT: the owner's appointments as iCalendar. A bad token, a
    revoked one and an inactive owner are one identical 404."""
    if request.method not in ("GET", "HEAD"):
        response = _error(request, 405, gettext("Method not allowed."))
        response["Allow"] = "GET, HEAD"
        return response
    token = name.removesuffix(FEED_SUFFIX) if name.endswith(FEED_SUFFIX) else ""
    request.calendar_token_hash = services.token_hash(token) if token else None
    for throttle in (CalendarFeedAddressRateThrottle(), CalendarFeedTokenRateThrottle()):
        if not throttle.allow_request(request, None):
            response = _error(request, 429, gettext("Too many requests; try again later."))
            response["Retry-After"] = str(math.ceil(throttle.wait()))
            return response
    owner = selectors.calendar_feed_owner(token=token) if token else None
    if owner is None:
        return _error(request, 404, gettext("Not found."))
    start, end = calendar.feed_window(timezone.now())
    appointments = selectors.appointment_list_for_feed(owner=owner, start=start, end=end)
    body = calendar.feed_calendar(owner=owner, appointments=appointments)
    etag = calendar.etag(body)
    # The weak comparison of If-None-Match (RFC 9110): a proxy that compresses weakens the tag.
    offered = request.headers.get("If-None-Match", "").split(",")
    if etag in {tag.strip().removeprefix("W/") for tag in offered}:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = FEED_CACHE_CONTROL
    return response
