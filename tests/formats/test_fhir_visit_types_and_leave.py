"""The facade with visit types and leave (DESIGN-R2 R2-8 acceptance (8), R2-1 acceptance (4)):
serviceType codings, the service-type search, $find's visit-type, and a slot inside a leave
that is busy-unavailable, never free."""

from __future__ import annotations

import datetime
from urllib.parse import quote

import pytest

from scheduling.models import Leave
from tests.support.clients import client_for
from tests.support.factories import (
    DoctorFactory,
    DoctorVisitTypeFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
    VisitTypeFactory,
    in_days,
)
from tests.support.fhir import BASE, fhir_get, ids, resources

pytestmark = pytest.mark.django_db
SYSTEM = "urn:medappt:visit-type"
HOUR = datetime.timedelta(hours=1)


def coding(slug: str) -> list[dict]:
    return [{"coding": [{"system": SYSTEM, "code": slug}]}]


@pytest.fixture
def follow_up(doctor):
    visit_type = VisitTypeFactory(slug="follow-up", duration_minutes=30)
    DoctorVisitTypeFactory(doctor=doctor, visit_type=visit_type)
    return visit_type


def test_slot_appointment_and_schedule_carry_the_visit_type(doctor, patient, follow_up):
    tagged = TimeBlockFactory(doctor=doctor, visit_type=follow_up)
    general = TimeBlockFactory(doctor=doctor, start=tagged.start + HOUR)
    appointment = PendingAppointmentFactory(
        time_block=TimeBlockFactory(
            doctor=doctor, start=tagged.start + 2 * HOUR, visit_type=follow_up
        ),
        patient=patient,
        visit_type=follow_up,
    )
    client = client_for(patient)

    slots = {r["id"]: r for r in resources(fhir_get(client, f"Slot?schedule={doctor.pk}"))}
    read = fhir_get(client, f"Appointment/{appointment.pk}")
    schedule = fhir_get(client, f"Schedule/{doctor.pk}")

    assert slots[str(tagged.pk)]["serviceType"] == coding("follow-up")
    assert slots[str(general.pk)]["serviceType"] == coding("general")
    assert read["serviceType"] == coding("follow-up")
    assert schedule["serviceType"] == coding("general") + coding("follow-up")


def test_service_type_search_and_find_by_visit_type(anon_client, doctor, follow_up):
    tagged = TimeBlockFactory(doctor=doctor, visit_type=follow_up)
    general = TimeBlockFactory(doctor=doctor, start=tagged.start + HOUR)
    DoctorFactory()  # offers only general visits

    by_slug = fhir_get(anon_client, f"Slot?schedule={doctor.pk}&service-type=follow-up")
    by_token = fhir_get(
        anon_client, f"Slot?schedule={doctor.pk}&service-type={quote(SYSTEM + '|general')}"
    )
    unknown = fhir_get(anon_client, f"Slot?schedule={doctor.pk}&service-type=nope")
    schedules = fhir_get(anon_client, "Schedule?service-type=follow-up")
    start, end = quote(in_days(0, hour=0).isoformat()), quote(in_days(20, hour=0).isoformat())
    found = fhir_get(
        anon_client, f"{BASE}Appointment/$find?start={start}&end={end}&visit-type=follow-up"
    )

    assert ids(by_slug) == [str(tagged.pk)]
    assert ids(by_token) == [str(general.pk)]
    assert ids(unknown) == []
    assert ids(schedules) == [str(doctor.pk)]
    assert [r["serviceType"] for r in resources(found, "Appointment")] == [coding("follow-up")]


def test_a_slot_inside_a_leave_is_busy_unavailable_and_never_free(anon_client, staff, doctor):
    free = TimeBlockFactory(doctor=doctor, start=in_days(3, hour=9))
    inside = TimeBlockFactory(doctor=doctor, start=free.start + 3 * HOUR)
    Leave.objects.create(
        doctor=doctor, start=inside.start, end=inside.end + HOUR, category="vacation"
    )

    public = fhir_get(anon_client, f"Slot?schedule={doctor.pk}")
    clinic = fhir_get(client_for(staff), f"Slot?schedule={doctor.pk}")

    assert ids(public) == [str(free.pk)]
    statuses = {r["id"]: r["status"] for r in resources(clinic, "Slot")}
    assert statuses == {str(free.pk): "free", str(inside.pk): "busy-unavailable"}


def test_a_control_character_in_service_type_matches_nothing(anon_client, doctor, follow_up):
    TimeBlockFactory(doctor=doctor, visit_type=follow_up)

    bundle = fhir_get(anon_client, f"Slot?schedule={doctor.pk}&service-type=follow%00up")

    assert ids(bundle) == []
