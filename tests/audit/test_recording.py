"""Recording audit events: same transaction as the action, request context, failures, no secrets."""

from __future__ import annotations

import datetime
import io
import json
import re

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.services import LOGIN_STRING_SALT
from audit.models import AuditEvent
from audit.services import audit_record
from scheduling import services as scheduling_services
from scheduling.models import Appointment
from tests.audit.helpers import API, APPOINTMENTS_URL, STRONG_PASSWORD, events
from tests.support.clients import client_for
from tests.support.factories import (
    DEFAULT_PASSWORD,
    ConfirmedAppointmentFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

REGISTER_URL = f"{API}/auth/register/"
TOKEN_URL = f"{API}/auth/token/"
REFRESH_URL = f"{API}/auth/token/refresh/"
LOGOUT_URL = f"{API}/auth/logout/"
PASSWORD_CHANGE_URL = f"{API}/auth/password/change/"
PASSWORD_RESET_URL = f"{API}/auth/password/reset/"
PASSWORD_RESET_CONFIRM_URL = f"{API}/auth/password/reset/confirm/"

pytestmark = pytest.mark.django_db

RESET_URL_TEMPLATE = "https://app.example.test/reset/{uid}/{token}/"
RESET_LINK = re.compile(r"https://app\.example\.test/reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/")


def appointment_url(appointment: Appointment, transition: str | None = None) -> str:
    url = f"{APPOINTMENTS_URL}{appointment.pk}/"
    return f"{url}{transition}/" if transition else url


# ---------------------------------------------------------------------------
# The event commits or rolls back with its action
# ---------------------------------------------------------------------------
def test_event_commits_with_the_action_it_records(doctor):
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)

    scheduling_services.appointment_confirm(actor=doctor, appointment=appointment)

    (event,) = events("appointment.confirmed")
    assert (event.target_type, event.target_id) == ("appointment", str(appointment.pk))
    assert (event.actor_id, event.actor_role, event.actor_label) == (
        doctor.pk,
        "doctor",
        doctor.email,
    )


def test_event_rolls_back_when_the_surrounding_transaction_fails(doctor):
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)
    history_before = LogEntry.objects.count()

    def confirm_then_fail() -> None:
        with transaction.atomic():
            scheduling_services.appointment_confirm(actor=doctor, appointment=appointment)
            raise RuntimeError("something failed after the confirmation")

    with pytest.raises(RuntimeError, match="after the confirmation"):
        confirm_then_fail()

    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.PENDING
    assert events("appointment.confirmed") == []
    assert LogEntry.objects.count() == history_before


def test_user_update_event_rolls_back_with_the_update(clinic_admin, patient):
    def update_then_fail() -> None:
        with transaction.atomic():
            account_services.user_update(actor=clinic_admin, user=patient, first_name="Renamed")
            raise RuntimeError("something failed after the update")

    with pytest.raises(RuntimeError, match="after the update"):
        update_then_fail()

    patient.refresh_from_db()
    assert patient.first_name != "Renamed"
    assert events("user.updated") == []


# ---------------------------------------------------------------------------
# Request context
# ---------------------------------------------------------------------------
def test_events_of_an_api_request_carry_address_user_agent_request_id_and_jwt_actor(doctor):
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)
    client = client_for(doctor)

    response = client.post(
        appointment_url(appointment, "confirm"),
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="ClinicTablet/2.1",
        HTTP_X_REQUEST_ID="req-42-front-desk",
    )

    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-42-front-desk"
    (event,) = events("appointment.confirmed")
    assert event.ip == "203.0.113.7"
    assert event.user_agent == "ClinicTablet/2.1"
    assert re.fullmatch(r"[0-9a-f]{32}", event.request_id)  # the server's own id
    assert event.data["client_request_id"] == "req-42-front-desk"
    assert (event.actor_id, event.actor_role, event.actor_label) == (
        doctor.pk,
        "doctor",
        doctor.email,
    )
    # The field history of the same request has the JWT user and the address too.
    entry = LogEntry.objects.filter(object_pk=str(appointment.pk)).latest("id")
    assert entry.actor_id == doctor.pk
    assert entry.remote_addr == "203.0.113.7"


def test_actor_of_a_read_event_comes_from_jwt_authentication(doctor):
    """patient_record.viewed takes its actor from the request context (no explicit actor)."""
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)

    response = client_for(doctor).get(
        appointment_url(appointment), REMOTE_ADDR="198.51.100.20", HTTP_USER_AGENT="Browser/1"
    )

    assert response.status_code == 200
    (event,) = events("patient_record.viewed")
    assert (event.actor_id, event.actor_role, event.actor_label) == (
        doctor.pk,
        "doctor",
        doctor.email,
    )
    assert (event.ip, event.user_agent) == ("198.51.100.20", "Browser/1")
    assert event.request_id == response["X-Request-ID"]


def test_behind_one_trusted_proxy_the_address_is_the_forwarded_one(settings, doctor):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)

    client_for(doctor).post(
        appointment_url(appointment, "confirm"),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.66, 203.0.113.50",
    )

    (event,) = events("appointment.confirmed")
    # The proxy appended what it saw; the leftmost entry was typed by the client.
    assert event.ip == "203.0.113.50"


def test_without_trusted_proxies_a_forwarded_header_is_ignored(settings, doctor):
    settings.TRUSTED_PROXY_COUNT = 0
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)

    client_for(doctor).post(
        appointment_url(appointment, "confirm"),
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="192.0.2.66",
    )

    (event,) = events("appointment.confirmed")
    assert event.ip == "203.0.113.7"


def test_malformed_request_id_is_replaced_by_the_generated_one(doctor):
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)

    response = client_for(doctor).post(
        appointment_url(appointment, "confirm"), HTTP_X_REQUEST_ID="not allowed; <script>"
    )

    (event,) = events("appointment.confirmed")
    assert event.request_id == response["X-Request-ID"]
    assert event.request_id != "not allowed; <script>"
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", event.request_id)


# ---------------------------------------------------------------------------
# Failures are recorded although the request answers 401
# ---------------------------------------------------------------------------
def test_failed_login_is_recorded_with_the_attempted_address(anon_client, patient):
    response = anon_client.post(
        TOKEN_URL,
        {"email": patient.email, "password": "Wrong-pelican-guess-12"},
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 401
    (event,) = events("auth.login_failed")
    assert event.data == {"email": patient.email}
    assert (event.target_type, event.target_id) == ("user", str(patient.pk))
    assert (event.actor_id, event.actor_role) == (None, "system")
    assert event.ip == "203.0.113.9"


def test_failed_login_of_an_unknown_address_keeps_the_address(anon_client):
    response = anon_client.post(
        TOKEN_URL, {"email": "nobody@example.org", "password": "Wrong-pelican-guess-12"}
    )

    assert response.status_code == 401
    (event,) = events("auth.login_failed")
    assert event.data == {"email": "nobody@example.org"}


def test_failed_login_with_something_else_than_an_address_keeps_only_its_keyed_digest(
    anon_client,
):
    typed = "Hunter2-typed-into-the-email-box"

    response = anon_client.post(TOKEN_URL, {"email": typed, "password": "whatever-it-is"})

    assert response.status_code == 401
    (event,) = events("auth.login_failed")
    keyed = salted_hmac(LOGIN_STRING_SALT, typed.encode(), algorithm="sha256").hexdigest()
    assert event.data == {"email": keyed}
    assert typed not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_failed_refresh_of_a_garbage_token_is_recorded(anon_client):
    response = anon_client.post(REFRESH_URL, {"refresh": "not-a-jwt"}, REMOTE_ADDR="203.0.113.10")

    assert response.status_code == 401
    (event,) = events("auth.refresh_failed")
    assert (event.actor_id, event.actor_role) == (None, "system")
    assert event.ip == "203.0.113.10"


def test_reuse_of_a_rotated_refresh_token_is_recorded(anon_client, patient):
    tokens = anon_client.post(
        TOKEN_URL, {"email": patient.email, "password": DEFAULT_PASSWORD}
    ).json()
    assert anon_client.post(REFRESH_URL, {"refresh": tokens["refresh"]}).status_code == 200

    response = anon_client.post(REFRESH_URL, {"refresh": tokens["refresh"]})

    assert response.status_code == 401
    (event,) = events("auth.refresh_failed")
    assert (event.actor_id, event.actor_role) == (None, "system")


# ---------------------------------------------------------------------------
# Commands and the system
# ---------------------------------------------------------------------------
def test_commands_record_their_actions_as_the_system():
    confirmed = ConfirmedAppointmentFactory()
    pending = PendingAppointmentFactory()

    with time_machine.travel(timezone.now() + datetime.timedelta(days=30), tick=False):
        call_command("close_past_appointments", stdout=io.StringIO())

    closing = events("appointment.completed") + events("appointment.cancelled")
    assert {event.target_id for event in closing} == {str(confirmed.pk), str(pending.pk)}
    for event in closing:
        assert (event.actor_id, event.actor_role, event.actor_label) == (None, "system", "system")
        assert (event.ip, event.request_id) == (None, "")


def test_an_event_recorded_outside_any_request_is_the_systems():
    audit_record(action="maintenance.ran")

    (event,) = events("maintenance.ran")
    assert (event.actor_id, event.actor_role, event.actor_label) == (None, "system", "system")


# ---------------------------------------------------------------------------
# Never a secret or clinical free text
# ---------------------------------------------------------------------------
REASON = "Zebra-quartz palpitations after espresso"
NOTES = "Prescribed xylophonium 40mg twice daily"
CANCEL_REASON = "Marmalade festival clash"
WRONG_PASSWORD = "Wrong-pelican-guess-12"
SECOND_PASSWORD = "Second-quokka-passphrase-71"
THIRD_PASSWORD = "Third-narwhal-passphrase-58"
TYPED_INTO_EMAIL = "Typed-secret-in-email-box-99"


def test_no_event_or_field_history_holds_a_secret_or_clinical_text(
    settings, doctor, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_URL = RESET_URL_TEMPLATE
    anon = APIClient()
    email = "wanda.secret@example.com"
    block = TimeBlockFactory(doctor=doctor)

    register = anon.post(
        REGISTER_URL,
        {"email": email, "password": STRONG_PASSWORD, "first_name": "Wanda", "last_name": "Ng"},
    )
    assert register.status_code == 201, register.json()
    assert anon.post(TOKEN_URL, {"email": email, "password": WRONG_PASSWORD}).status_code == 401
    assert anon.post(TOKEN_URL, {"email": TYPED_INTO_EMAIL, "password": "x-y-z"}).status_code == 401
    first = anon.post(TOKEN_URL, {"email": email, "password": STRONG_PASSWORD}).json()
    second = anon.post(REFRESH_URL, {"refresh": first["refresh"]}).json()
    assert anon.post(REFRESH_URL, {"refresh": first["refresh"]}).status_code == 401

    patient_api = APIClient()
    patient_api.credentials(HTTP_AUTHORIZATION=f"Bearer {second['access']}")
    booked = patient_api.post(APPOINTMENTS_URL, {"time_block": block.pk, "reason": REASON})
    assert booked.status_code == 201, booked.json()
    appointment = Appointment.objects.get(pk=booked.json()["id"])
    noted = client_for(doctor).patch(appointment_url(appointment), {"notes": NOTES})
    assert noted.status_code == 200, noted.json()
    cancelled = patient_api.post(appointment_url(appointment, "cancel"), {"reason": CANCEL_REASON})
    assert cancelled.status_code == 200, cancelled.json()
    assert patient_api.post(LOGOUT_URL, {"refresh": second["refresh"]}).status_code == 204
    changed = patient_api.post(
        PASSWORD_CHANGE_URL,
        {"current_password": STRONG_PASSWORD, "new_password": SECOND_PASSWORD},
    )
    assert changed.status_code == 204, changed.content

    with django_capture_on_commit_callbacks(execute=True):
        assert anon.post(PASSWORD_RESET_URL, {"email": email}).status_code == 202
    (message,) = mail.outbox
    link = RESET_LINK.search(message.body)
    assert link, message.body
    confirmed = anon.post(
        PASSWORD_RESET_CONFIRM_URL,
        {"uid": link["uid"], "token": link["token"], "new_password": THIRD_PASSWORD},
    )
    assert confirmed.status_code == 204, confirmed.content
    third = anon.post(TOKEN_URL, {"email": email, "password": THIRD_PASSWORD}).json()

    recorded = {event.action for event in AuditEvent.objects.all()}
    assert {
        "auth.registered",
        "auth.login_failed",
        "auth.login_succeeded",
        "auth.refresh_failed",
        "auth.logout",
        "auth.password_changed",
        "auth.password_reset_requested",
        "auth.password_reset",
        "appointment.booked",
        "appointment.updated",
        "appointment.cancelled",
    } <= recorded
    secrets = {
        "password": STRONG_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "changed password": SECOND_PASSWORD,
        "reset password": THIRD_PASSWORD,
        "text typed into the email box": TYPED_INTO_EMAIL,
        "first access token": first["access"],
        "first refresh token": first["refresh"],
        "rotated access token": second["access"],
        "rotated refresh token": second["refresh"],
        "last access token": third["access"],
        "last refresh token": third["refresh"],
        "reset link": link.group(0),
        "reset token": link["token"],
        "reason": REASON,
        "notes": NOTES,
        "cancellation reason": CANCEL_REASON,
    }
    audit_text = json.dumps(list(AuditEvent.objects.values()), default=str)
    history_text = json.dumps(
        [entry.changes for entry in LogEntry.objects.all()]
        + list(LogEntry.objects.values("changes_text", "object_repr", "serialized_data")),
        default=str,
    )
    assert LogEntry.objects.filter(object_pk=str(appointment.pk)).count() >= 3
    for name, secret in secrets.items():
        assert secret not in audit_text, f"the {name} is in an audit event"
        assert secret not in history_text, f"the {name} is in the field history"
    # Not even part of the clinical text (django-auditlog's default mask keeps half of it).
    for text in (REASON, NOTES, CANCEL_REASON):
        for word in (word for word in text.split() if len(word) >= 6):
            assert word not in audit_text, f"{word!r} of {text!r} is in an audit event"
            assert word not in history_text, f"{word!r} of {text!r} is in the field history"
