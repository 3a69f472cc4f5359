"""The round-2 status sets and cancellation codes: arrived holds its slot, only the clinic may
cancel it, and every cancellation records who ended the visit."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from accounts import services as account_services
from scheduling import services
from scheduling.models import ACTIVE_STATUSES, Appointment
from scheduling.services import maintenance
from tests.scheduling.appointment_helpers import appointment_url
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    ConfirmedAppointmentFactory,
    PastTimeBlockFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db
migration = importlib.import_module("scheduling.migrations.0005_status_sets_and_cancellation_code")
Code = Appointment.CancellationCode


def test_arrived_holds_its_slot_like_pending_and_confirmed():
    assert set(ACTIVE_STATUSES) == {"pending", "confirmed", "arrived"}
    arrived = AppointmentFactory(status=Appointment.Status.ARRIVED)
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(time_block=arrived.time_block, status=Appointment.Status.PENDING)


@pytest.mark.parametrize(
    ("role", "code"),
    [("patient", Code.PATIENT), ("doctor", Code.PROVIDER), ("staff", Code.CLINIC)],
)
def test_a_cancel_records_who_ended_the_visit(role, code, staff):
    appointment = ConfirmedAppointmentFactory()
    actor = {"patient": appointment.patient, "doctor": appointment.doctor, "staff": staff}[role]

    response = client_for(actor).post(appointment_url(appointment, "cancel"))

    assert response.status_code == 200, response.content
    assert response.json()["cancellation_code"] == code
    appointment.refresh_from_db()
    assert appointment.cancellation_code == code


@pytest.mark.parametrize("code", ["patient", "provider", "clinic"])
def test_staff_name_the_code(staff, code):
    appointment = PendingAppointmentFactory()

    response = client_for(staff).post(appointment_url(appointment, "cancel"), {"code": code})

    assert response.status_code == 200, response.content
    assert response.json()["cancellation_code"] == code


def test_a_patient_may_not_name_the_code_and_nothing_changes():
    appointment = PendingAppointmentFactory()

    response = client_for(appointment.patient).post(
        appointment_url(appointment, "cancel"), {"code": "clinic"}
    )

    assert response.status_code == 400
    assert "code" in response.json()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.PENDING


def test_an_unknown_code_is_400(staff):
    appointment = PendingAppointmentFactory()
    response = client_for(staff).post(appointment_url(appointment, "cancel"), {"code": "leave"})
    assert response.status_code == 400


@pytest.mark.parametrize("role", ["patient", "doctor"])
def test_an_arrived_patient_cannot_be_cancelled_by_a_participant(role):
    appointment = AppointmentFactory(status=Appointment.Status.ARRIVED)
    actor = appointment.patient if role == "patient" else appointment.doctor
    response = client_for(actor).post(appointment_url(appointment, "cancel"))
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"


def test_the_clinic_sending_an_arrived_patient_away_records_left_unseen(staff):
    appointment = AppointmentFactory(
        status=Appointment.Status.ARRIVED, time_block=PastTimeBlockFactory()
    )
    response = client_for(staff).post(
        appointment_url(appointment, "cancel"), {"code": "clinic", "reason": "Could not wait"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["cancellation_code"] == Code.LEFT_UNSEEN


def test_an_arrived_visit_cannot_be_rescheduled(staff):
    appointment = AppointmentFactory(status=Appointment.Status.ARRIVED)
    target = TimeBlockFactory(doctor=appointment.doctor)
    response = client_for(staff).post(
        appointment_url(appointment, "reschedule"), {"time_block": target.pk}
    )
    assert response.status_code == 409


def test_expiry_and_deactivation_record_their_own_codes(clinic_admin):
    expired = PendingAppointmentFactory(time_block=PastTimeBlockFactory())
    Appointment.objects.filter(pk=expired.pk).update(
        start=expired.start.replace(year=expired.start.year - 1),
        end=expired.end.replace(year=expired.end.year - 1),
    )
    maintenance.appointments_close_past()
    expired.refresh_from_db()
    assert (expired.status, expired.cancellation_code) == ("cancelled", Code.EXPIRED)

    future = ConfirmedAppointmentFactory()
    account_services.user_deactivate(actor=clinic_admin, user=future.patient)
    future.refresh_from_db()
    assert (future.status, future.cancellation_code) == ("cancelled", Code.DEACTIVATED)


def test_the_backfill_names_who_cancelled_old_rows(staff, clinic_admin):
    by_patient = services.appointment_cancel(
        actor=(a := PendingAppointmentFactory()).patient, appointment=a
    )
    by_doctor = services.appointment_cancel(
        actor=(b := PendingAppointmentFactory()).doctor, appointment=b
    )
    by_staff = services.appointment_cancel(actor=staff, appointment=PendingAppointmentFactory())
    by_system = services.appointment_cancel(actor=None, appointment=PendingAppointmentFactory())
    # Rows from before the column existed: no code yet.
    Appointment.objects.update(cancellation_code="")

    migration.backfill_cancellation_codes(apps, None)

    codes = dict(Appointment.objects.values_list("pk", "cancellation_code"))
    assert codes == {
        by_patient.pk: Code.PATIENT,
        by_doctor.pk: Code.PROVIDER,
        by_staff.pk: Code.CLINIC,
        by_system.pk: Code.EXPIRED,
    }
