"""A doctor's week at a glance in the console (admin/doctors/<id>/week/), linked from the desk
board, the block list and the leave list."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record_patient_views
from scheduling.admin_desk import may_view_desk
from scheduling.week import doctor_week


def week_url(doctor_id: int, day: datetime.date | None = None) -> str:
    url = reverse("admin:doctor_week", args=[doctor_id])
    return f"{url}?week={day.isoformat()}" if day else url


def doctor_links(doctor_id: int) -> list[tuple[str, str]]:
    """The doctor profile list's link to this doctor's week (accounts.hooks)."""
    return [("week", week_url(doctor_id))]


def doctor_week_view(request: HttpRequest, site, doctor_id: int) -> HttpResponse:
    """One doctor's week (Monday to Sunday, TIME_ZONE; `?week=YYYY-MM-DD`, any day of it):
    blocks free, held or booked (with the patient: each one shown is a record read), leaves
    and closures."""
    if not may_view_desk(request.user):
        return HttpResponse(status=403)
    doctor = get_object_or_404(User, pk=doctor_id, role=User.Role.DOCTOR)
    try:
        day = datetime.date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = timezone.localdate()
    week = doctor_week(doctor=doctor, day=day)
    audit_record_patient_views(patient_ids=week.patient_ids, actor=request.user)
    context = {
        **site.each_context(request),
        "title": f"Week of {doctor.get_full_name()}",
        "week": week,
        "previous_url": week_url(doctor.pk, week.previous),
        "next_url": week_url(doctor.pk, week.next),
        "leave_add_url": reverse("admin:scheduling_leave_add"),
    }
    return TemplateResponse(request, "admin/doctor_week.html", context)
