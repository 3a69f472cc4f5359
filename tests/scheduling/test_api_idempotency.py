"""Idempotency-Key on the keyed writes (DESIGN-R2 §R2-2): replay, 422, 400, leases, rebuild."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.exceptions import IDEMPOTENCY_IN_PROGRESS, IDEMPOTENCY_KEY_REUSED, SLOT_TAKEN
from core.idempotency import HEADER, request_hash
from core.models import EmailMessage, IdempotencyRecord
from scheduling import services
from scheduling.models import Appointment
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url, audit_rows
from tests.support.clients import client_for
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

State = IdempotencyRecord.State


def keyed(client, url: str, data: dict, key: str = "key-1"):
    return client.post(url, data, format="json", headers={HEADER: key})


# ---------------------------------------------------------------------------
# (6) The same key and body twice: one effect, the same answer
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_keyed_booking_sent_twice_books_once_and_replays_the_same_answer(patient_client):
    block = TimeBlockFactory()

    first = keyed(patient_client, APPOINTMENTS_URL, {"time_block": block.pk})
    second = keyed(patient_client, APPOINTMENTS_URL, {"time_block": block.pk})

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert HEADER.lower() not in first.headers
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Appointment.objects.count() == 1
    assert len(audit_rows("appointment.booked")) == 1
    assert EmailMessage.objects.count() == 2  # the patient's and the doctor's, once
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.response_status, record.object_id) == (
        State.COMPLETED,
        201,
        first.json()["id"],
    )


@pytest.mark.django_db
def test_a_staff_replay_records_the_patient_record_viewed_again(staff_client, patient):
    block = TimeBlockFactory()
    data = {"time_block": block.pk, "patient": patient.pk}

    keyed(staff_client, APPOINTMENTS_URL, data)
    after_first = len(audit_rows("patient_record.viewed", target_id=str(patient.pk)))
    replayed = keyed(staff_client, APPOINTMENTS_URL, data)

    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert after_first == 1
    assert len(audit_rows("patient_record.viewed", target_id=str(patient.pk))) == 2
    assert IdempotencyRecord.objects.get().viewed_patient_ids == [patient.pk]


@pytest.mark.django_db
def test_a_keyed_transition_runs_once(doctor):
    appointment = PendingAppointmentFactory(doctor=doctor)
    client = client_for(doctor)
    url = appointment_url(appointment, "cancel")

    first = keyed(client, url, {"reason": "ill"})
    second = keyed(client, url, {"reason": "ill"})

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == first.json()
    assert len(audit_rows("appointment.cancelled")) == 1


@pytest.mark.django_db
def test_keys_are_per_user(patient_client, other_patient):
    first, second = TimeBlockFactory(), TimeBlockFactory()

    mine = keyed(patient_client, APPOINTMENTS_URL, {"time_block": first.pk})
    theirs = keyed(client_for(other_patient), APPOINTMENTS_URL, {"time_block": second.pk})

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers


# ---------------------------------------------------------------------------
# (7) Another body is 422; a bad key is 400
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422(patient_client):
    keyed(patient_client, APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk})

    reused = keyed(patient_client, APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk})

    assert reused.status_code == 422
    assert reused.json() == {
        "detail": "This Idempotency-Key was already used with another request.",
        "code": IDEMPOTENCY_KEY_REUSED,
    }
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["x" * 256, "", "tab\there", "ñ"])
def test_a_malformed_key_is_400_on_the_header(patient_client, key):
    response = keyed(patient_client, APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk}, key)

    assert response.status_code == 400
    assert set(response.json()) == {HEADER}
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_a_key_of_255_printable_characters_is_accepted(patient_client):
    key = "~ " + "k" * 253
    response = keyed(patient_client, APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk}, key)

    assert response.status_code == 201


@pytest.mark.django_db
def test_idempotency_required_makes_the_header_mandatory(settings, patient_client):
    settings.IDEMPOTENCY_REQUIRED = True
    block = TimeBlockFactory()

    missing = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk}, format="json")

    assert missing.status_code == 400
    assert set(missing.json()) == {HEADER}
    assert keyed(patient_client, APPOINTMENTS_URL, {"time_block": block.pk}).status_code == 201


@pytest.mark.django_db
def test_authentication_and_role_come_before_the_key(anon_client, doctor_client):
    block = TimeBlockFactory()
    bad = "x" * 256

    assert keyed(anon_client, APPOINTMENTS_URL, {"time_block": block.pk}, bad).status_code == 401
    assert keyed(doctor_client, APPOINTMENTS_URL, {"time_block": block.pk}, bad).status_code == 403
    assert not IdempotencyRecord.objects.exists()


# ---------------------------------------------------------------------------
# (9) A 409 is kept and replayed as a 409
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_keyed_booking_of_a_taken_block_is_409_and_its_replay_too(patient_client):
    taken = ConfirmedAppointmentFactory().time_block

    first = keyed(patient_client, APPOINTMENTS_URL, {"time_block": taken.pk})
    second = keyed(patient_client, APPOINTMENTS_URL, {"time_block": taken.pk})

    assert (first.status_code, first.json()["code"]) == (409, SLOT_TAKEN)
    assert (second.status_code, second.json()) == (409, first.json())
    assert second.headers["Idempotent-Replayed"] == "true"


# ---------------------------------------------------------------------------
# Leases: in progress, taken over, rebuilt; a crash forgets the key
# ---------------------------------------------------------------------------
def _record(user, *, body: dict, state: str, lease_seconds: float, **fields) -> IdempotencyRecord:
    request = APIRequestFactory().post(APPOINTMENTS_URL, body, format="json")
    digest = request_hash(Request(request, parsers=[JSONParser()]))
    return IdempotencyRecord.objects.create(
        user_id=user.pk,
        key="key-1",
        request_hash=digest,
        state=state,
        lease_token="seen",
        lease_until=timezone.now() + datetime.timedelta(seconds=lease_seconds),
        **fields,
    )


@pytest.mark.django_db
def test_a_retry_while_the_first_request_runs_waits_then_is_409_with_retry_after(
    settings, patient, patient_client
):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.2
    block = TimeBlockFactory()
    _record(patient, body={"time_block": block.pk}, state=State.IN_PROGRESS, lease_seconds=60)

    response = keyed(patient_client, APPOINTMENTS_URL, {"time_block": block.pk})

    assert (response.status_code, response.json()["code"]) == (409, IDEMPOTENCY_IN_PROGRESS)
    assert response.headers["Retry-After"] == "1"
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_an_expired_lease_is_taken_over_and_the_request_runs(patient, patient_client):
    block = TimeBlockFactory()
    _record(patient, body={"time_block": block.pk}, state=State.IN_PROGRESS, lease_seconds=-1)

    response = keyed(patient_client, APPOINTMENTS_URL, {"time_block": block.pk})

    assert response.status_code == 201
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.lease_token != "seen") == (State.COMPLETED, True)


@pytest.mark.django_db
def test_an_applied_key_whose_request_died_is_rebuilt_from_the_current_state(
    patient, patient_client
):
    appointment = PendingAppointmentFactory(patient=patient)
    block = appointment.time_block
    _record(
        patient,
        body={"time_block": block.pk},
        state=State.APPLIED,
        lease_seconds=-1,
        response_status=201,
        object_model="scheduling.appointment",
        object_id=appointment.pk,
    )

    response = keyed(patient_client, APPOINTMENTS_URL, {"time_block": block.pk})

    assert response.status_code == 201
    assert response.json()["id"] == appointment.pk
    assert response.headers["Idempotent-Replayed"] == "true"
    assert Appointment.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.response_body["id"]) == (State.COMPLETED, appointment.pk)


@pytest.mark.django_db
def test_a_server_error_before_applied_forgets_the_key(monkeypatch, patient_client):
    block = TimeBlockFactory()

    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "appointment_book", crash)
    patient_client.raise_request_exception = False

    response = keyed(patient_client, APPOINTMENTS_URL, {"time_block": block.pk})

    assert response.status_code == 500
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_purge_forgets_keys_older_than_the_ttl(patient, patient_client, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    keyed(patient_client, APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk}, "old")
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25), tick=False):
        IdempotencyRecord.objects.create(user_id=patient.pk, key="new", request_hash="h")
        out = StringIO()
        call_command("purge_idempotency_keys", stdout=out)

    assert out.getvalue().strip() == "1 idempotency keys purged"
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert settings.CELERY_BEAT_SCHEDULE["purge-idempotency-keys"]["schedule"] == 3600.0
