"""The waitlist in the staff console: a doctor's list, a block's offers, adding a patient
through the service (DESIGN-R2 §R2-3)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.groups import FRONT_DESK_GROUP
from scheduling.models import SlotHold, WaitlistEntry, WaitlistOffer
from tests.scheduling.appointment_helpers import audit_rows
from tests.support.factories import DoctorFactory, PatientFactory, TimeBlockFactory

pytestmark = pytest.mark.django_db
ENTRIES = "admin:scheduling_waitlistentry_changelist"


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def desk(staff):
    staff.groups.add(Group.objects.get(name=FRONT_DESK_GROUP))
    return console(staff)


def _entry(patient, doctor) -> WaitlistEntry:
    today = timezone.localdate()
    return WaitlistEntry.objects.create(
        patient=patient, doctor=doctor, date_from=today, date_to=today + datetime.timedelta(days=9)
    )


def test_staff_add_a_patient_to_a_doctors_list_through_the_service(desk, patient, doctor):
    today = timezone.localdate()
    response = desk.post(
        reverse("admin:scheduling_waitlistentry_add"),
        {
            "patient": patient.pk,
            "doctor": doctor.pk,
            "specialty": "",
            "date_from": today.isoformat(),
            "date_to": (today + datetime.timedelta(days=10)).isoformat(),
            "weekdays": ["0", "2"],
            "time_from": "",
            "time_to": "",
        },
    )
    assert response.status_code == 302, response.content
    entry = WaitlistEntry.objects.get()
    assert (entry.patient, entry.doctor, entry.weekdays) == (patient, doctor, [0, 2])
    assert audit_rows("waitlist_entry.created", target_id=str(entry.pk))


def test_a_refused_addition_is_a_message_not_a_500(desk, patient, doctor):
    _entry(patient, doctor)
    today = timezone.localdate()
    response = desk.post(
        reverse("admin:scheduling_waitlistentry_add"),
        {
            "patient": patient.pk,
            "doctor": doctor.pk,
            "date_from": today.isoformat(),
            "date_to": today.isoformat(),
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "already on this waitlist" in response.content.decode()
    assert WaitlistEntry.objects.count() == 1


def test_a_doctors_waiting_list_in_first_come_order(desk, doctor, other_doctor):
    first, second = _entry(PatientFactory(), doctor), _entry(PatientFactory(), doctor)
    elsewhere = _entry(PatientFactory(), other_doctor)
    response = desk.get(reverse(ENTRIES), {"doctor__id__exact": doctor.pk})
    assert response.status_code == 200
    shown = [entry.pk for entry in response.context["cl"].result_list]
    assert shown == [first.pk, second.pk]
    assert elsewhere.pk not in shown


def test_staff_take_an_entry_off_the_list(desk, patient, doctor):
    entry = _entry(patient, doctor)
    response = desk.post(
        reverse(ENTRIES), {"action": "cancel", "_selected_action": [entry.pk]}, follow=True
    )
    assert response.status_code == 200
    entry.refresh_from_db()
    assert entry.status == "cancelled"


def test_the_offers_of_a_block(desk, patient, doctor):
    block, other = TimeBlockFactory(doctor=doctor), TimeBlockFactory(doctor=doctor)
    entry = _entry(patient, doctor)
    for time_block in (block, other):
        hold = SlotHold.objects.create(
            time_block=time_block,
            doctor=doctor,
            expires_at=timezone.now() + datetime.timedelta(minutes=5),
        )
        WaitlistOffer.objects.create(
            entry=entry, time_block=time_block, hold=hold, expires_at=hold.expires_at
        )
    response = desk.get(
        reverse("admin:scheduling_waitlistoffer_changelist"), {"time_block__id__exact": block.pk}
    )
    assert response.status_code == 200
    assert [o.time_block_id for o in response.context["cl"].result_list] == [block.pk]
    page = desk.get(reverse("admin:scheduling_waitlistentry_change", args=[entry.pk]))
    assert page.status_code == 200
    assert desk.get(reverse("admin:scheduling_waitlistoffer_add")).status_code == 403


def test_entries_are_never_deleted(clinic_admin, patient):
    entry = _entry(patient, DoctorFactory())
    client = console(clinic_admin)
    url = reverse("admin:scheduling_waitlistentry_delete", args=[entry.pk])
    assert client.post(url).status_code == 403
