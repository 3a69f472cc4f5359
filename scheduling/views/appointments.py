"""Appointments: book, read, edit and move through the lifecycle."""

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
from core.ordering import MappedOrderingFilter
from core.permissions import (
    ActionPermissionsMixin,
    IsAdminRole,
    IsAuthenticated,
    IsDoctor,
    IsPatient,
    IsStaffRole,
)
from core.roles import CLINIC_ROLES
from core.throttles import BookingRateThrottle
from core.validation import valid_input
from scheduling import selectors, services
from scheduling.filters import AppointmentFilter
from scheduling.models import Appointment
from scheduling.serializers import (
    AppointmentCreateInputSerializer,
    AppointmentSerializer,
    AppointmentUpdateInputSerializer,
    CancelInputSerializer,
    RescheduleInputSerializer,
)
from scheduling.views.windows import WINDOW_PARAMETERS


@extend_schema_view(
    list=extend_schema(parameters=WINDOW_PARAMETERS),
    create=extend_schema(
        request=AppointmentCreateInputSerializer, responses={201: AppointmentSerializer}
    ),
    partial_update=extend_schema(
        request=AppointmentUpdateInputSerializer, responses={200: AppointmentSerializer}
    ),
)
class AppointmentViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Patients book and manage their visits; doctors run theirs; staff and admins all."""

    permission_classes_by_action = {
        "list": IsAuthenticated,
        "retrieve": IsAuthenticated,
        "create": IsPatient | IsStaffRole | IsAdminRole,
        "partial_update": IsAuthenticated,
        "confirm": IsDoctor | IsStaffRole | IsAdminRole,
        "cancel": IsAuthenticated,
        "complete": IsDoctor | IsAdminRole,
        "no_show": IsDoctor | IsStaffRole | IsAdminRole,
        "reschedule": IsPatient | IsStaffRole | IsAdminRole,
        "check_in": IsDoctor | IsStaffRole | IsAdminRole,
        "start_visit": IsDoctor | IsAdminRole,
    }
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter
    filter_backends = [*viewsets.GenericViewSet.filter_backends, MappedOrderingFilter]
    ordering_map = {
        "start": ("start", "id"),
        "-start": ("-start", "-id"),
        "created_at": ("created_at", "id"),
    }
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.appointment_list_visible_to(user=self.request.user)

    def get_throttles(self):
        return [BookingRateThrottle()] if self.action == "create" else []

    def _respond(self, appointment: Appointment, code: int = status.HTTP_200_OK) -> Response:
        """The full appointment after a write: a read of the patient's record like any other."""
        fresh = self.get_queryset().get(pk=appointment.pk)
        audit_record_patient_views(patient_ids=[fresh.patient_id])
        return Response(AppointmentSerializer(fresh).data, status=code)

    def _respond_booked(self, appointment: Appointment) -> Response:
        """The appointment a booking just made, without reading it back (issue #25): the
        service's instance is complete (every column, the id and the database defaults come
        back from the INSERT) and carries the locked patient and the doctor with their profile,
        so it renders what a read would. test_booking_perf compares it with a fresh GET."""
        audit_record_patient_views(patient_ids=[appointment.patient_id])
        return Response(AppointmentSerializer(appointment).data, status=status.HTTP_201_CREATED)

    def list(self, request: Request) -> Response:
        appointments = selectors.appointment_list_rows(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(appointments)
        audit_record_patient_views(patient_ids=[a.patient_id for a in page])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        audit_record_patient_views(patient_ids=[appointment.patient_id])
        return Response(self.get_serializer(appointment).data)

    def idempotency_rebuild(self, request: Request, record: IdempotencyRecord) -> Response:
        """The appointment a keyed request changed before it died, as it is now."""
        return self._respond(Appointment(pk=record.object_id), record.response_status)

    @idempotent(success_status=status.HTTP_201_CREATED)
    def create(self, request: Request) -> Response:
        names_patient = request.user.role in CLINIC_ROLES
        data = valid_input(AppointmentCreateInputSerializer, request, names_patient=names_patient)
        appointment = services.appointment_book(
            actor=request.user,
            patient=data["patient"] if names_patient else request.user,
            time_block=data["time_block"],
            reason=data["reason"],
            hold=data.get("hold"),
        )
        return self._respond_booked(appointment)

    def partial_update(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        data = valid_input(AppointmentUpdateInputSerializer, request, partial=True)
        appointment = services.appointment_update(
            actor=request.user, appointment=appointment, **data
        )
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    @idempotent()
    def confirm(self, request: Request, pk: str) -> Response:
        appointment = services.appointment_confirm(
            actor=request.user, appointment=self.get_object()
        )
        return self._respond(appointment)

    @extend_schema(request=CancelInputSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    @idempotent()
    def cancel(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        data = valid_input(
            CancelInputSerializer, request, names_code=request.user.role in CLINIC_ROLES
        )
        appointment = services.appointment_cancel(
            actor=request.user,
            appointment=appointment,
            reason=data["reason"],
            code=data.get("code"),
        )
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    @idempotent()
    def complete(self, request: Request, pk: str) -> Response:
        appointment = services.appointment_complete(
            actor=request.user, appointment=self.get_object()
        )
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="no-show")
    @idempotent()
    def no_show(self, request: Request, pk: str) -> Response:
        appointment = services.appointment_no_show(
            actor=request.user, appointment=self.get_object()
        )
        return self._respond(appointment)

    @extend_schema(request=RescheduleInputSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    @idempotent()
    def reschedule(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        data = valid_input(RescheduleInputSerializer, request)
        appointment = services.appointment_reschedule(
            actor=request.user,
            appointment=appointment,
            time_block=data["time_block"],
            hold=data.get("hold"),
        )
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request: Request, pk: str) -> Response:
        appointment = services.appointment_check_in(
            actor=request.user, appointment=self.get_object()
        )
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="start-visit")
    def start_visit(self, request: Request, pk: str) -> Response:
        appointment = services.appointment_start_visit(
            actor=request.user, appointment=self.get_object()
        )
        return self._respond(appointment)
