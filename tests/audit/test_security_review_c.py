"""Security review round 2, findings 3 and 17 (audit side).

3: every place staff (or a doctor) see a patient's record writes `patient_record.viewed`,
   with the API's rules (audit_record_patient_views: one row per distinct patient other than
   the viewer, in one insert per response): the admin home's day lists, the admin
   autocomplete of patients, the review admin, patient photos and the field history API.
17: `audit.exported` is committed before the first CSV byte leaves, so an export that is
   cut short (or read only in part) is still in the trail.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from auditlog.context import set_actor as auditlog_actor
from auditlog.models import LogEntry
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from scheduling.models import Review
from tests.audit.helpers import CHANGES_URL, EXPORT_URL, audit_inserts, events
from tests.support.clients import client_for
from tests.support.factories import (
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db

VIEWED = "patient_record.viewed"
UTC = datetime.UTC
NOW = datetime.datetime(2031, 3, 12, 8, 0, tzinfo=UTC)  # a Wednesday, 08:00 in UTC


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def viewed_by(viewer) -> list[int]:
    """The patients `viewer` is recorded as having seen, one entry per row, sorted."""
    return sorted(int(event.target_id) for event in events(VIEWED, actor_id=viewer.pk))


def assert_rows_are_patient_views_by(viewer) -> None:
    for event in events(VIEWED):
        assert (event.target_type, event.actor_id, event.actor_role) == (
            "user",
            viewer.pk,
            viewer.role,
        )


def at(hour: int, minutes: int = 0, days: int = 0) -> datetime.datetime:
    return NOW.replace(hour=hour, minute=minutes) + datetime.timedelta(days=days)


def visit(factory, patient, start: datetime.datetime, doctor=None):
    doctor = doctor or DoctorFactory()
    block = TimeBlockFactory(doctor=doctor, start=start, end=start + datetime.timedelta(minutes=30))
    return factory(patient=patient, time_block=block)


# ---------------------------------------------------------------------------
# 3. The admin home: today per doctor and pending soon name patients
# ---------------------------------------------------------------------------
def test_the_admin_home_records_each_patient_its_day_lists_show_once(settings, staff):
    settings.TIME_ZONE = "UTC"
    alice, bob, carol = PatientFactory.create_batch(3)
    with time_machine.travel(NOW, tick=False):
        doctor = DoctorFactory()
        visit(ConfirmedAppointmentFactory, alice, at(10), doctor)
        visit(PendingAppointmentFactory, alice, at(11), doctor)  # today and pending soon
        visit(PendingAppointmentFactory, bob, at(9, days=1))  # pending soon only
        visit(ConfirmedAppointmentFactory, carol, at(9, days=5))  # on no list

        response = console(staff).get(reverse("admin:index"))

    assert response.status_code == 200
    assert {
        a.patient
        for day in response.context["front_desk"]["doctors_today"]
        for a in day.appointments
    } == {alice}
    assert viewed_by(staff) == sorted([alice.pk, bob.pk])
    assert_rows_are_patient_views_by(staff)


def test_an_admin_home_without_appointments_records_nothing(staff):
    assert console(staff).get(reverse("admin:index")).status_code == 200
    assert events(VIEWED) == []


# ---------------------------------------------------------------------------
# 3. The admin autocomplete of patients (the booking form)
# ---------------------------------------------------------------------------
def autocomplete(client: Client, term: str):
    return client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "scheduling",
            "model_name": "appointment",
            "field_name": "patient",
            "term": term,
        },
    )


def test_the_patient_autocomplete_records_each_patient_it_offers(staff):
    found = [PatientFactory(last_name="Quillfeather"), PatientFactory(last_name="Quillon")]
    PatientFactory(last_name="Other")

    response = autocomplete(console(staff), "Quill")

    assert response.status_code == 200
    assert sorted(int(row["id"]) for row in response.json()["results"]) == sorted(
        p.pk for p in found
    )
    assert viewed_by(staff) == sorted(p.pk for p in found)
    assert_rows_are_patient_views_by(staff)


def test_an_autocomplete_that_finds_nobody_records_nothing(staff):
    PatientFactory(last_name="Other")
    assert autocomplete(console(staff), "Nobody").json()["results"] == []
    assert events(VIEWED) == []


# ---------------------------------------------------------------------------
# 3. The review admin shows each review's author (a patient) and their words
# ---------------------------------------------------------------------------
def review_by(patient, **kwargs) -> Review:
    appointment = CompletedAppointmentFactory(patient=patient)
    return Review.objects.create(
        appointment=appointment,
        doctor=appointment.doctor,
        author=patient,
        rating=kwargs.pop("rating", 4),
        comment=kwargs.pop("comment", "Kind and on time."),
        **kwargs,
    )


def test_the_review_changelist_records_each_author_once(staff):
    alice, bob = PatientFactory.create_batch(2)
    review_by(alice)
    review_by(alice)
    review_by(bob)

    response = console(staff).get(reverse("admin:scheduling_review_changelist"))

    assert response.status_code == 200
    assert viewed_by(staff) == sorted([alice.pk, bob.pk])
    assert_rows_are_patient_views_by(staff)


def test_the_review_change_page_records_its_author(staff):
    review = review_by(PatientFactory())

    response = console(staff).get(reverse("admin:scheduling_review_change", args=[review.pk]))

    assert response.status_code == 200
    assert viewed_by(staff) == [review.author_id]


# ---------------------------------------------------------------------------
# 3. Patient photos served to someone else
# ---------------------------------------------------------------------------
@pytest.fixture
def with_photo(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"

    def give(user):
        user.photo.save("face.jpg", ContentFile(b"\xff\xd8 not really a jpeg"), save=True)
        return user

    return give


def photo_url(user) -> str:
    return f"/api/v1/users/{user.pk}/photo/"


@pytest.mark.parametrize("viewer", ["staff", "admin", "doctor"])
def test_a_patients_photo_served_to_someone_else_is_recorded(
    with_photo, role_clients, patient, doctor, staff, clinic_admin, viewer
):
    with_photo(patient)
    CompletedAppointmentFactory(patient=patient, time_block__doctor=doctor)
    who = {"staff": staff, "admin": clinic_admin, "doctor": doctor}[viewer]

    with CaptureQueriesContext(connection) as captured:
        response = role_clients[viewer].get(photo_url(patient))

    assert response.status_code == 200
    assert len(audit_inserts(captured)) == 1
    (event,) = events(VIEWED)
    assert (event.target_id, event.actor_id, event.request_id) == (
        str(patient.pk),
        who.pk,
        response["X-Request-ID"],
    )


def test_a_patient_fetching_their_own_photo_is_not_recorded(with_photo, patient):
    with_photo(patient)
    assert client_for(patient).get(photo_url(patient)).status_code == 200
    assert events(VIEWED) == []


def test_a_doctors_photo_is_no_patient_record(with_photo, staff, doctor):
    with_photo(doctor)
    assert client_for(staff).get(photo_url(doctor)).status_code == 200
    assert events(VIEWED) == []


def test_a_refused_photo_records_nothing(with_photo, patient, other_patient):
    with_photo(patient)
    assert client_for(other_patient).get(photo_url(patient)).status_code == 404
    assert events(VIEWED) == []


# ---------------------------------------------------------------------------
# 3. The field history API: rows of patients' user records and of appointments
# ---------------------------------------------------------------------------
def test_field_history_records_the_patients_whose_rows_a_page_shows(clinic_admin):
    alice, bob = PatientFactory.create_batch(2)
    doctor, colleague = DoctorFactory(), StaffFactory()
    with auditlog_actor(doctor):
        ConfirmedAppointmentFactory(patient=bob, time_block__doctor=doctor)  # bob via appointment
        alice.first_name = "Alicia"
        alice.save()  # alice via her user row
        doctor.first_name = "Greg"
        doctor.save()  # a doctor's row: no patient
        colleague.first_name = "Sam"
        colleague.save()

    with CaptureQueriesContext(connection) as captured:
        response = client_for(clinic_admin).get(CHANGES_URL, {"page_size": 100})

    assert response.status_code == 200
    assert len(audit_inserts(captured)) == 1
    assert viewed_by(clinic_admin) == sorted([alice.pk, bob.pk])
    assert_rows_are_patient_views_by(clinic_admin)


def test_field_history_records_only_the_page_returned(clinic_admin):
    _alice, bob = PatientFactory.create_batch(2)  # bob created last: newest first
    response = client_for(clinic_admin).get(CHANGES_URL, {"page_size": 1})

    assert [row["object_id"] for row in response.json()["results"]] == [str(bob.pk)]
    assert viewed_by(clinic_admin) == [bob.pk]


def test_field_history_filtered_to_non_patients_records_nothing(clinic_admin):
    DoctorFactory()
    PatientFactory()

    response = client_for(clinic_admin).get(CHANGES_URL, {"model": "accounts.doctorprofile"})

    assert response.json()["count"] == 1
    assert events(VIEWED) == []


# ---------------------------------------------------------------------------
# 17. audit.exported: written, and committed, before any data leaves
# ---------------------------------------------------------------------------
WINDOW = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}


@pytest.mark.django_db(transaction=True)
def test_the_export_is_audited_and_committed_before_the_first_row_is_streamed(clinic_admin):
    for n in range(3):
        audit_record(action=f"test.{n}", actor=None)

    response = client_for(clinic_admin).get(EXPORT_URL, WINDOW)
    assert response.status_code == 200
    stream = iter(response.streaming_content)
    header = next(stream)

    assert b"action" in header
    # Nothing of the request's is left uncommitted: the row is in the database for everyone.
    assert not connection.in_atomic_block
    (event,) = events("audit.exported")
    assert (event.actor_id, event.data["filters"]) == (clinic_admin.pk, WINDOW)
    response.close()  # the client goes away after the first row


@pytest.mark.django_db(transaction=True)
def test_an_export_cut_short_stays_in_the_trail(clinic_admin):
    for n in range(5):
        audit_record(action=f"test.{n}", actor=None)

    response = client_for(clinic_admin).get(EXPORT_URL, WINDOW)
    next(iter(response.streaming_content))
    response.close()

    assert len(events("audit.exported")) == 1


def test_a_refused_export_is_not_audited(clinic_admin):
    response = client_for(clinic_admin).get(EXPORT_URL, {"from": WINDOW["from"]})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


# ---------------------------------------------------------------------------
# 3. The same field history in the console (django-auditlog's own admin, on our site)
# ---------------------------------------------------------------------------
def test_the_field_history_admin_records_the_patients_it_shows(clinic_admin):
    patient, doctor = PatientFactory(), DoctorFactory()
    appointment = ConfirmedAppointmentFactory(patient=patient, time_block__doctor=doctor)
    client = console(clinic_admin)

    listed = client.get(reverse("admin:auditlog_logentry_changelist"))
    entry = LogEntry.objects.get_for_object(appointment).first()
    detail = client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk]))

    assert listed.status_code == detail.status_code == 200
    assert viewed_by(clinic_admin) == [patient.pk, patient.pk]  # the list, then the entry
    assert_rows_are_patient_views_by(clinic_admin)
