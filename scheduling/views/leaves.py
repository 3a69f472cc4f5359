"""Leave and clinic closures: doctors their own; staff and admins any doctor's; admins the
clinic's closures (docs/api-rules.md, leave)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from audit.services import audit_record_patient_views
from core.filters import ID_REGEX
from core.permissions import ActionPermissionsMixin, IsAdminRole, IsDoctor, IsStaffRole
from core.validation import valid_input
from scheduling import selectors, services
from scheduling.filters import LeaveFilter
from scheduling.leave_serializers import (
    LeaveCreatedSerializer,
    LeaveCreateInputSerializer,
    LeavePreviewInputSerializer,
    LeavePreviewSerializer,
    LeaveResolutionSerializer,
    LeaveResolveInputSerializer,
    LeaveSerializer,
)

LEAVE_LIST_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="Ends after this (with offset)."),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="Starts before this (with offset)."),
]
ANY_CLINICIAN = IsDoctor | IsStaffRole | IsAdminRole


def _leave_doctor(request: Request, data: dict) -> User | None:
    """A doctor's leave is their own (naming anyone else, or a closure, is 403); staff and
    admins name the doctor, an admin's explicit null being a closure."""
    user = request.user
    if user.role == User.Role.DOCTOR:
        if "doctor" in data and (data["doctor"] is None or data["doctor"].pk != user.pk):
            raise PermissionDenied(gettext("Doctors manage only their own leave."))
        return user
    if "doctor" not in data:
        raise ValidationError({"doctor": [gettext("This field is required.")]})
    return data["doctor"]


def _patients_viewed(appointments) -> None:
    audit_record_patient_views(patient_ids=[a.patient_id for a in appointments])


@extend_schema_view(
    list=extend_schema(parameters=LEAVE_LIST_PARAMETERS),
    create=extend_schema(
        request=LeaveCreateInputSerializer, responses={201: LeaveCreatedSerializer}
    ),
    destroy=extend_schema(responses={204: None}),
)
class LeaveViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """A doctor's leave and the clinic's closures: preview, create, cancel (DELETE), resolve
    the visits a leave kept."""

    permission_classes_by_action = {
        "list": ANY_CLINICIAN,
        "retrieve": ANY_CLINICIAN,
        "preview": ANY_CLINICIAN,
        "create": ANY_CLINICIAN,
        "destroy": ANY_CLINICIAN,
        "resolve": ANY_CLINICIAN,
    }
    serializer_class = LeaveSerializer
    filterset_class = LeaveFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.leave_list_visible_to(user=self.request.user)

    @extend_schema(request=LeavePreviewInputSerializer, responses={200: LeavePreviewSerializer})
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        data = valid_input(LeavePreviewInputSerializer, request)
        preview = services.leave_preview(
            actor=request.user,
            doctor=_leave_doctor(request, data),
            start=data["start"],
            end=data["end"],
            category=data["category"],
        )
        _patients_viewed(preview.affected_appointments)
        return Response(LeavePreviewSerializer(preview).data)

    def create(self, request: Request) -> Response:
        data = valid_input(LeaveCreateInputSerializer, request)
        created = services.leave_create(
            actor=request.user,
            doctor=_leave_doctor(request, data),
            start=data["start"],
            end=data["end"],
            category=data["category"],
            note=data.get("note", ""),
        )
        _patients_viewed(created.affected_appointments)
        return Response(LeaveCreatedSerializer(created).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        services.leave_cancel(actor=request.user, leave=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=LeaveResolveInputSerializer, responses={200: LeaveResolutionSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        leave = self.get_object()
        data = valid_input(LeaveResolveInputSerializer, request)
        result = services.leave_resolve(actor=request.user, leave=leave, action=data["action"])
        _patients_viewed(
            [*result.cancelled, *result.rescheduled, *(u.appointment for u in result.unresolved)]
        )
        return Response(LeaveResolutionSerializer(result).data)
