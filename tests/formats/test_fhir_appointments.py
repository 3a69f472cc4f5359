"""Appointment (and waitlist entries) and Patient under /fhir/R4/: REST's visibility, status
mappings, cancelationReason, date searches, patient_record.viewed (data.via fhir)."""

from __future__ import annotations

import datetime
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import Appointment, CancellationCode, WaitlistEntry
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    PatientFactory,
    in_days,
)
from tests.support.fhir import fhir_get, ids, outcome

pytestmark = pytest.mark.django_db
S = Appointment.Status
CANCELLATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"


def q(moment: datetime.datetime) -> str:
    return quote(moment.isoformat())


def viewed() -> list[tuple[int | None, str, dict]]:
    return list(
        AuditEvent.objects.filter(action="patient_record.viewed")
        .order_by("id")
        .values_list("actor_id", "target_id", "data")
    )


def entry(patient, doctor=None, specialty="") -> WaitlistEntry:
    today = timezone.localdate()
    return WaitlistEntry.objects.create(
        patient=patient,
        doctor=doctor,
        specialty=specialty,
        date_from=today,
        date_to=today + datetime.timedelta(days=9),
    )


@pytest.mark.parametrize(
    ("status", "extra", "expected"),
    [
        (S.PENDING, {}, "pending"),
        (S.CONFIRMED, {}, "booked"),
        (S.ARRIVED, {"arrived_at": timezone.now()}, "arrived"),
        (S.ARRIVED, {"arrived_at": timezone.now(), "seen_at": timezone.now()}, "checked-in"),
        (S.COMPLETED, {}, "fulfilled"),
        (S.NO_SHOW, {}, "noshow"),
        (S.CANCELLED, {"cancellation_code": CancellationCode.CLINIC}, "cancelled"),
    ],
)
def test_each_status_maps_to_its_fhir_status(staff, status, extra, expected):
    appointment = AppointmentFactory(status=status, **extra)
    body = fhir_get(client_for(staff), f"Appointment/{appointment.pk}")

    assert body["status"] == expected
    assert body["start"].startswith(appointment.start.strftime("%Y-%m-%dT%H:%M"))
    assert body["slot"] == [{"reference": f"Slot/{appointment.time_block_id}"}]
    assert ("cancelationReason" in body) == (status == S.CANCELLED)
    searched = fhir_get(client_for(staff), f"Appointment?status={expected}")
    assert ids(searched) == [str(appointment.pk)]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (CancellationCode.PATIENT, "pat"),
        (CancellationCode.PROVIDER, "prov"),
        (CancellationCode.LEAVE, "prov"),
        (CancellationCode.CLINIC, "other"),
        (CancellationCode.EXPIRED, "other"),
        (CancellationCode.DEACTIVATED, "other"),
        (CancellationCode.LEFT_UNSEEN, "other"),
    ],
)
def test_cancelation_reason_codes(staff, code, reason):
    appointment = AppointmentFactory(status=S.CANCELLED, cancellation_code=code)
    body = fhir_get(client_for(staff), f"Appointment/{appointment.pk}")
    assert body["cancelationReason"]["coding"] == [{"system": CANCELLATION_SYSTEM, "code": reason}]


def test_reason_and_notes_and_participants(patient, doctor):
    appointment = AppointmentFactory(
        patient=patient, time_block__doctor=doctor, reason="Cough", notes="Bring x-rays"
    )
    body = fhir_get(client_for(patient), f"Appointment/{appointment.pk}")

    assert body["reasonCode"] == [{"text": "Cough"}]
    assert body["comment"] == "Bring x-rays"
    actors = [p["actor"]["reference"] for p in body["participant"]]
    assert actors == [f"Patient/{patient.pk}", f"Practitioner/{doctor.pk}"]


def test_date_ge_and_lt_are_half_open(patient):
    first = AppointmentFactory(patient=patient, time_block__start=in_days(4, hour=9))
    second = AppointmentFactory(patient=patient, time_block__start=in_days(4, hour=10))
    client = client_for(patient)

    ge_lt = fhir_get(client, f"Appointment?date=ge{q(first.start)}&date=lt{q(second.start)}")
    ge = fhir_get(client, f"Appointment?date=ge{q(second.start)}")

    assert ids(ge_lt) == [str(first.pk)]
    assert ids(ge) == [str(second.pk)]


def test_patients_see_their_own_and_another_patients_is_404(patient):
    mine = AppointmentFactory(patient=patient)
    theirs = AppointmentFactory(patient=PatientFactory())
    client = client_for(patient)

    assert ids(fhir_get(client, "Appointment")) == [str(mine.pk)]
    outcome(fhir_get(client, f"Appointment/{theirs.pk}", 404), "not-found")
    # Scoped, never 403: naming someone else finds nothing.
    assert ids(fhir_get(client, f"Appointment?patient=Patient/{theirs.patient_id}")) == []
    assert viewed() == []  # reading one's own record is no audited view


def test_a_doctors_read_writes_one_patient_record_viewed_via_fhir(doctor, patient):
    appointment = AppointmentFactory(patient=patient, time_block__doctor=doctor)
    other = AppointmentFactory(patient=patient)  # another doctor's visit: not theirs to see
    client = client_for(doctor)

    fhir_get(client, f"Appointment/{appointment.pk}")
    assert viewed() == [(doctor.pk, str(patient.pk), {"via": "fhir"})]
    outcome(fhir_get(client, f"Appointment/{other.pk}", 404), "not-found")
    assert len(viewed()) == 1


def test_a_search_writes_one_view_per_patient_shown(staff):
    patients = PatientFactory.create_batch(2)
    for p in patients:
        AppointmentFactory.create_batch(2, patient=p)

    fhir_get(client_for(staff), "Appointment")

    assert sorted(v[1] for v in viewed()) == sorted(str(p.pk) for p in patients)
    assert {v[2]["via"] for v in viewed()} == {"fhir"}


def test_search_by_patient_and_practitioner(staff, doctor, patient):
    wanted = AppointmentFactory(patient=patient, time_block__doctor=doctor)
    AppointmentFactory(patient=patient)
    AppointmentFactory(time_block__doctor=doctor)
    client = client_for(staff)

    both = fhir_get(
        client, f"Appointment?patient={patient.pk}&practitioner=Practitioner/{doctor.pk}"
    )
    assert ids(both) == [str(wanted.pk)]


def test_waitlist_entries_are_waitlist_appointments(patient, doctor, staff):
    waiting = entry(patient, doctor=doctor)
    by_specialty = entry(patient, specialty="Dermatology")
    done = entry(PatientFactory(), doctor=doctor)
    WaitlistEntry.objects.filter(pk=done.pk).update(status=WaitlistEntry.Status.CANCELLED)
    booked = AppointmentFactory(patient=patient)
    client = client_for(patient)

    body = fhir_get(client, f"Appointment/wl-{waiting.pk}")
    assert body["status"] == "waitlist"
    assert body["requestedPeriod"] == [
        {"start": waiting.date_from.isoformat(), "end": waiting.date_to.isoformat()}
    ]
    assert "start" not in body
    actors = [p["actor"]["reference"] for p in body["participant"]]
    assert actors == [f"Patient/{patient.pk}", f"Practitioner/{doctor.pk}"]
    specialty = fhir_get(client, f"Appointment/wl-{by_specialty.pk}")
    assert specialty["specialty"][0]["coding"][0]["code"] == "dermatology"

    everything = fhir_get(client, "Appointment")
    assert ids(everything) == [str(booked.pk), f"wl-{waiting.pk}", f"wl-{by_specialty.pk}"]
    assert everything["total"] == 3
    only_waiting = fhir_get(client, "Appointment?status=waitlist")
    assert ids(only_waiting) == [f"wl-{waiting.pk}", f"wl-{by_specialty.pk}"]
    assert ids(fhir_get(client, "Appointment?status=pending")) == [str(booked.pk)]
    dated = fhir_get(client, f"Appointment?date=ge{q(in_days(-1))}")
    assert ids(dated) == [str(booked.pk)]  # a waitlist entry has no start
    outcome(fhir_get(client, f"Appointment/wl-{done.pk}", 404), "not-found")
    outcome(fhir_get(client_for(doctor), f"Appointment/wl-{waiting.pk}", 404), "not-found")
    assert ids(fhir_get(client_for(staff), "Appointment?status=waitlist")) == ids(only_waiting)


def test_appointment_pages_read_a_flat_number_of_queries(staff):
    client = client_for(staff)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            fhir_get(client, "Appointment?_count=100")
        return len(captured)

    AppointmentFactory.create_batch(2)
    few = queries()
    AppointmentFactory.create_batch(30)
    assert queries() == few


def test_patients_read_themselves_staff_anyone_doctors_their_patients_names(
    patient, other_patient, doctor, staff
):
    AppointmentFactory(patient=patient, time_block__doctor=doctor)

    own = fhir_get(client_for(patient), f"Patient/{patient.pk}")
    assert own["telecom"][0] == {"system": "email", "value": patient.email, "use": "home"}
    outcome(fhir_get(client_for(patient), f"Patient/{other_patient.pk}", 404), "not-found")
    assert ids(fhir_get(client_for(patient), "Patient")) == [str(patient.pk)]
    assert viewed() == []

    by_doctor = fhir_get(client_for(doctor), f"Patient/{patient.pk}")
    assert set(by_doctor) == {"resourceType", "id", "name"}
    outcome(fhir_get(client_for(doctor), f"Patient/{other_patient.pk}", 404), "not-found")
    assert viewed() == [(doctor.pk, str(patient.pk), {"via": "fhir"})]

    listing = fhir_get(client_for(staff), "Patient")
    assert set(ids(listing)) >= {str(patient.pk), str(other_patient.pk)}
    outcome(fhir_get(client_for(staff), f"Patient/{doctor.pk}", 404), "not-found")


def test_anonymous_patient_and_appointment_searches_are_401(anon_client):
    outcome(fhir_get(anon_client, "Patient", 401), "login")
    outcome(fhir_get(anon_client, "Appointment", 401), "login")
