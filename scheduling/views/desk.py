"""The front desk's reads: one clinic day per doctor (day/) and attendance statistics
(stats/appointments/), DESIGN-R2 §R2-4."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from audit.services import audit_record_patient_views
from core.permissions import ActionPermissionsMixin, IsAdminRole, IsDoctor, IsStaffRole
from core.schema import AutoSchema
from scheduling.day import clinic_day, clinic_today
from scheduling.desk_serializers import (
    DayQueryInputSerializer,
    DaySerializer,
    StatsQueryInputSerializer,
    StatsSerializer,
)
from scheduling.stats import appointment_stats

NOT_YOUR_DOCTOR = gettext_lazy("Doctors see only their own day and statistics.")


def _query(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _doctor_scope(request: Request, named: int | None) -> int | None:
    """Staff and admins: the doctor named, or all; a doctor: themself (naming another, 403)."""
    user = request.user
    if user.role != User.Role.DOCTOR:
        return named
    if named is not None and named != user.pk:
        raise exceptions.PermissionDenied(NOT_YOUR_DOCTOR)
    return user.pk


class ReportSchema(AutoSchema):
    """One object per request (not a page), though the route is a viewset's `list`."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class DayViewSet(ActionPermissionsMixin, viewsets.ViewSet):
    """One clinic day: each doctor's free blocks and appointments, with arrival and waits."""

    schema = ReportSchema()

    permission_classes_by_action = {"list": IsDoctor | IsStaffRole | IsAdminRole}

    @extend_schema(
        parameters=[DayQueryInputSerializer],
        responses={200: DaySerializer},
        description="One day in TIME_ZONE (default today). Staff and admins see every doctor "
        "(or `doctor`), a doctor their own (naming another is 403), patients 403. Cancelled "
        "appointments are left out; a free block has no appointment but cancelled ones. "
        "Records one patient_record.viewed per patient shown.",
    )
    def list(self, request: Request) -> Response:
        params = _query(DayQueryInputSerializer, request)
        doctor_id = _doctor_scope(request, params.get("doctor"))
        doctor = None
        if doctor_id is not None:
            doctor = (
                request.user
                if request.user.role == User.Role.DOCTOR
                else User.objects.filter(pk=doctor_id, role=User.Role.DOCTOR).first()
            )
            if doctor is None:
                raise exceptions.ValidationError({"doctor": ["Unknown doctor."]})
        day = clinic_day(
            day=params.get("date") or clinic_today(),
            doctor=doctor,
            visit_type=params.get("visit_type"),
        )
        audit_record_patient_views(patient_ids=day.patient_ids)
        return Response(DaySerializer(_day_body(day)).data)


def _day_body(day) -> dict:
    return {
        "date": day.date,
        "timezone": day.timezone,
        "doctors": [
            {
                "doctor": doctor.doctor_id,
                "free_blocks": [
                    {"id": b.pk, "start": b.start, "end": b.end, "visit_type": b.visit_type_id}
                    for b in doctor.free_blocks
                ],
                "appointments": [
                    {
                        "id": v.appointment.pk,
                        "start": v.appointment.start,
                        "end": v.appointment.end,
                        "status": v.appointment.status,
                        "visit_type": v.appointment.visit_type_id,
                        "patient": v.appointment.patient_id,
                        "patient_name": v.appointment.patient.get_full_name(),
                        "arrived_at": v.appointment.arrived_at,
                        "seen_at": v.appointment.seen_at,
                        "late_minutes": v.late_minutes,
                        "waiting_minutes": v.waiting_minutes,
                    }
                    for v in doctor.visits
                ],
            }
            for doctor in day.doctors
        ],
    }


class AppointmentStatsViewSet(ActionPermissionsMixin, viewsets.ViewSet):
    """Attendance statistics of appointments that have started, per group."""

    schema = ReportSchema()

    permission_classes_by_action = {"list": IsDoctor | IsStaffRole | IsAdminRole}

    @extend_schema(
        parameters=[
            StatsQueryInputSerializer,
            OpenApiParameter("from", str, description="A date (TIME_ZONE) or an offset datetime."),
        ],
        responses={200: StatsSerializer},
        description="Appointments starting in [from, to) and before now, grouped. "
        "no_show_rate = no_show / (completed + arrived + no_show); late_cancel_rate = "
        "late_cancelled / total (the patient's own cancels inside CANCELLATION_NOTICE_HOURS); "
        "a rate with a zero denominator is null; 4 decimals. wait = seen_at - max(arrived_at, "
        "start), the median in minutes. At most 366 days. Staff and admins: every doctor (or "
        "`doctor`); a doctor their own; patients 403.",
    )
    def list(self, request: Request) -> Response:
        params = _query(StatsQueryInputSerializer, request)
        doctor_id = _doctor_scope(request, params.get("doctor"))
        now = timezone.now()
        groups = appointment_stats(
            start=params["from"],
            end=params["to"],
            group_by=params["group_by"],
            doctor_id=doctor_id,
            now=now,
        )
        body = {
            "from": params["from"],
            "to": min(params["to"], max(now, params["from"])),
            "group_by": params["group_by"],
            "groups": groups,
        }
        return Response(StatsSerializer(body).data)
