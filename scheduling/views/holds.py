"""Slot holds: a patient keeps a block for a few minutes while deciding (docs/api-rules.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.filters import ID_REGEX
from core.idempotency import idempotent
from core.models import IdempotencyRecord
from core.permissions import ActionPermissionsMixin, IsAdminRole, IsPatient, IsStaffRole
from core.roles import CLINIC_ROLES
from core.throttles import HoldRateThrottle
from core.validation import valid_input
from scheduling import selectors, services
from scheduling.filters import SlotHoldFilter
from scheduling.serializers import SlotHoldCreateInputSerializer, SlotHoldSerializer


@extend_schema_view(
    create=extend_schema(
        request=SlotHoldCreateInputSerializer, responses={201: SlotHoldSerializer}
    ),
    destroy=extend_schema(responses={204: None}),
)
class SlotHoldViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Patients hold blocks for themselves; staff and admins for a named patient."""

    permission_classes_by_action = {
        "list": IsPatient | IsStaffRole | IsAdminRole,
        "create": IsPatient | IsStaffRole | IsAdminRole,
        "destroy": IsPatient | IsStaffRole | IsAdminRole,
    }
    serializer_class = SlotHoldSerializer
    filterset_class = SlotHoldFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        holds = selectors.slot_hold_list_visible_to(user=self.request.user)
        return selectors.slot_hold_list_recent(holds) if self.action == "list" else holds

    def get_throttles(self):
        return [HoldRateThrottle()] if self.action == "create" else []

    @idempotent(success_status=status.HTTP_201_CREATED)
    def create(self, request: Request) -> Response:
        names_patient = request.user.role in CLINIC_ROLES
        data = valid_input(SlotHoldCreateInputSerializer, request, names_patient=names_patient)
        hold = services.slot_hold_create(
            actor=request.user,
            patient=data["patient"] if names_patient else request.user,
            time_block=data["time_block"],
        )
        return Response(SlotHoldSerializer(hold).data, status=status.HTTP_201_CREATED)

    def idempotency_rebuild(self, request: Request, record: IdempotencyRecord) -> Response:
        """The hold a keyed request created before it died, as it is now."""
        hold = self.get_queryset().get(pk=record.object_id)
        return Response(SlotHoldSerializer(hold).data, status=record.response_status)

    def destroy(self, request: Request, pk: str) -> Response:
        services.slot_hold_release(actor=request.user, hold=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
