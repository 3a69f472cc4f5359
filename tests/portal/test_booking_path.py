"""Find → doctor's week → hold → confirm → my appointments → cancel or reschedule, through
the portal's pages with Django's test client (no JavaScript)."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import Appointment, SlotHold
from scheduling.services import slot_hold_create
from tests.support.factories import (
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db


def monday_of(moment: datetime.datetime) -> str:
    day = timezone.localtime(moment).date()
    return (day - datetime.timedelta(days=day.weekday())).isoformat()


def test_search_finds_doctors_by_specialty_and_name(web, cardiologist):
    DoctorFactory(first_name="Ada", last_name="Byron", profile__specialties=["Dermatology"])
    page = web.get("/portal/doctors/", {"specialty": "cardiology"})
    assert page.status_code == 200
    assert b"Grace Hopper" in page.content
    assert b"Ada Byron" not in page.content
    page = web.get("/portal/doctors/", {"q": "byron"})
    assert b"Ada Byron" in page.content
    assert b"Grace Hopper" not in page.content


def test_doctor_page_shows_free_slots_and_hides_held_and_booked_ones(web, cardiologist):
    free = TimeBlockFactory(doctor=cardiologist)
    held = TimeBlockFactory(doctor=cardiologist, start=free.start + datetime.timedelta(hours=1))
    booked = TimeBlockFactory(doctor=cardiologist, start=free.start + datetime.timedelta(hours=2))
    someone = PatientFactory()
    slot_hold_create(actor=someone, patient=someone, time_block=held)
    PendingAppointmentFactory(time_block=booked, patient=PatientFactory())
    page = web.get(f"/portal/doctors/{cardiologist.pk}/", {"week": monday_of(free.start)})
    assert page.status_code == 200
    html = page.content.decode()
    assert f'name="time_block" value="{free.pk}"' in html
    assert f'name="time_block" value="{held.pk}"' not in html
    assert f'name="time_block" value="{booked.pk}"' not in html


def test_hold_then_confirm_books_a_pending_appointment(patient, patient_web, cardiologist):
    block = TimeBlockFactory(doctor=cardiologist)
    held = patient_web.post("/portal/holds/", {"time_block": block.pk, "idempotency_key": "k1"})
    assert held.status_code == 303
    hold = SlotHold.objects.get(patient=patient, time_block=block)
    assert held["Location"] == f"/portal/holds/{hold.pk}/"
    page = patient_web.get(held["Location"])
    assert page.status_code == 200
    assert b"Confirm the appointment" in page.content

    booked = patient_web.post(
        f"/portal/holds/{hold.pk}/", {"reason": "Checkup", "idempotency_key": "k2"}
    )
    assert booked.status_code == 303
    appointment = Appointment.objects.get(patient=patient)
    assert booked["Location"] == f"/portal/appointments/{appointment.pk}/?booked=1"
    assert (appointment.status, appointment.time_block_id, appointment.reason) == (
        "pending",
        block.pk,
        "Checkup",
    )
    detail = patient_web.get(booked["Location"])
    assert b"Pending" in detail.content
    listing = patient_web.get("/portal/appointments/")
    assert f"/portal/appointments/{appointment.pk}/".encode() in listing.content


def test_the_same_form_posted_twice_books_once(patient, patient_web, cardiologist):
    block = TimeBlockFactory(doctor=cardiologist)
    hold = slot_hold_create(actor=patient, patient=patient, time_block=block)
    form = {"reason": "", "idempotency_key": "same-form"}
    first = patient_web.post(f"/portal/holds/{hold.pk}/", form)
    second = patient_web.post(f"/portal/holds/{hold.pk}/", form)
    assert first.status_code == second.status_code == 303
    assert first["Location"] == second["Location"]
    assert Appointment.objects.filter(patient=patient).count() == 1
    assert AuditEvent.objects.filter(action="appointment.booked").count() == 1


def test_a_taken_slot_shows_the_week_again_with_why(patient, patient_web, cardiologist):
    block = TimeBlockFactory(doctor=cardiologist)
    someone = PatientFactory()
    slot_hold_create(actor=someone, patient=someone, time_block=block)
    refused = patient_web.post("/portal/holds/", {"time_block": block.pk, "idempotency_key": "x"})
    assert refused.status_code == 409
    assert b"This time block is already held." in refused.content
    assert not SlotHold.objects.filter(patient=patient).exists()


def test_patient_cancels_their_appointment(patient, patient_web):
    appointment = PendingAppointmentFactory(patient=patient)
    response = patient_web.post(
        f"/portal/appointments/{appointment.pk}/cancel/",
        {"reason": "Feeling better", "idempotency_key": "c1"},
    )
    assert response.status_code == 303
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancellation_code) == ("cancelled", "patient")


def test_cancel_inside_the_notice_window_says_why_and_changes_nothing(patient, patient_web):
    start = timezone.now() + datetime.timedelta(hours=settings.CANCELLATION_NOTICE_HOURS - 2)
    block = TimeBlockFactory(start=start, end=start + datetime.timedelta(minutes=30))
    appointment = PendingAppointmentFactory(patient=patient, time_block=block)
    response = patient_web.post(
        f"/portal/appointments/{appointment.pk}/cancel/", {"idempotency_key": "c2"}
    )
    assert response.status_code == 409
    assert b"cannot be cancelled less than" in response.content
    appointment.refresh_from_db()
    assert appointment.status == "pending"


def test_patient_moves_their_appointment(patient, patient_web, cardiologist):
    old = TimeBlockFactory(doctor=cardiologist)
    new = TimeBlockFactory(doctor=cardiologist, start=old.start + datetime.timedelta(hours=1))
    appointment = PendingAppointmentFactory(patient=patient, time_block=old)
    page = patient_web.get(
        f"/portal/appointments/{appointment.pk}/reschedule/", {"week": monday_of(new.start)}
    )
    assert f'name="time_block" value="{new.pk}"'.encode() in page.content
    moved = patient_web.post(
        f"/portal/appointments/{appointment.pk}/reschedule/",
        {"time_block": new.pk, "idempotency_key": "r1"},
    )
    assert moved.status_code == 303
    appointment.refresh_from_db()
    assert appointment.time_block_id == new.pk
