"""Calendar feeds and iTIP invites (DESIGN-R2 §R2-7): every body parsed back by icalendar."""

from __future__ import annotations

import datetime
import logging

import pytest
from django.core import mail
from django.utils import timezone
from icalendar import Calendar
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditEvent
from core.exceptions import FEED_LIMIT
from core.logfilters import RedactCalendarFeedPaths
from formats.models import CalendarFeedToken
from scheduling.models import Appointment
from scheduling.services import appointment_cancel, appointment_confirm, appointment_reschedule
from tests.support.clients import client_for
from tests.support.factories import (
    CancelledAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db

FEEDS_URL = "/api/v1/calendar-feeds/"
REASON = "Reason-never-in-a-calendar"
NOTES = "Notes-never-in-a-calendar"
HOST = "clinic.example"


@pytest.fixture(autouse=True)
def _public_base_url(settings):
    settings.PUBLIC_BASE_URL = f"https://{HOST}"


@pytest.fixture
def doctor_with_location():
    return DoctorFactory(
        first_name="Kenji", last_name="Sato", profile__location="Shibuya clinic, room 4"
    )


def _feed(user) -> tuple[dict, str]:
    """A new feed of `user` through the API: its body and the path of its url."""
    response = client_for(user).post(FEEDS_URL, {"name": "Phone"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    prefix = f"https://{HOST}"
    assert body["url"].startswith(f"{prefix}/calendar/")
    assert body["url"].endswith(".ics")
    return body, body["url"].removeprefix(prefix)


def _events(response) -> list:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    return calendar.walk("VEVENT")


def _uid(appointment: Appointment) -> str:
    return f"appointment-{appointment.pk}@{HOST}"


# ---------------------------------------------------------------------------
# The feed
# ---------------------------------------------------------------------------
def test_anonymous_get_of_the_url_lists_an_event_per_appointment(
    patient, anon_client, doctor_with_location, django_assert_max_num_queries
):
    pending = PendingAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(doctor=doctor_with_location)
    )
    confirmed = ConfirmedAppointmentFactory(
        patient=patient,
        time_block=TimeBlockFactory(doctor=doctor_with_location, start=in_days(4)),
        reason=REASON,
        notes=NOTES,
    )
    cancelled = CancelledAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(start=in_days(5))
    )
    PendingAppointmentFactory(patient=patient, time_block=TimeBlockFactory(start=in_days(400)))
    PendingAppointmentFactory(time_block=TimeBlockFactory(start=in_days(6)))  # another's
    _, path = _feed(patient)

    with django_assert_max_num_queries(2):
        response = anon_client.get(path)

    events = {str(event["UID"]): event for event in _events(response)}
    assert set(events) == {_uid(pending), _uid(confirmed), _uid(cancelled)}
    assert response["Cache-Control"] == "private, max-age=300"
    assert response["ETag"]
    event = events[_uid(confirmed)]
    assert str(event["SUMMARY"]) == "Appointment"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(events[_uid(pending)]["STATUS"]) == "TENTATIVE"
    assert str(events[_uid(cancelled)]["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 0
    assert str(event["LOCATION"]) == "Shibuya clinic, room 4"
    assert event.decoded("DTSTART") == confirmed.start
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)
    assert event.decoded("DTEND") == confirmed.end
    assert "DTSTAMP" in event
    text = response.content.decode()
    for secret in (REASON, NOTES, "Kenji", "Sato", patient.email, patient.last_name):
        assert secret not in text


def test_the_feed_shows_no_other_status_as_a_wrong_one(patient, anon_client):
    statuses = {
        Appointment.Status.ARRIVED: "CONFIRMED",
        Appointment.Status.COMPLETED: "CONFIRMED",
        Appointment.Status.NO_SHOW: "CANCELLED",
    }
    made = {
        PendingAppointmentFactory(
            patient=patient, status=status, time_block=TimeBlockFactory(start=in_days(i - 2))
        ).pk: expected
        for i, (status, expected) in enumerate(statuses.items())
    }
    _, path = _feed(patient)

    events = _events(anon_client.get(path))

    assert {int(str(e["UID"]).split("-")[1].split("@")[0]): str(e["STATUS"]) for e in events} == (
        made
    )


def test_the_doctors_feed_has_no_patient_name_reason_or_location(doctor_with_location, anon_client):
    patient = PatientFactory(first_name="Lucia", last_name="Fernandez-Unique")
    appointment = ConfirmedAppointmentFactory(
        patient=patient,
        time_block=TimeBlockFactory(doctor=doctor_with_location),
        reason=REASON,
        notes=NOTES,
    )
    _, path = _feed(doctor_with_location)

    response = anon_client.get(path)

    [event] = _events(response)
    assert str(event["UID"]) == _uid(appointment)
    assert "LOCATION" not in event
    text = response.content.decode()
    for secret in (REASON, NOTES, "Lucia", "Fernandez-Unique", patient.email):
        assert secret not in text


def test_reschedule_keeps_the_uid_and_adds_one_to_the_sequence_and_cancel_cancels(
    patient, anon_client
):
    appointment = PendingAppointmentFactory(patient=patient)
    _, path = _feed(patient)
    [before] = _events(anon_client.get(path))

    target = TimeBlockFactory(doctor=appointment.doctor, start=in_days(8))
    appointment_reschedule(actor=patient, appointment=appointment, time_block=target)
    [moved] = _events(anon_client.get(path))
    appointment_cancel(actor=patient, appointment=appointment)
    [cancelled] = _events(anon_client.get(path))

    assert str(before["UID"]) == str(moved["UID"]) == str(cancelled["UID"])
    assert moved["SEQUENCE"] == before["SEQUENCE"] + 1
    assert moved.decoded("DTSTART") == target.start
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled["SEQUENCE"] == moved["SEQUENCE"] + 1


def test_confirm_adds_one_to_the_sequence(patient, doctor):
    appointment = PendingAppointmentFactory(patient=patient, time_block__doctor=doctor)

    appointment_confirm(actor=doctor, appointment=appointment)

    appointment.refresh_from_db()
    assert appointment.ical_sequence == 1


def test_bad_revoked_and_inactive_owner_tokens_are_one_identical_unlogged_404(
    patient, anon_client, caplog
):
    PendingAppointmentFactory(patient=patient)
    body, revoked_path = _feed(patient)
    assert client_for(patient).delete(f"{FEEDS_URL}{body['id']}/").status_code == 204
    _, suspended_path = _feed(suspended := PatientFactory())
    suspended.suspended_at = timezone.now()
    suspended.save(update_fields=["suspended_at"])
    _, inactive_path = _feed(inactive := PatientFactory())
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    paths = [revoked_path, suspended_path, inactive_path, "/calendar/not-a-token.ics"]

    with caplog.at_level(logging.DEBUG):
        responses = [anon_client.get(path) for path in paths]

    first = responses[0]
    assert first.status_code == 404
    assert first["Content-Type"] == "text/plain; charset=utf-8"
    for response in responses:
        assert (response.status_code, response.content) == (first.status_code, first.content)
        assert response["Content-Type"] == first["Content-Type"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/calendar/<redacted>.ics" in logged
    for path in paths:
        token = path.removeprefix("/calendar/").removesuffix(".ics")
        assert token not in logged


def test_if_none_match_answers_304(patient, anon_client):
    PendingAppointmentFactory(patient=patient)
    _, path = _feed(patient)
    etag = anon_client.get(path)["ETag"]

    response = anon_client.get(path, headers={"If-None-Match": etag})
    weak = anon_client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""
    assert weak.status_code == 304


@pytest.fixture
def two_feed_reads_an_hour(monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "calendar_feed": "2/hour"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.mark.usefixtures("two_feed_reads_an_hour")
def test_the_feed_is_throttled_per_token_from_any_address(patient, anon_client, caplog):
    _, path = _feed(patient)
    addresses = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]

    responses = [anon_client.get(path, REMOTE_ADDR=address) for address in addresses]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2]["Content-Type"] == "text/plain; charset=utf-8"
    assert int(responses[2]["Retry-After"]) > 0
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    assert token not in "\n".join(record.getMessage() for record in caplog.records)


@pytest.mark.usefixtures("two_feed_reads_an_hour")
def test_the_feed_is_throttled_per_address_over_any_token(patient, anon_client):
    paths = [_feed(patient)[1] for _ in range(3)]

    codes = [anon_client.get(path, REMOTE_ADDR="198.51.100.7").status_code for path in paths]

    assert codes == [200, 200, 429]


def test_an_owner_in_spanish_reads_cita(anon_client):
    patient = PatientFactory(language="es")
    PendingAppointmentFactory(patient=patient)
    _, path = _feed(patient)

    [event] = _events(anon_client.get(path))

    assert str(event["SUMMARY"]) == "Cita"


# ---------------------------------------------------------------------------
# calendar-feeds/
# ---------------------------------------------------------------------------
def test_the_sixth_live_feed_is_feed_limit(patient):
    for _ in range(5):
        _feed(patient)

    response = client_for(patient).post(FEEDS_URL, {"name": "Sixth"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == FEED_LIMIT


def test_a_revoked_feed_frees_its_place(patient):
    bodies = [_feed(patient)[0] for _ in range(5)]
    client_for(patient).delete(f"{FEEDS_URL}{bodies[0]['id']}/")

    _feed(patient)


def test_list_shows_own_live_feeds_without_url(
    patient, patient_client, django_assert_max_num_queries
):
    body, path = _feed(patient)
    _feed(PatientFactory())
    token = path.removeprefix("/calendar/").removesuffix(".ics")

    with django_assert_max_num_queries(3):
        response = patient_client.get(FEEDS_URL)

    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item == {
        "id": body["id"],
        "name": "Phone",
        "prefix": token[:8],
        "created_at": body["created_at"],
    }
    assert token not in response.content.decode()


def test_feeds_are_audited_without_the_token(patient):
    body, path = _feed(patient)
    client_for(patient).delete(f"{FEEDS_URL}{body['id']}/")
    token = path.removeprefix("/calendar/").removesuffix(".ics")

    events = AuditEvent.objects.filter(action__startswith="calendar_feed.").order_by("id")

    assert [event.action for event in events] == [
        "calendar_feed.created",
        "calendar_feed.revoked",
    ]
    for event in events:
        assert token not in str(event.data)
    assert not CalendarFeedToken.objects.filter(token_hash__contains=token).exists()


@pytest.mark.parametrize(
    ("role", "method", "expected"),
    [
        ("anon", "get", 401),
        ("anon", "post", 401),
        ("patient", "get", 200),
        ("doctor", "get", 200),
        ("staff", "get", 403),
        ("admin", "get", 403),
        ("staff", "post", 403),
        ("admin", "post", 403),
    ],
)
def test_calendar_feeds_permission_matrix(role_clients, anon_client, role, method, expected):
    client = anon_client if role == "anon" else role_clients[role]

    response = getattr(client, method)(FEEDS_URL, {"name": "x"}, format="json")

    assert response.status_code == expected


def test_another_users_feed_cannot_be_deleted(patient, other_patient):
    body, _ = _feed(patient)

    response = client_for(other_patient).delete(f"{FEEDS_URL}{body['id']}/")

    assert response.status_code == 404
    assert CalendarFeedToken.objects.get(pk=body["id"]).revoked_at is None


# ---------------------------------------------------------------------------
# Invites
# ---------------------------------------------------------------------------
def _invite(message, method: str):
    [(filename, content, mimetype)] = message.attachments
    assert filename == "invite.ics"
    assert mimetype == f"text/calendar; method={method}"
    calendar = Calendar.from_ical(content)
    assert str(calendar["METHOD"]) == method
    [event] = calendar.walk("VEVENT")
    return event


def test_the_booking_mail_carries_a_request_with_the_feeds_uid(
    patient, doctor_with_location, django_capture_on_commit_callbacks, settings
):
    settings.DEFAULT_FROM_EMAIL = "Clinic <desk@clinic.example>"
    settings.CLINIC_NAME = "Sunny Clinic"
    block = TimeBlockFactory(doctor=doctor_with_location)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(patient).post(
            "/api/v1/appointments/", {"time_block": block.pk, "reason": REASON}, format="json"
        )

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        event = _invite(message, "REQUEST")
        assert str(event["UID"]) == _uid(appointment)
        assert event["SEQUENCE"] == appointment.ical_sequence
        assert str(event["ORGANIZER"]) == "mailto:desk@clinic.example"
        assert str(event["ORGANIZER"].params["CN"]) == "Sunny Clinic"
        assert str(event["ATTENDEE"]) == f"mailto:{message.to[0]}"
        assert str(event["STATUS"]) == "TENTATIVE"
        assert REASON not in message.attachments[0][1]
    [to_patient] = [m for m in mail.outbox if m.to == [patient.email]]
    [to_doctor] = [m for m in mail.outbox if m.to != [patient.email]]
    assert "LOCATION" in _invite(to_patient, "REQUEST")
    assert "LOCATION" not in _invite(to_doctor, "REQUEST")


def test_confirm_and_reschedule_mails_carry_a_request_with_the_new_sequence(
    patient, doctor, django_capture_on_commit_callbacks
):
    appointment = PendingAppointmentFactory(patient=patient, time_block__doctor=doctor)

    with django_capture_on_commit_callbacks(execute=True):
        appointment_confirm(actor=doctor, appointment=appointment)
    [confirmed] = mail.outbox
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        appointment_reschedule(
            actor=patient,
            appointment=appointment,
            time_block=TimeBlockFactory(doctor=doctor, start=in_days(9)),
        )

    assert _invite(confirmed, "REQUEST")["SEQUENCE"] == 1
    for message in mail.outbox:
        assert _invite(message, "REQUEST")["SEQUENCE"] == 2


def test_the_cancel_mail_carries_a_cancel(patient, doctor, django_capture_on_commit_callbacks):
    appointment = ConfirmedAppointmentFactory(patient=patient, time_block__doctor=doctor)

    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(actor=patient, appointment=appointment)

    [message] = mail.outbox
    assert message.to == [doctor.email]
    assert 'Content-Type: text/calendar; method="CANCEL"' in message.message().as_string()
    event = _invite(message, "CANCEL")
    assert str(event["UID"]) == _uid(appointment)
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1


def test_an_invite_to_a_recipient_in_spanish_reads_cita(doctor, django_capture_on_commit_callbacks):
    patient = PatientFactory(language="es")
    appointment = PendingAppointmentFactory(patient=patient, time_block__doctor=doctor)

    with django_capture_on_commit_callbacks(execute=True):
        appointment_confirm(actor=doctor, appointment=appointment)

    [message] = mail.outbox
    assert str(_invite(message, "REQUEST")["SUMMARY"]) == "Cita"


def test_the_log_handler_redacts_a_feed_path_in_any_line():
    record = logging.LogRecord(
        "django.request",
        logging.ERROR,
        __file__,
        1,
        "Internal Server Error: %s",
        ("/calendar/s3cret.ics",),
        None,
    )

    assert RedactCalendarFeedPaths().filter(record)

    assert record.getMessage() == "Internal Server Error: /calendar/<redacted>.ics"
