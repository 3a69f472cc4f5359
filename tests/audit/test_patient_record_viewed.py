"""`patient_record.viewed`: one row per distinct patient per response, in one insert."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.audit.helpers import APPOINTMENTS_URL, USERS_URL, audit_inserts, events
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

VIEWED = "patient_record.viewed"


def get_capturing(client, url: str, **params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, response.json()
    return response, audit_inserts(captured)


def viewed_patients() -> list[str]:
    return sorted(event.target_id for event in events(VIEWED))


def assert_viewed_by(viewer, patients, response) -> None:
    rows = events(VIEWED)
    assert sorted(row.target_id for row in rows) == sorted(str(p.pk) for p in patients)
    for row in rows:
        assert row.target_type == "user"
        assert (row.actor_id, row.actor_role, row.actor_label) == (
            viewer.pk,
            viewer.role,
            viewer.email,
        )
        assert row.request_id == response["X-Request-ID"]


def test_doctor_listing_three_appointments_of_two_patients_writes_two_rows_in_one_insert(
    doctor,
):
    alice, bob = PatientFactory(), PatientFactory()
    AppointmentFactory(patient=alice, time_block__doctor=doctor)
    ConfirmedAppointmentFactory(patient=alice, time_block__doctor=doctor)
    AppointmentFactory(patient=bob, time_block__doctor=doctor)

    response, inserts = get_capturing(client_for(doctor), APPOINTMENTS_URL)

    assert response.json()["count"] == 3
    assert len(inserts) == 1
    assert_viewed_by(doctor, [alice, bob], response)


def test_each_response_records_its_own_views(doctor):
    alice = PatientFactory()
    AppointmentFactory(patient=alice, time_block__doctor=doctor)
    client = client_for(doctor)

    client.get(APPOINTMENTS_URL)
    client.get(APPOINTMENTS_URL)

    assert viewed_patients() == [str(alice.pk), str(alice.pk)]


def test_doctor_reading_one_appointment_writes_one_row(doctor):
    appointment = AppointmentFactory(time_block__doctor=doctor)

    response, inserts = get_capturing(client_for(doctor), f"{APPOINTMENTS_URL}{appointment.pk}/")

    assert len(inserts) == 1
    assert_viewed_by(doctor, [appointment.patient], response)


def test_staff_filtering_appointments_by_patient_records_that_patient(staff):
    appointment = AppointmentFactory()
    AppointmentFactory()  # someone else's, filtered out

    response, inserts = get_capturing(
        client_for(staff), APPOINTMENTS_URL, patient=appointment.patient_id
    )

    assert response.json()["count"] == 1
    assert len(inserts) == 1
    assert_viewed_by(staff, [appointment.patient], response)


def test_only_the_patients_on_the_returned_page_are_recorded(doctor):
    first, second = PatientFactory(), PatientFactory()
    AppointmentFactory(patient=first, time_block__doctor=doctor)
    AppointmentFactory(patient=second, time_block__doctor=doctor)

    response, _ = get_capturing(client_for(doctor), APPOINTMENTS_URL, page_size=1)

    assert [row["patient"] for row in response.json()["results"]] == [first.pk]
    assert viewed_patients() == [str(first.pk)]


def test_staff_reading_a_patients_user_record_writes_one_row(staff, patient):
    response, inserts = get_capturing(client_for(staff), f"{USERS_URL}{patient.pk}/")

    assert len(inserts) == 1
    assert_viewed_by(staff, [patient], response)


def test_admin_reading_a_patients_user_record_is_recorded(clinic_admin, patient):
    response, _ = get_capturing(client_for(clinic_admin), f"{USERS_URL}{patient.pk}/")

    assert_viewed_by(clinic_admin, [patient], response)


def test_reading_a_doctors_user_record_is_no_patient_record_view(staff, doctor):
    _, inserts = get_capturing(client_for(staff), f"{USERS_URL}{doctor.pk}/")

    assert inserts == []
    assert events(VIEWED) == []


def test_staff_listing_users_records_each_listed_patient_in_one_insert(staff):
    patients = PatientFactory.create_batch(3)
    DoctorFactory()
    StaffFactory()

    response, inserts = get_capturing(client_for(staff), USERS_URL)

    assert response.json()["count"] == 6  # the caller, three patients, a doctor, a colleague
    assert len(inserts) == 1
    assert_viewed_by(staff, patients, response)


def test_a_patient_reading_their_own_appointments_is_not_recorded(patient):
    appointment = AppointmentFactory(patient=patient)
    AppointmentFactory(patient=patient)
    client = client_for(patient)

    _, list_inserts = get_capturing(client, APPOINTMENTS_URL)
    _, detail_inserts = get_capturing(client, f"{APPOINTMENTS_URL}{appointment.pk}/")

    assert list_inserts == detail_inserts == []
    assert events(VIEWED) == []


def test_a_list_without_patients_writes_nothing(doctor):
    _, inserts = get_capturing(client_for(doctor), APPOINTMENTS_URL)

    assert inserts == []
