"""The waitlist: patients wait for a doctor's or a specialty's blocks to free up
(docs/api-rules.md, waitlist)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from core.filters import ID_REGEX
from core.permissions import ActionPermissionsMixin, IsAdminRole, IsPatient, IsStaffRole
from core.validation import valid_input
from scheduling import selectors, services
from scheduling.filters import WaitlistEntryFilter
from scheduling.waitlist_serializers import (
    WaitlistEntryCreateInputSerializer,
    WaitlistEntrySerializer,
)

STAFF_ROLES = (User.Role.STAFF, User.Role.ADMIN)


@extend_schema_view(
    create=extend_schema(
        request=WaitlistEntryCreateInputSerializer, responses={201: WaitlistEntrySerializer}
    ),
    destroy=extend_schema(responses={204: None}),
)
class WaitlistEntryViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Patients put themselves on the waitlist; staff and admins a named patient."""

    permission_classes_by_action = {
        "list": IsPatient | IsStaffRole | IsAdminRole,
        "retrieve": IsPatient | IsStaffRole | IsAdminRole,
        "create": IsPatient | IsStaffRole | IsAdminRole,
        "destroy": IsPatient | IsStaffRole | IsAdminRole,
    }
    serializer_class = WaitlistEntrySerializer
    filterset_class = WaitlistEntryFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.waitlist_entry_list_visible_to(user=self.request.user)

    def create(self, request: Request) -> Response:
        names_patient = request.user.role in STAFF_ROLES
        data = valid_input(WaitlistEntryCreateInputSerializer, request, names_patient=names_patient)
        entry = services.waitlist_entry_create(
            actor=request.user,
            patient=data["patient"] if names_patient else request.user,
            doctor=data.get("doctor"),
            specialty=data.get("specialty", ""),
            date_from=data["date_from"],
            date_to=data["date_to"],
            weekdays=data.get("weekdays") or [],
            time_from=data.get("time_from"),
            time_to=data.get("time_to"),
        )
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        services.waitlist_entry_cancel(actor=request.user, entry=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
