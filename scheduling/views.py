"""Time blocks, availability and appointments: parse, call a service, serialize."""

from __future__ import annotations

from functools import partial

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from accounts.permissions import (
    ActionPermissionsMixin,
    AllowAny,
    IsAdminRole,
    IsAuthenticated,
    IsDoctor,
    IsPatient,
    IsStaffRole,
)
from accounts.selectors import doctor_list_public
from accounts.throttles import BookingRateThrottle
from audit.services import audit_record_patient_views
from medappt.filters import ID_REGEX, parse_window
from medappt.ordering import MappedOrderingFilter
from medappt.response_cache import PAGE_PARAMS, availability_scope, cached_response
from scheduling import selectors, services
from scheduling.filters import AppointmentFilter, TimeBlockFilter
from scheduling.models import Appointment, TimeBlock
from scheduling.serializers import (
    AppointmentCreateInputSerializer,
    AppointmentSerializer,
    AppointmentUpdateInputSerializer,
    AvailabilitySerializer,
    BulkResultSerializer,
    CancelInputSerializer,
    RescheduleInputSerializer,
    TimeBlockBulkInputSerializer,
    TimeBlockCreateInputSerializer,
    TimeBlockSerializer,
    TimeBlockUpdateInputSerializer,
)

STAFF_ROLES = (User.Role.STAFF, User.Role.ADMIN)
WINDOW_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start ≥ this (with offset)."),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="Start < this (with offset)."),
]


def _valid(serializer_class, request: Request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _resolve(model, pk: int, field: str, message: str, queryset=None):
    """An id from the body: unknown is a 400 on that field (the request can never be valid)."""
    obj = (queryset if queryset is not None else model.objects).filter(pk=pk).first()
    if obj is None:
        raise ValidationError({field: [message]})
    return obj


def _doctor_for(request: Request, requested_id: int | None) -> User:
    """A doctor acts for themself; staff and admins name the doctor."""
    if request.user.role == User.Role.DOCTOR:
        return request.user
    if requested_id is None:
        raise ValidationError({"doctor": ["This field is required."]})
    return _resolve(
        User,
        requested_id,
        "doctor",
        "Unknown doctor.",
        User.objects.select_related("doctor_profile"),
    )


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
        data = _valid(TimeBlockCreateInputSerializer, request)
        doctor = _doctor_for(request, data.get("doctor"))
        block = services.time_block_create(
            actor=request.user, doctor=doctor, start=data["start"], end=data["end"]
        )
        return Response(self._reloaded(block), status=status.HTTP_201_CREATED)

    @extend_schema(request=TimeBlockBulkInputSerializer, responses={201: BulkResultSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        data = _valid(TimeBlockBulkInputSerializer, request)
        doctor = _doctor_for(request, data.get("doctor"))
        result = services.time_block_bulk_create(
            actor=request.user,
            doctor=doctor,
            date_from=data["date_from"],
            date_to=data["date_to"],
            weekdays=data["weekdays"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            slot_minutes=data["slot_minutes"],
            timezone_name=data.get("timezone"),
        )
        return Response(BulkResultSerializer(result).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        block = self.get_object()
        data = _valid(TimeBlockUpdateInputSerializer, request, partial=True)
        try:
            block = services.time_block_update(actor=request.user, block=block, **data)
        except TimeBlock.DoesNotExist as error:  # deleted by a concurrent request meanwhile
            raise Http404 from error
        return Response(self._reloaded(block))

    def destroy(self, request: Request, pk: str) -> Response:
        block = self.get_object()
        try:
            services.time_block_delete(actor=request.user, block=block)
        except TimeBlock.DoesNotExist as error:  # deleted by a concurrent request meanwhile
            raise Http404 from error
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=WINDOW_PARAMETERS, responses={200: AvailabilitySerializer(many=True)})
class AvailabilityViewSet(ActionPermissionsMixin, viewsets.GenericViewSet):
    """A public doctor's free blocks that can still be booked, ordered by start."""

    permission_classes_by_action = {"list": AllowAny}
    serializer_class = AvailabilitySerializer
    filter_backends = []

    def get_queryset(self):
        # Only whether the doctor is public: no profile, no rating subqueries.
        doctor_id = get_object_or_404(
            doctor_list_public(ratings=False).values_list("user_id", flat=True),
            user_id=self.kwargs["doctor_id"],
        )
        start, end = parse_window(self.request.query_params)
        return selectors.time_block_list_free(doctor_id=doctor_id, start=start, end=end)

    def list(self, request: Request, doctor_id: str) -> Response:
        # A bad window is a 400 now, even where the same URL was valid moments ago.
        parse_window(request.query_params)
        return cached_response(
            request,
            scopes=[availability_scope(doctor_id)],
            params=("from", "to", *PAGE_PARAMS),
            build=partial(self._page, request),
        )

    def _page(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


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

    def list(self, request: Request) -> Response:
        appointments = selectors.appointment_list_rows(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(appointments)
        audit_record_patient_views(patient_ids=[a.patient_id for a in page])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        audit_record_patient_views(patient_ids=[appointment.patient_id])
        return Response(self.get_serializer(appointment).data)

    def create(self, request: Request) -> Response:
        names_patient = request.user.role in STAFF_ROLES
        data = _valid(AppointmentCreateInputSerializer, request, names_patient=names_patient)
        if names_patient:
            if data.get("patient") is None:
                raise ValidationError({"patient": ["This field is required."]})
            patient = _resolve(User, data["patient"], "patient", "Unknown patient.")
        else:
            patient = request.user
        block = _resolve(TimeBlock, data["time_block"], "time_block", "Unknown time block.")
        appointment = services.appointment_book(
            actor=request.user, patient=patient, time_block=block, reason=data["reason"]
        )
        return self._respond(appointment, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        data = _valid(AppointmentUpdateInputSerializer, request, partial=True)
        appointment = services.appointment_update(
            actor=request.user, appointment=appointment, **data
        )
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        appointment = services.appointment_confirm(
            actor=request.user, appointment=self.get_object()
        )
        return self._respond(appointment)

    @extend_schema(request=CancelInputSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        data = _valid(CancelInputSerializer, request)
        appointment = services.appointment_cancel(
            actor=request.user, appointment=appointment, reason=data["reason"]
        )
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        appointment = services.appointment_complete(
            actor=request.user, appointment=self.get_object()
        )
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request: Request, pk: str) -> Response:
        appointment = services.appointment_no_show(
            actor=request.user, appointment=self.get_object()
        )
        return self._respond(appointment)

    @extend_schema(request=RescheduleInputSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str) -> Response:
        appointment = self.get_object()
        data = _valid(RescheduleInputSerializer, request)
        block = _resolve(TimeBlock, data["time_block"], "time_block", "Unknown time block.")
        appointment = services.appointment_reschedule(
            actor=request.user, appointment=appointment, time_block=block
        )
        return self._respond(appointment)
