"""A FHIR client's view: page through a doctor's slots and a patient's appointments by
following `next` links, reading every page with fhir.resources' R4B Bundle only."""

from __future__ import annotations

import datetime

import pytest

from tests.support.clients import client_for
from tests.support.factories import AppointmentFactory, TimeBlockFactory, in_days
from tests.support.fhir import parsed_bundle

pytestmark = pytest.mark.django_db


def page_through(client, url: str) -> tuple[list, int]:
    """Every resource of a search, following `next`, and how many pages it took."""
    found, pages = [], 0
    while url:
        bundle = parsed_bundle(client.get(url))
        pages += 1
        found += [entry.resource for entry in bundle.entry or [] if entry.search.mode == "match"]
        url = next((x.url for x in bundle.link if x.relation == "next"), None)
        assert pages <= 20
    return found, pages


def test_a_client_pages_through_a_doctors_slots(doctor):
    base = in_days(2, hour=6)
    blocks = [
        TimeBlockFactory(doctor=doctor, start=base + datetime.timedelta(minutes=30 * n))
        for n in range(23)
    ]
    TimeBlockFactory()  # another doctor's

    slots, pages = page_through(
        client_for(None), f"/fhir/R4/Slot?schedule=Schedule/{doctor.pk}&_count=5"
    )

    assert pages == 5
    assert [slot.id for slot in slots] == [str(b.pk) for b in blocks]
    assert {slot.get_resource_type() for slot in slots} == {"Slot"}
    assert [slot.start for slot in slots] == [b.start for b in blocks]


def test_a_client_pages_through_a_patients_appointments(patient):
    appointments = [
        AppointmentFactory(patient=patient, time_block__start=in_days(3 + n)) for n in range(7)
    ]
    AppointmentFactory()  # someone else's

    found, pages = page_through(client_for(patient), "/fhir/R4/Appointment?_count=3")

    assert pages == 3
    assert [a.id for a in found] == [str(a.pk) for a in appointments]
    assert {a.status for a in found} == {"pending"}
