"""Leave in the staff console: adding through the service after its preview, closures for
admins only, cancel and resolve actions, and a doctor's week at a glance (DESIGN-R2 §R2-5)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.groups import FRONT_DESK_GROUP
from scheduling.models import Appointment, Leave, SlotHold, TimeBlock
from tests.scheduling.appointment_helpers import audit_rows
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    PatientFactory,
    TimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)
ADD = "admin:scheduling_leave_add"
LIST = "admin:scheduling_leave_changelist"


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def desk(staff):
    staff.groups.add(Group.objects.get(name=FRONT_DESK_GROUP))
    return console(staff)


def form(start, end, doctor=None, category="vacation", confirm=False) -> dict:
    local_start, local_end = timezone.localtime(start), timezone.localtime(end)
    data = {
        "doctor": doctor.pk if doctor else "",
        "start_0": local_start.strftime("%Y-%m-%d"),
        "start_1": local_start.strftime("%H:%M:%S"),
        "end_0": local_end.strftime("%Y-%m-%d"),
        "end_1": local_end.strftime("%H:%M:%S"),
        "category": category,
        "note": "",
    }
    if confirm:
        data["confirm"] = "on"
    return data


def test_the_desk_sees_the_preview_then_confirms_and_the_service_creates_the_leave(desk, doctor):
    base = in_days(5, hour=9)
    free = TimeBlockFactory(doctor=doctor, start=base)
    patient = PatientFactory(first_name="Ines", last_name="Kept")
    booked = ConfirmedAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=base + HOUR), patient=patient
    )

    first = desk.post(reverse(ADD), form(base, base + 3 * HOUR, doctor))

    assert first.status_code == 200
    page = first.content.decode()
    assert "1 free block(s) will be withdrawn" in page
    assert "Ines Kept" in page
    assert Leave.objects.count() == 0
    assert audit_rows("patient_record.viewed", target_id=str(patient.pk))

    second = desk.post(reverse(ADD), form(base, base + 3 * HOUR, doctor, confirm=True))

    assert second.status_code == 302, second.content
    leave = Leave.objects.get()
    assert leave.doctor == doctor
    assert TimeBlock.objects.get(pk=free.pk).withdrawn_at is not None
    assert Appointment.objects.get(pk=booked.pk).status == "confirmed"
    assert audit_rows("leave.created", target_id=str(leave.pk))


def test_closures_are_for_admins_only(desk, clinic_admin):
    TimeBlockFactory(start=in_days(6, hour=10))
    base = in_days(6, hour=8)

    refused = desk.post(reverse(ADD), form(base, base + 8 * HOUR, category="holiday", confirm=True))
    assert refused.status_code == 200
    assert "Only admins manage clinic closures." in refused.content.decode()
    assert Leave.objects.count() == 0

    admin = console(clinic_admin)
    done = admin.post(reverse(ADD), form(base, base + 8 * HOUR, category="holiday", confirm=True))
    assert done.status_code == 302, done.content
    assert Leave.objects.get().doctor is None


def test_actions_resolve_and_cancel_through_the_services(desk, doctor):
    base = in_days(4, hour=9)
    booked = ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=base))
    leave = Leave.objects.create(doctor=doctor, start=base, end=base + HOUR, category="sick")

    resolved = desk.post(
        reverse(LIST), {"action": "resolve_cancel", "_selected_action": [leave.pk]}, follow=True
    )
    assert "1 cancelled, 0 rescheduled, 0 unresolved" in resolved.content.decode()
    booked.refresh_from_db()
    assert (booked.status, booked.cancellation_code) == ("cancelled", "leave")

    desk.post(reverse(LIST), {"action": "cancel_leaves", "_selected_action": [leave.pk]})
    leave.refresh_from_db()
    assert leave.cancelled_at is not None
    assert audit_rows("leave.cancelled")


def test_a_doctors_week_shows_blocks_leaves_and_patients_and_records_the_reads(desk, doctor):
    monday = timezone.localdate() + datetime.timedelta(days=7)
    monday -= datetime.timedelta(days=monday.weekday())
    zone = timezone.get_default_timezone()
    at = datetime.datetime.combine(monday, datetime.time(9), tzinfo=zone)
    free = TimeBlockFactory(doctor=doctor, start=at)
    patient = PatientFactory(first_name="Olga", last_name="Week")
    booked = ConfirmedAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=at + HOUR), patient=patient
    )
    held = TimeBlockFactory(doctor=doctor, start=at + 2 * HOUR)
    SlotHold.objects.create(
        time_block=held, doctor=doctor, patient=PatientFactory(), expires_at=timezone.now() + HOUR
    )
    Leave.objects.create(
        doctor=doctor,
        start=at + datetime.timedelta(days=2),
        end=at + datetime.timedelta(days=3),
        category="training",
    )
    url = reverse("admin:doctor_week", args=[doctor.pk])

    response = desk.get(url, {"week": (monday + datetime.timedelta(days=3)).isoformat()})

    assert response.status_code == 200
    week = response.context["week"]
    assert week.monday == monday
    states = {item.block.pk: item.state for day in week.days for item in day.blocks}
    assert states == {free.pk: "free", booked.time_block_id: "booked", held.pk: "held"}
    page = response.content.decode()
    assert "Olga Week" in page
    assert "On leave" in page
    assert f"?week={(monday - datetime.timedelta(days=7)).isoformat()}" in page
    assert f"?week={(monday + datetime.timedelta(days=7)).isoformat()}" in page
    assert audit_rows("patient_record.viewed", target_id=str(patient.pk))
    assert console(PatientFactory()).get(url).status_code == 302  # not a console user


def test_the_doctor_profile_list_links_to_each_doctors_week(clinic_admin, doctor):
    response = console(clinic_admin).get(reverse("admin:accounts_doctorprofile_changelist"))

    assert response.status_code == 200
    assert f'href="{reverse("admin:doctor_week", args=[doctor.pk])}"' in response.content.decode()
