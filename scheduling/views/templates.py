"""Standing schedules: availability templates, their preview and exceptions (DESIGN-R2 R2-5).
Doctors manage their own; staff and admins name the doctor."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.filters import ID_REGEX
from core.permissions import ActionPermissionsMixin, IsAdminRole, IsDoctor, IsStaffRole
from core.validation import valid_input
from scheduling import selectors
from scheduling.filters import AvailabilityTemplateFilter
from scheduling.models import AvailabilityException, AvailabilityTemplate
from scheduling.services import templates as template_services
from scheduling.template_serializers import (
    AvailabilityExceptionInputSerializer,
    AvailabilityExceptionSerializer,
    AvailabilityTemplateInputSerializer,
    AvailabilityTemplateSerializer,
    AvailabilityTemplateUpdateInputSerializer,
    TemplatePreviewSerializer,
    TemplateResultSerializer,
)
from scheduling.views.time_blocks import _doctor_for

CLINIC_OR_DOCTOR = IsDoctor | IsStaffRole | IsAdminRole
SPEC_FIELDS = (
    "rrule",
    "valid_from",
    "valid_until",
    "start_time",
    "end_time",
    "slot_minutes",
    "visit_type",
)


def _spec(doctor, data: dict) -> template_services.TemplateSpec:
    return template_services.template_spec(
        doctor=doctor,
        timezone_name=data.get("timezone"),
        **{name: data.get(name) for name in SPEC_FIELDS},
    )


def _result(result: template_services.TemplateResult) -> dict:
    return TemplateResultSerializer(result).data


@extend_schema_view(
    create=extend_schema(
        request=AvailabilityTemplateInputSerializer, responses={201: TemplateResultSerializer}
    ),
    partial_update=extend_schema(
        request=AvailabilityTemplateUpdateInputSerializer,
        responses={200: TemplateResultSerializer},
    ),
    destroy=extend_schema(responses={204: None}),
)
class AvailabilityTemplateViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """A doctor's standing schedules; each write materialises blocks up to the horizon."""

    permission_classes_by_action = {
        "list": CLINIC_OR_DOCTOR,
        "retrieve": CLINIC_OR_DOCTOR,
        "create": CLINIC_OR_DOCTOR,
        "preview": CLINIC_OR_DOCTOR,
        "partial_update": CLINIC_OR_DOCTOR,
        "destroy": CLINIC_OR_DOCTOR,
    }
    serializer_class = AvailabilityTemplateSerializer
    filterset_class = AvailabilityTemplateFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.availability_template_list_visible_to(user=self.request.user)

    def create(self, request: Request) -> Response:
        data = valid_input(AvailabilityTemplateInputSerializer, request)
        spec = _spec(_doctor_for(request, data.get("doctor")), data)
        result = template_services.availability_template_create(actor=request.user, spec=spec)
        return Response(_result(result), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=AvailabilityTemplateInputSerializer,
        responses={200: TemplatePreviewSerializer},
        description="The blocks a template of this body would create now (nothing is saved).",
    )
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        data = valid_input(AvailabilityTemplateInputSerializer, request)
        spec = _spec(_doctor_for(request, data.get("doctor")), data)
        slots = template_services.availability_template_preview(spec)
        body = {"count": len(slots), "slots": [{"start": s, "end": e} for s, e in slots]}
        return Response(TemplatePreviewSerializer(body).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        template = self.get_object()
        data = valid_input(AvailabilityTemplateUpdateInputSerializer, request, partial=True)
        merged = {
            "timezone": template.timezone,
            **{name: getattr(template, name) for name in SPEC_FIELDS},
            **data,
        }
        if "visit_type" in data and "slot_minutes" not in data:
            merged["slot_minutes"] = None  # a new type brings its own duration
        spec = _spec(template.doctor, merged)
        result = template_services.availability_template_update(
            actor=request.user,
            template=template,
            spec=spec,
            active=data.get("active", template.active),
        )
        return Response(_result(result))

    def destroy(self, request: Request, pk: str) -> Response:
        template_services.availability_template_delete(
            actor=request.user, template=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    create=extend_schema(
        request=AvailabilityExceptionInputSerializer,
        responses={201: AvailabilityExceptionSerializer},
    ),
    destroy=extend_schema(responses={204: None}),
)
class AvailabilityExceptionViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """The closed days and custom hours of one template."""

    permission_classes_by_action = {
        "list": CLINIC_OR_DOCTOR,
        "create": CLINIC_OR_DOCTOR,
        "destroy": CLINIC_OR_DOCTOR,
    }
    serializer_class = AvailabilityExceptionSerializer
    filter_backends = []
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "delete", "head", "options"]

    def _template(self) -> AvailabilityTemplate:
        templates = selectors.availability_template_list_visible_to(user=self.request.user)
        return get_object_or_404(templates, pk=self.kwargs["template_id"])

    def get_queryset(self):
        return AvailabilityException.objects.filter(template=self._template()).order_by(
            "date", "id"
        )

    def create(self, request: Request, template_id: str) -> Response:
        template = self._template()
        data = valid_input(AvailabilityExceptionInputSerializer, request)
        exception, _ = template_services.availability_exception_create(
            actor=request.user,
            template=template,
            date=data["date"],
            kind=data["kind"],
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
        )
        return Response(
            AvailabilityExceptionSerializer(exception).data, status=status.HTTP_201_CREATED
        )

    def destroy(self, request: Request, template_id: str, pk: str) -> Response:
        exception = get_object_or_404(self.get_queryset(), pk=pk)
        template_services.availability_exception_delete(actor=request.user, exception=exception)
        return Response(status=status.HTTP_204_NO_CONTENT)
