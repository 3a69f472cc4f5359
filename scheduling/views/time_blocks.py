"""Time blocks: doctors publish their availability; staff and admins for any doctor."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from core.filters import ID_REGEX
from core.permissions import ActionPermissionsMixin, IsAdminRole, IsDoctor, IsStaffRole
from core.validation import valid_input
from scheduling import selectors, services
from scheduling.filters import TimeBlockFilter
from scheduling.models import TimeBlock
from scheduling.serializers import (
    BulkResultSerializer,
    TimeBlockBulkInputSerializer,
    TimeBlockCreateInputSerializer,
    TimeBlockSerializer,
    TimeBlockUpdateInputSerializer,
)
from scheduling.views.windows import WINDOW_PARAMETERS


def _doctor_for(request: Request, named: User | None) -> User:
    """A doctor acts for themself; staff and admins name the doctor."""
    if request.user.role == User.Role.DOCTOR:
        return request.user
    if named is None:
        raise ValidationError({"doctor": [gettext("This field is required.")]})
    return named


@extend_schema_view(
    list=extend_schema(parameters=WINDOW_PARAMETERS),
    create=extend_schema(
        request=TimeBlockCreateInputSerializer, responses={201: TimeBlockSerializer}
    ),
    partial_update=extend_schema(
        request=TimeBlockUpdateInputSerializer, responses={200: TimeBlockSerializer}
    ),
    destroy=extend_schema(responses={204: None}),
)
class TimeBlockViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Doctors manage their own blocks; staff and admins manage every doctor's."""

    permission_classes_by_action = {
        "list": IsDoctor | IsStaffRole | IsAdminRole,
        "retrieve": IsDoctor | IsStaffRole | IsAdminRole,
        "create": IsDoctor | IsStaffRole | IsAdminRole,
        "bulk": IsDoctor | IsStaffRole | IsAdminRole,
        "partial_update": IsDoctor | IsStaffRole | IsAdminRole,
        "destroy": IsDoctor | IsStaffRole | IsAdminRole,
    }
    serializer_class = TimeBlockSerializer
    filterset_class = TimeBlockFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.time_block_list_visible_to(user=self.request.user)

    def _reloaded(self, block: TimeBlock) -> dict:
        return TimeBlockSerializer(self.get_queryset().get(pk=block.pk)).data

    def create(self, request: Request) -> Response:
        data = valid_input(TimeBlockCreateInputSerializer, request)
        doctor = _doctor_for(request, data.get("doctor"))
        block = services.time_block_create(
            actor=request.user,
            doctor=doctor,
            start=data["start"],
            end=data.get("end"),
            visit_type=data.get("visit_type"),
        )
        return Response(self._reloaded(block), status=status.HTTP_201_CREATED)

    @extend_schema(request=TimeBlockBulkInputSerializer, responses={201: BulkResultSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        data = valid_input(TimeBlockBulkInputSerializer, request)
        doctor = _doctor_for(request, data.get("doctor"))
        result = services.time_block_bulk_create(
            actor=request.user,
            doctor=doctor,
            date_from=data["date_from"],
            date_to=data["date_to"],
            weekdays=data["weekdays"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            slot_minutes=data.get("slot_minutes"),
            timezone_name=data.get("timezone"),
            visit_type=data.get("visit_type"),
        )
        return Response(BulkResultSerializer(result).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        block = self.get_object()
        data = valid_input(TimeBlockUpdateInputSerializer, request, partial=True)
        block = services.time_block_update(actor=request.user, block=block, **data)
        return Response(self._reloaded(block))

    def destroy(self, request: Request, pk: str) -> Response:
        services.time_block_delete(actor=request.user, block=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
