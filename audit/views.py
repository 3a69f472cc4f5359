"""The admin-only audit API: events, their CSV export, and the field history."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from audit import selectors
from audit.filters import AuditEventFilter, FieldChangeFilter
from audit.models import AuditEvent
from audit.serializers import (
    EVENT_FIELDS,
    AccessLogEntrySerializer,
    AuditEventSerializer,
    FieldChangeSerializer,
)
from audit.services import audit_record, audit_record_patient_views
from core.docs import JSONErrorsMixin
from core.permissions import ActionPermissionsMixin, IsAdminRole, IsPatient

WINDOW_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="at ≥ this (with offset)."),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="at < this (with offset)."),
]
# Spreadsheets run cells starting with these as formulas (CSV injection), and many skip
# leading whitespace (spaces, newlines, Unicode spaces) before deciding.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class CSVRenderer(BaseRenderer):
    """Lets `Accept: text/csv` negotiate; errors on that route still render as JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return JSONRenderer().render(data)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    risky = text.startswith(FORMULA_PREFIXES) or text.lstrip().startswith(FORMULA_PREFIXES)
    return "'" + text if risky else text


def _csv_rows(events) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EVENT_FIELDS)
    for event in events.iterator(chunk_size=2000):
        row = AuditEventSerializer(event).data
        row["data"] = json.dumps(row["data"], sort_keys=True, ensure_ascii=False)
        yield writer.writerow([_cell(row[name]) for name in EVENT_FIELDS])


@extend_schema(parameters=WINDOW_PARAMETERS)
class AuditEventViewSet(
    JSONErrorsMixin, ActionPermissionsMixin, mixins.ListModelMixin, viewsets.GenericViewSet
):
    """Every audit event, newest first; admins only."""

    permission_classes_by_action = {"list": IsAdminRole, "export": IsAdminRole}
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    queryset = AuditEvent.objects.order_by("-id")

    @extend_schema(
        parameters=WINDOW_PARAMETERS,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        renderer_classes=[JSONRenderer, CSVRenderer],
    )
    def export(self, request: Request) -> StreamingHttpResponse:
        missing = [key for key in ("from", "to") if not request.query_params.get(key)]
        if missing:
            raise ValidationError(
                {key: [gettext("This parameter is required.")] for key in missing}
            )
        events = self.filter_queryset(self.get_queryset())
        filters = {
            key: request.query_params[key]
            for key in ("actor", "action", "target_type", "target_id", "from", "to")
            if key in request.query_params
        }
        audit_record(action="audit.exported", actor=request.user, data={"filters": filters})
        response = StreamingHttpResponse(_csv_rows(events), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        return response


class FieldChangeViewSet(ActionPermissionsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """django-auditlog's field-level history, newest first; admins only."""

    permission_classes_by_action = {"list": IsAdminRole}
    serializer_class = FieldChangeSerializer
    filterset_class = FieldChangeFilter
    queryset = LogEntry.objects.none()  # for the schema; get_queryset() serves

    def get_queryset(self):
        return selectors.field_history_list()

    def list(self, request: Request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # The history of a patient's row is their record: its reads are audited like the API's.
        audit_record_patient_views(patient_ids=[entry.patient_id for entry in page])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class AccessLogViewSet(ActionPermissionsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A patient's report of who viewed their records, newest first."""

    permission_classes_by_action = {"list": IsPatient}
    serializer_class = AccessLogEntrySerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.access_log_for_patient(patient_id=self.request.user.pk)

    def list(self, request: Request):
        page = self.paginate_queryset(self.get_queryset())
        names = selectors.actor_names(events=page)
        serializer = self.get_serializer(page, many=True, context={"actor_names": names})
        return self.get_paginated_response(serializer.data)
