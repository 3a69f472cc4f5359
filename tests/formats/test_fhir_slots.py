"""Slot, Schedule and Practitioner under /fhir/R4/ (DESIGN-R2 §R2-1, R2-11): free slots are
availability's blocks, statuses for those who may see them, paging, windows, 410."""

from __future__ import annotations

import datetime
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling.models import Appointment, SlotHold
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    DoctorFactory,
    PastTimeBlockFactory,
    SuspendedDoctorFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
    in_days,
)
from tests.support.fhir import fhir_get, ids, link, outcome, outcomes, resources

pytestmark = pytest.mark.django_db
S = Appointment.Status


def q(moment: datetime.datetime) -> str:
    return quote(moment.isoformat())


def hold(block, patient) -> SlotHold:
    return SlotHold.objects.create(
        time_block=block,
        doctor=block.doctor,
        patient=patient,
        expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )


def test_free_slots_are_exactly_availabilitys_blocks_and_hide_holds(anon_client, doctor, patient):
    blocks = TimeBlockFactory.create_batch(5, doctor=doctor)
    hold(blocks[0], patient)
    AppointmentFactory(time_block=blocks[1], patient=patient)
    TimeBlockFactory(doctor=DoctorFactory())  # another doctor's

    availability = anon_client.get(f"/api/v1/doctors/{doctor.pk}/availability/").json()
    bundle = fhir_get(anon_client, f"Slot?schedule=Schedule/{doctor.pk}")

    assert ids(bundle) == [str(item["id"]) for item in availability["results"]]
    assert ids(bundle) == [str(b.pk) for b in blocks[2:]]
    assert {r["status"] for r in resources(bundle, "Slot")} == {"free"}
    assert resources(bundle)[0]["schedule"]["reference"] == f"Schedule/{doctor.pk}"


def test_staff_see_every_status(staff, doctor, patient):
    past = PastTimeBlockFactory.create_batch(3, doctor=doctor)
    AppointmentFactory(time_block=past[0], patient=patient, status=S.COMPLETED)
    AppointmentFactory(time_block=past[1], patient=patient, status=S.NO_SHOW)
    future = TimeBlockFactory.create_batch(6, doctor=doctor)
    AppointmentFactory(time_block=future[0], patient=patient, status=S.PENDING)
    AppointmentFactory(time_block=future[1], patient=patient, status=S.CONFIRMED)
    AppointmentFactory(time_block=future[2], patient=patient, status=S.ARRIVED)
    hold(future[3], patient)
    AppointmentFactory(time_block=future[4], patient=patient, status=S.CANCELLED)
    soon = TimeBlockFactory(doctor=doctor, start=timezone.now() + datetime.timedelta(minutes=5))

    since = timezone.now() - datetime.timedelta(days=5)
    window = f"start=ge{q(since)}&start=lt{q(since + datetime.timedelta(days=20))}"
    bundle = fhir_get(client_for(staff), f"Slot?schedule={doctor.pk}&{window}")
    status = {r["id"]: r["status"] for r in resources(bundle, "Slot")}

    assert status == {
        str(past[0].pk): "busy",
        str(past[1].pk): "busy",
        str(past[2].pk): "busy-unavailable",
        str(soon.pk): "busy-unavailable",  # inside the booking lead time
        str(future[0].pk): "busy-tentative",
        str(future[1].pk): "busy",
        str(future[2].pk): "busy",
        str(future[3].pk): "busy-tentative",
        str(future[4].pk): "free",  # its appointment was cancelled
        str(future[5].pk): "free",
    }
    tentative = fhir_get(
        client_for(staff), f"Slot?schedule={doctor.pk}&{window}&status=busy-tentative"
    )
    assert sorted(ids(tentative)) == sorted([str(future[0].pk), str(future[3].pk)])


def test_a_suspended_doctors_blocks_are_busy_unavailable_for_staff_and_absent_publicly(
    staff, anon_client
):
    doctor = SuspendedDoctorFactory()
    block = TimeBlockFactory(doctor=doctor)
    assert ids(fhir_get(anon_client, f"Slot?schedule={doctor.pk}")) == []
    read = fhir_get(client_for(staff), f"Slot/{block.pk}")
    assert read["status"] == "busy-unavailable"
    outcome(fhir_get(anon_client, f"Slot/{block.pk}", 404), "not-found")


def test_a_doctor_sees_their_own_slots_in_every_status_and_others_free_ones(doctor, patient):
    own = TimeBlockFactory.create_batch(2, doctor=doctor)
    AppointmentFactory(time_block=own[0], patient=patient, status=S.CONFIRMED)
    other = DoctorFactory()
    theirs = TimeBlockFactory.create_batch(2, doctor=other)
    AppointmentFactory(time_block=theirs[0], patient=patient, status=S.CONFIRMED)
    client = client_for(doctor)

    bundle = fhir_get(client, "Slot")

    assert sorted(ids(bundle)) == sorted(str(b.pk) for b in [*own, theirs[1]])
    outcome(fhir_get(client, f"Slot/{theirs[0].pk}", 404), "not-found")
    assert fhir_get(client, f"Slot/{own[0].pk}")["status"] == "busy"


def test_a_public_read_of_a_booked_slot_is_404_and_a_withdrawn_one_410(anon_client, patient):
    booked = AppointmentFactory(patient=patient, status=S.CONFIRMED).time_block
    withdrawn = WithdrawnTimeBlockFactory()
    free = TimeBlockFactory()

    outcome(fhir_get(anon_client, f"Slot/{booked.pk}", 404), "not-found")
    outcome(fhir_get(anon_client, f"Slot/{withdrawn.pk}", 410), "deleted")
    assert fhir_get(anon_client, f"Slot/{free.pk}")["status"] == "free"


def test_25_slots_page_by_10_into_3_pages_and_page_4_is_empty(anon_client, doctor):
    base = in_days(2, hour=6)
    for n in range(25):
        TimeBlockFactory(doctor=doctor, start=base + datetime.timedelta(minutes=30 * n))

    pages = [fhir_get(anon_client, f"Slot?_count=10&_page={n}") for n in (1, 2, 3)]
    past_the_end = fhir_get(anon_client, "Slot?_count=10&_page=4")

    assert [len(resources(p)) for p in pages] == [10, 10, 5]
    assert {p["total"] for p in pages} == {25}
    assert link(pages[0], "next").endswith("_count=10&_page=2")
    assert link(pages[0], "previous") is None
    assert link(pages[2], "next") is None
    assert link(pages[2], "previous").endswith("_page=2")
    assert past_the_end["total"] == 25
    assert resources(past_the_end) == []
    assert link(past_the_end, "previous").endswith("_page=3")


def test_the_default_window_is_14_days_and_more_than_62_is_a_400(anon_client, doctor):
    near = TimeBlockFactory(doctor=doctor, start=in_days(13))
    far = TimeBlockFactory(doctor=doctor, start=in_days(15))

    assert ids(fhir_get(anon_client, "Slot")) == [str(near.pk)]
    wide = f"Slot?start=ge{q(in_days(1))}&start=lt{q(in_days(30))}"
    assert ids(fhir_get(anon_client, wide)) == [str(near.pk), str(far.pk)]
    too_wide = f"Slot?start=ge{q(in_days(1))}&start=lt{q(in_days(64))}"
    outcome(fhir_get(anon_client, too_wide, 400), "invalid")


def test_start_prefixes_are_half_open_as_given(anon_client, doctor):
    first = TimeBlockFactory(doctor=doctor, start=in_days(4, hour=9))
    second = TimeBlockFactory(doctor=doctor, start=in_days(4, hour=10))
    ge_lt = f"Slot?start=ge{q(first.start)}&start=lt{q(second.start)}"
    gt_le = f"Slot?start=gt{q(first.start)}&start=le{q(second.start)}"
    eq = f"Slot?start={q(second.start)}"

    assert ids(fhir_get(anon_client, ge_lt)) == [str(first.pk)]
    assert ids(fhir_get(anon_client, gt_le)) == [str(second.pk)]
    assert ids(fhir_get(anon_client, eq)) == [str(second.pk)]


def test_service_type_general_matches_every_slot_and_another_none(anon_client, doctor):
    block = TimeBlockFactory(doctor=doctor)
    general = fhir_get(anon_client, "Slot?service-type=urn:medappt:visit-type|general")
    assert ids(general) == [str(block.pk)]
    coding = resources(general)[0]["serviceType"][0]["coding"][0]
    assert coding == {"system": "urn:medappt:visit-type", "code": "general"}
    assert ids(fhir_get(anon_client, "Slot?service-type=follow-up")) == []
    assert ids(fhir_get(anon_client, "Schedule?service-type=general")) == [str(doctor.pk)]
    assert ids(fhir_get(anon_client, "Schedule?service-type=follow-up")) == []


def test_unknown_search_parameters_are_ignored_and_reported(anon_client, doctor):
    block = TimeBlockFactory(doctor=doctor)
    bundle = fhir_get(anon_client, "Slot?colour=red&_sort=start")

    assert ids(bundle) == [str(block.pk)]
    (report,) = outcomes(bundle)
    assert [i["code"] for i in report["issue"]] == ["not-supported", "not-supported"]
    assert [i["severity"] for i in report["issue"]] == ["information", "information"]
    assert "colour" not in link(bundle, "self")


def test_bad_count_and_page_are_400(anon_client):
    outcome(fhir_get(anon_client, "Slot?_count=x", 400), "invalid")
    outcome(fhir_get(anon_client, "Slot?_page=0", 400), "invalid")


def test_count_is_capped_at_100(anon_client, doctor):
    assert link(fhir_get(anon_client, "Slot?_count=500"), "self").endswith("_count=100&_page=1")


@pytest.mark.parametrize("role", ["anon", "staff"])
def test_slot_search_queries_stay_flat_as_slots_grow(role, staff, doctor, patient):
    client = client_for(staff if role == "staff" else None)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            fhir_get(client, f"Slot?schedule={doctor.pk}&_count=100")
        return len(captured)

    TimeBlockFactory.create_batch(3, doctor=doctor)
    few = queries()
    blocks = TimeBlockFactory.create_batch(40, doctor=doctor)
    for block in blocks[:10]:
        AppointmentFactory(time_block=block, patient=patient, status=S.CONFIRMED)
    assert queries() == few <= 3


def test_practitioners_are_public_doctors_by_name_without_contact_details(anon_client):
    doctor = DoctorFactory(first_name="Ada", last_name="Lovelace", phone="+34600000000")
    DoctorFactory(first_name="Bob", last_name="Smith")
    SuspendedDoctorFactory(first_name="Ada", last_name="Hidden")

    bundle = fhir_get(anon_client, "Practitioner?name=ada")
    (practitioner,) = resources(bundle, "Practitioner")

    assert practitioner["id"] == str(doctor.pk)
    assert practitioner["name"][0]["family"] == "Lovelace"
    assert "telecom" not in practitioner
    assert "identifier" not in practitioner
    assert fhir_get(anon_client, f"Practitioner/{doctor.pk}")["id"] == str(doctor.pk)


def test_a_schedule_per_public_doctor_with_specialty_codings(anon_client):
    doctor = DoctorFactory()
    schedule = fhir_get(anon_client, f"Schedule/{doctor.pk}")

    assert schedule["actor"][0]["reference"] == f"Practitioner/{doctor.pk}"
    coding = schedule["specialty"][0]["coding"][0]
    assert coding["system"] == "urn:medappt:specialty"
    assert ids(fhir_get(anon_client, f"Schedule?actor=Practitioner/{doctor.pk}")) == [
        str(doctor.pk)
    ]
    outcome(fhir_get(anon_client, f"Schedule/{SuspendedDoctorFactory().pk}", 404), "not-found")
