"""The waitlist: patients wait for a doctor's or a specialty's blocks to free up
(docs/api-rules.md, waitlist)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import audit_record_patient_views
from core.filters import ID_REGEX
from core.idempotency import idempotent
from core.models import IdempotencyRecord
from core.permissions import ActionPermissionsMixin, IsAdminRole, IsPatient, IsStaffRole
from core.roles import CLINIC_ROLES
from core.validation import valid_input
from scheduling import selectors, services
from scheduling.filters import WaitlistEntryFilter, WaitlistOfferFilter
from scheduling.serializers import AppointmentSerializer
from scheduling.waitlist_serializers import (
    WaitlistEntryCreateInputSerializer,
    WaitlistEntrySerializer,
    WaitlistOfferSerializer,
)


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
        names_patient = request.user.role in CLINIC_ROLES
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
            visit_type=data.get("visit_type"),
        )
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        services.waitlist_entry_cancel(actor=request.user, entry=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    accept=extend_schema(request=None, responses={201: AppointmentSerializer}),
    decline=extend_schema(request=None, responses={200: WaitlistOfferSerializer}),
)
class WaitlistOfferViewSet(ActionPermissionsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A patient's offers of freed blocks: accept (books it) or decline; staff and admins
    read every offer (filter a block's with `time_block`)."""

    permission_classes_by_action = {
        "list": IsPatient | IsStaffRole | IsAdminRole,
        "accept": IsPatient,
        "decline": IsPatient,
    }
    serializer_class = WaitlistOfferSerializer
    filterset_class = WaitlistOfferFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.waitlist_offer_list_visible_to(user=self.request.user)

    def _appointment(self, appointment_id: int, code: int) -> Response:
        fresh = selectors.appointment_list_visible_to(user=self.request.user).get(pk=appointment_id)
        audit_record_patient_views(patient_ids=[fresh.patient_id])
        return Response(AppointmentSerializer(fresh).data, status=code)

    def idempotency_rebuild(self, request: Request, record: IdempotencyRecord) -> Response:
        """What a keyed accept or decline did before it died, as it is now."""
        if record.object_model == "scheduling.appointment":
            return self._appointment(record.object_id, record.response_status)
        offer = self.get_queryset().get(pk=record.object_id)
        return Response(WaitlistOfferSerializer(offer).data, status=record.response_status)

    @action(detail=True, methods=["post"])
    @idempotent(success_status=status.HTTP_201_CREATED)
    def accept(self, request: Request, pk: str) -> Response:
        appointment = services.waitlist_offer_accept(actor=request.user, offer=self.get_object())
        return self._appointment(appointment.pk, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    @idempotent()
    def decline(self, request: Request, pk: str) -> Response:
        offer = services.waitlist_offer_decline(actor=request.user, offer=self.get_object())
        offer = self.get_queryset().get(pk=offer.pk)
        return Response(WaitlistOfferSerializer(offer).data)
