"""Appointment emails: who gets which, their content, and a failing mail server."""

from __future__ import annotations

import datetime
import logging
import zoneinfo

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from core.models import EmailMessage
from scheduling.models import Appointment
from scheduling.services import appointment_cancel
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url
from tests.support.clients import client_for
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StartedConfirmedAppointmentFactory,
    TimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db

REASON = "Reason-text-never-mailed"
NOTES = "Notes-text-never-mailed"
CANCEL_REASON = "Cancel-reason-never-mailed"


class ExplodingEmailBackend(BaseEmailBackend):
    """A mail server that is down: a test double of Django's mail backend."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server unreachable")


@pytest.fixture
def tokyo_doctor():
    return DoctorFactory(
        first_name="Kenji",
        last_name="Sato",
        profile__timezone="Asia/Tokyo",
        profile__location="Shibuya clinic",
    )


@pytest.fixture
def tokyo_block(tokyo_doctor):
    """10:30 UTC, which is 19:30 in Tokyo (no daylight saving there)."""
    start = in_days(4, hour=10) + datetime.timedelta(minutes=30)
    return TimeBlockFactory(doctor=tokyo_doctor, start=start)


@pytest.fixture
def booked(patient, tokyo_block):
    return ConfirmedAppointmentFactory(
        patient=patient, time_block=tokyo_block, reason=REASON, notes=NOTES
    )


def _recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def _html(message) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


def _assert_well_formed(message, *, local_time: str, zone: str) -> None:
    """Plain text and HTML, the time in the doctor's zone, no clinical free text."""
    html = _html(message)
    for text in (message.subject, message.body, html):
        assert local_time in text
        assert zone in text
        for secret in (REASON, NOTES, CANCEL_REASON):
            assert secret not in text
    assert message.body.strip()
    assert "<html" in html


# ---------------------------------------------------------------------------
# Who gets which email
# ---------------------------------------------------------------------------
def test_booking_mails_the_patient_and_the_doctor(
    patient, patient_client, tokyo_doctor, tokyo_block, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(
            APPOINTMENTS_URL, {"time_block": tokyo_block.pk, "reason": REASON}
        )

    assert response.status_code == 201, response.content
    assert _recipients() == sorted([patient.email, tokyo_doctor.email])
    for message in mail.outbox:
        _assert_well_formed(message, local_time="19:30", zone="Asia/Tokyo")
        assert "10:30" not in message.body
        assert message.subject.startswith("Appointment requested")
    [to_doctor] = [m for m in mail.outbox if m.to == [tokyo_doctor.email]]
    [to_patient] = [m for m in mail.outbox if m.to == [patient.email]]
    # Each mail names the appointment's people and place for its reader.
    assert patient.last_name in to_doctor.body
    assert "Kenji Sato" in to_patient.body
    assert "Shibuya clinic" in to_patient.body
    assert "20:00" in to_patient.body  # the end, also local


def test_staff_booking_mails_the_patient_and_the_doctor(
    staff_client, patient, tokyo_doctor, tokyo_block, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            APPOINTMENTS_URL, {"time_block": tokyo_block.pk, "patient": patient.pk}
        )

    assert response.status_code == 201
    assert _recipients() == sorted([patient.email, tokyo_doctor.email])


@pytest.mark.parametrize("role", ["doctor", "staff", "admin"])
def test_confirmation_mails_the_patient_only(
    role, patient, tokyo_doctor, staff, clinic_admin, django_capture_on_commit_callbacks
):
    actor = {"doctor": tokyo_doctor, "staff": staff, "admin": clinic_admin}[role]
    appointment = PendingAppointmentFactory(
        patient=patient,
        time_block=TimeBlockFactory(
            doctor=tokyo_doctor, start=in_days(4, hour=1) + datetime.timedelta(minutes=30)
        ),
        reason=REASON,
        notes=NOTES,
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(actor).post(appointment_url(appointment, "confirm"))

    assert response.status_code == 200
    [message] = mail.outbox
    assert message.to == [patient.email]
    assert message.subject.startswith("Appointment confirmed")
    _assert_well_formed(message, local_time="10:30", zone="Asia/Tokyo")


@pytest.mark.parametrize(
    ("role", "recipients"),
    [
        ("patient", ["doctor"]),
        ("doctor", ["patient"]),
        ("staff", ["patient", "doctor"]),
        ("admin", ["patient", "doctor"]),
    ],
)
def test_cancellation_mails_the_other_party(
    role,
    recipients,
    patient,
    tokyo_doctor,
    staff,
    clinic_admin,
    booked,
    django_capture_on_commit_callbacks,
):
    people = {"patient": patient, "doctor": tokyo_doctor, "staff": staff, "admin": clinic_admin}

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(people[role]).post(
            appointment_url(booked, "cancel"), {"reason": CANCEL_REASON}
        )

    assert response.status_code == 200, response.content
    assert _recipients() == sorted(people[r].email for r in recipients)
    for message in mail.outbox:
        assert message.subject.startswith("Appointment cancelled")
        _assert_well_formed(message, local_time="19:30", zone="Asia/Tokyo")


def test_a_cancellation_by_the_system_mails_both(
    patient, tokyo_doctor, booked, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(actor=None, appointment=booked, reason=CANCEL_REASON)

    assert _recipients() == sorted([patient.email, tokyo_doctor.email])
    booked.refresh_from_db()
    assert booked.cancelled_by is None


@pytest.mark.parametrize("role", ["patient", "staff"])
def test_reschedule_mails_both_with_the_new_time(
    role, patient, staff, tokyo_doctor, booked, django_capture_on_commit_callbacks
):
    actor = {"patient": patient, "staff": staff}[role]
    # 23:30 UTC on day 5 is 08:30 the next morning in Tokyo: the local date moves too.
    new_start = in_days(5, hour=23) + datetime.timedelta(minutes=30)
    target = TimeBlockFactory(doctor=tokyo_doctor, start=new_start)
    local = new_start.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(actor).post(
            appointment_url(booked, "reschedule"), {"time_block": target.pk}
        )

    assert response.status_code == 200, response.content
    assert _recipients() == sorted([patient.email, tokyo_doctor.email])
    for message in mail.outbox:
        assert message.subject.startswith("Appointment moved")
        _assert_well_formed(message, local_time="08:30", zone="Asia/Tokyo")
        assert local.strftime("%d %B %Y") in message.body
        assert "19:30" not in message.body


def test_times_follow_daylight_saving_in_the_doctors_zone(
    patient, patient_client, django_capture_on_commit_callbacks
):
    doctor = DoctorFactory(profile__timezone="America/New_York")
    # 15:00 UTC is 10:00 EST in January and 11:00 EDT in July.
    winter = TimeBlockFactory(
        doctor=doctor, start=datetime.datetime(2031, 1, 15, 15, 0, tzinfo=datetime.UTC)
    )
    summer = TimeBlockFactory(
        doctor=doctor, start=datetime.datetime(2031, 7, 15, 15, 0, tzinfo=datetime.UTC)
    )

    with django_capture_on_commit_callbacks(execute=True):
        patient_client.post(APPOINTMENTS_URL, {"time_block": winter.pk})
    winter_mail = next(m for m in mail.outbox if m.to == [patient.email])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        patient_client.post(APPOINTMENTS_URL, {"time_block": summer.pk})
    summer_mail = next(m for m in mail.outbox if m.to == [patient.email])

    _assert_well_formed(winter_mail, local_time="10:00", zone="America/New_York")
    _assert_well_formed(summer_mail, local_time="11:00", zone="America/New_York")


def test_names_are_escaped_in_the_html_part(
    staff_client, tokyo_doctor, tokyo_block, django_capture_on_commit_callbacks
):
    patient = PatientFactory(first_name="<img src=x onerror=alert(1)>", last_name="Doe")

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(APPOINTMENTS_URL, {"time_block": tokyo_block.pk, "patient": patient.pk})

    [to_doctor] = [m for m in mail.outbox if m.to == [tokyo_doctor.email]]
    assert "<img" not in _html(to_doctor)
    assert "&lt;img src=x onerror=alert(1)&gt; Doe" in _html(to_doctor)


@pytest.mark.parametrize("transition", ["complete", "no_show"])
def test_complete_and_no_show_send_no_email(
    transition, doctor, doctor_client, django_capture_on_commit_callbacks
):
    appointment = StartedConfirmedAppointmentFactory(time_block__doctor=doctor)

    with django_capture_on_commit_callbacks(execute=True):
        response = doctor_client.post(appointment_url(appointment, transition))

    assert response.status_code == 200
    assert mail.outbox == []


def test_patch_sends_no_email(staff_client, booked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.patch(appointment_url(booked), {"notes": "More notes"})

    assert response.status_code == 200
    assert mail.outbox == []


def test_no_email_before_the_transaction_commits(patient_client, tokyo_block):
    # Without the commit (the test transaction never commits), nothing is sent.
    response = patient_client.post(APPOINTMENTS_URL, {"time_block": tokyo_block.pk})

    assert response.status_code == 201
    assert mail.outbox == []


# ---------------------------------------------------------------------------
# A failing mail server
# ---------------------------------------------------------------------------
def test_a_failing_mail_backend_is_logged_and_the_booking_still_succeeds(
    settings, patient, patient_client, tokyo_block, caplog, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.ExplodingEmailBackend"

    with (
        caplog.at_level(logging.WARNING, logger="medappt.mail"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        response = patient_client.post(
            APPOINTMENTS_URL, {"time_block": tokyo_block.pk, "reason": REASON}
        )

    assert response.status_code == 201, response.content
    # One send job for both mails (beside it, the outbox's fan-out of the booking's event).
    assert [c.args[0].name for c in callbacks if c.args[0].name.startswith("core.")] == [
        "core.tasks.send_email"
    ]
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert appointment.patient_id == patient.pk
    # Both mails wait in the outbox for their next attempt.
    queued = EmailMessage.objects.filter(template="appointment_booked")
    assert (
        sorted((m.status, m.attempts, m.last_error) for m in queued)
        == [("pending", 1, "ConnectionRefusedError")] * 2
    )
    failures = [r for r in caplog.records if r.name == "medappt.mail"]
    assert len(failures) == 2
    assert all("appointment_booked" in r.getMessage() for r in failures)
    assert all(REASON not in r.getMessage() for r in failures)


@pytest.mark.django_db(transaction=True)
def test_a_failing_mail_backend_after_a_real_commit_does_not_fail_the_request(settings, caplog):
    # A real commit runs the on-commit callbacks inside the request itself.
    settings.EMAIL_BACKEND = f"{__name__}.ExplodingEmailBackend"
    doctor = DoctorFactory()
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)

    with caplog.at_level(logging.WARNING):
        response = client_for(doctor).post(appointment_url(appointment, "confirm"))

    assert response.status_code == 200, response.content
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    (message,) = EmailMessage.objects.filter(template="appointment_confirmed")
    assert (message.status, message.attempts) == ("pending", 1)  # retried later
    assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == ["medappt.mail"]
