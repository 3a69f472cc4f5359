"""Appointment/$find (IHE ITI-115) by GET and POST Parameters (DESIGN-R2 §R2-1, R2-11)."""

from __future__ import annotations

import datetime
import json
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import Appointment, SlotHold
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    DoctorFactory,
    SuspendedDoctorFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
    in_days,
)
from tests.support.fhir import BASE, fhir_body, fhir_get, link, outcome, outcomes, resources

pytestmark = pytest.mark.django_db
FIND = f"{BASE}Appointment/$find"
START, END = in_days(1, hour=0), in_days(20, hour=0)


def q(moment: datetime.datetime) -> str:
    return quote(moment.isoformat())


def find_get(client, extra: str = "", status: int = 200, start=START, end=END) -> dict:
    return fhir_get(client, f"{FIND}?start={q(start)}&end={q(end)}{extra}", status)


def find_post(client, parameters: list[dict], status: int = 200, query: str = "") -> dict:
    body = {"resourceType": "Parameters", "parameter": parameters}
    response = client.post(f"{FIND}{query}", json.dumps(body), content_type="application/fhir+json")
    return fhir_body(response, status)


def window(start=START, end=END) -> list[dict]:
    return [
        {"name": "start", "valueDateTime": start.isoformat()},
        {"name": "end", "valueDateTime": end.isoformat()},
    ]


def slots(bundle: dict) -> list[str]:
    return [r["slot"][0]["reference"].removeprefix("Slot/") for r in resources(bundle)]


def test_get_and_post_give_the_same_proposed_appointments_of_bookable_slots_only(
    anon_client, patient
):
    doctor = DoctorFactory()
    free = TimeBlockFactory.create_batch(3, doctor=doctor)
    AppointmentFactory(time_block=TimeBlockFactory(doctor=doctor), patient=patient)
    SlotHold.objects.create(
        time_block=TimeBlockFactory(doctor=doctor),
        doctor=doctor,
        patient=patient,
        expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )
    WithdrawnTimeBlockFactory(doctor=doctor)
    TimeBlockFactory(doctor=SuspendedDoctorFactory())

    by_get = find_get(anon_client)
    by_post = find_post(anon_client, window())

    assert slots(by_get) == [str(b.pk) for b in free]
    assert resources(by_get) == resources(by_post)
    assert by_get["total"] == by_post["total"] == 3
    proposed = resources(by_get)[0]
    assert proposed["status"] == "proposed"
    assert "id" not in proposed
    (participant,) = proposed["participant"]
    assert participant["actor"]["reference"] == f"Practitioner/{doctor.pk}"
    assert participant["status"] == "needs-action"


def test_more_than_62_days_is_a_400_and_62_is_fine(anon_client):
    outcome(find_get(anon_client, status=400, end=START + datetime.timedelta(days=63)), "invalid")
    find_get(anon_client, end=START + datetime.timedelta(days=62))
    outcome(find_post(anon_client, window(end=START + datetime.timedelta(days=63)), 400), "invalid")


@pytest.mark.parametrize(
    "extra",
    ["", "&end=2030-01-01T00:00:00", "&end=2030-01-01"],
)
def test_missing_or_naive_times_are_400(anon_client, extra):
    response = anon_client.get(f"{FIND}?start={q(START)}{extra}")
    outcome(fhir_body(response, 400), "invalid")


def test_a_post_that_is_not_parameters_is_a_400(anon_client):
    response = anon_client.post(FIND, {"start": "x"}, format="json")
    outcome(fhir_body(response, 400), "invalid")
    outcome(find_post(anon_client, [{"name": "start"}], 400), "invalid")


def test_practitioner_order_is_the_preference_within_the_same_start(anon_client):
    first, second, third = DoctorFactory(), DoctorFactory(), DoctorFactory()
    at = in_days(5)
    a = TimeBlockFactory(doctor=first, start=at)
    b = TimeBlockFactory(doctor=second, start=at)
    early = TimeBlockFactory(doctor=first, start=at - datetime.timedelta(hours=1))
    TimeBlockFactory(doctor=third, start=at)

    bundle = find_get(
        anon_client, f"&practitioner=Practitioner/{second.pk}&practitioner={first.pk}"
    )
    posted = find_post(
        anon_client,
        [
            *window(),
            {"name": "practitioner", "valueReference": {"reference": f"Practitioner/{second.pk}"}},
            {"name": "practitioner", "valueString": str(first.pk)},
        ],
    )

    assert slots(bundle) == [str(early.pk), str(b.pk), str(a.pk)]
    assert slots(posted) == slots(bundle)


def test_specialty_by_slug_or_name_and_location(anon_client):
    derm = DoctorFactory(profile__specialty="Family Medicine", profile__location="Madrid Centro")
    other = DoctorFactory(profile__specialty="Cardiology", profile__location="Sevilla")
    block = TimeBlockFactory(doctor=derm)
    TimeBlockFactory(doctor=other)

    assert slots(find_get(anon_client, "&specialty=family-medicine")) == [str(block.pk)]
    posted = find_post(
        anon_client, [*window(), {"name": "specialty", "valueCode": "family-medicine"}]
    )
    assert slots(posted) == [str(block.pk)]
    assert slots(find_get(anon_client, "&location-string=madrid")) == [str(block.pk)]
    assert slots(find_get(anon_client, "&visit-type=general")) != []
    assert slots(find_get(anon_client, "&visit-type=follow-up")) == []


def test_patient_reference_drops_slots_overlapping_the_patients_active_visits(patient, staff):
    doctor, elsewhere = DoctorFactory(), DoctorFactory()
    at = in_days(6)
    clash = TimeBlockFactory(doctor=doctor, start=at)
    fine = TimeBlockFactory(doctor=doctor, start=at + datetime.timedelta(hours=2))
    AppointmentFactory(patient=patient, time_block=TimeBlockFactory(doctor=elsewhere, start=at))
    cancelled_at = at + datetime.timedelta(hours=2)
    AppointmentFactory(
        patient=patient,
        status=Appointment.Status.CANCELLED,
        time_block=TimeBlockFactory(doctor=elsewhere, start=cancelled_at),
    )
    extra = f"&practitioner={doctor.pk}&patient-reference=Patient/{patient.pk}"

    own = find_get(client_for(patient), extra)
    assert slots(own) == [str(fine.pk)]
    assert resources(own)[0]["participant"][0]["actor"]["reference"] == f"Patient/{patient.pk}"
    assert not AuditEvent.objects.filter(action="patient_record.viewed").exists()  # themselves

    by_staff = find_get(client_for(staff), extra)
    assert slots(by_staff) == [str(fine.pk)]
    views = AuditEvent.objects.filter(action="patient_record.viewed")
    assert list(views.values_list("actor_id", "target_id", "data")) == [
        (staff.pk, str(patient.pk), {"via": "fhir"})
    ]
    assert slots(find_get(client_for(None), f"&practitioner={doctor.pk}")) == [
        str(clash.pk),
        str(fine.pk),
    ]


def test_patient_reference_needs_credentials_and_the_right_to_name_them(
    anon_client, patient, other_patient, doctor, staff
):
    extra = f"&patient-reference=Patient/{patient.pk}"
    outcome(find_get(anon_client, extra, 401), "login")
    outcome(find_get(client_for(other_patient), extra, 403), "forbidden")
    outcome(find_get(client_for(doctor), extra, 403), "forbidden")
    outcome(find_get(client_for(staff), "&patient-reference=Patient/999999", 400), "invalid")
    assert not AuditEvent.objects.filter(action="patient_record.viewed").exists()


def test_unknown_inputs_are_ignored_and_listed_in_an_outcome_entry(anon_client):
    block = TimeBlockFactory()
    bundle = find_post(
        anon_client,
        [
            *window(),
            {"name": "referral", "valueString": "x"},
            {"name": "colour", "valueCode": "red"},
        ],
    )
    assert slots(bundle) == [str(block.pk)]
    (report,) = outcomes(bundle)
    texts = [issue["diagnostics"] for issue in report["issue"]]
    assert ["colour" in texts[0], "referral" in texts[1]] == [True, True]
    assert {issue["code"] for issue in report["issue"]} == {"not-supported"}


def test_find_pages_with_get_links_that_repeat_the_inputs(anon_client):
    doctor = DoctorFactory()
    base = in_days(3, hour=6)
    for n in range(5):
        TimeBlockFactory(doctor=doctor, start=base + datetime.timedelta(minutes=30 * n))

    first = find_post(
        anon_client,
        [*window(), {"name": "practitioner", "valueString": str(doctor.pk)}],
        query="?_count=2",
    )
    assert first["total"] == 5
    assert len(resources(first)) == 2
    following = fhir_get(anon_client, link(first, "next"))
    assert len(resources(following)) == 2
    assert slots(following)[0] != slots(first)[0]


def test_find_queries_stay_flat_as_slots_grow(anon_client):
    doctor = DoctorFactory()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            find_get(anon_client, f"&practitioner={doctor.pk}&_count=100")
        return len(captured)

    TimeBlockFactory.create_batch(2, doctor=doctor)
    few = queries()
    TimeBlockFactory.create_batch(40, doctor=doctor)
    assert queries() == few <= 3
