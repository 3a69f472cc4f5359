"""The transactional outbox (DESIGN-R2 R2-6): every appointment service writes exactly one
OutboxEvent beside its audit row; a rollback or a refused write leaves none."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
import time_machine
from django.db import transaction

from core.models import OutboxEvent
from core.outbox import outbox_purge
from scheduling.models import Appointment
from scheduling.services.appointments import (
    appointment_book,
    appointment_cancel,
    appointment_complete,
    appointment_confirm,
    appointment_no_show,
    appointment_reschedule,
)
from scheduling.services.desk import appointment_check_in
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    PendingAppointmentFactory,
    StartedConfirmedAppointmentFactory,
    TimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db
Status = Appointment.Status
APPOINTMENT_KEYS = {
    "id",
    "patient",
    "doctor",
    "time_block",
    "visit_type",
    "start",
    "end",
    "status",
    "cancellation_code",
    "updated_at",
}


def _only_event() -> OutboxEvent:
    events = list(OutboxEvent.objects.all())
    assert len(events) == 1, [e.type for e in events]
    return events[0]


def test_booking_writes_one_event_with_the_r2_6_payload(patient):
    block = TimeBlockFactory()
    appointment = appointment_book(actor=patient, patient=patient, time_block=block, reason="x")

    event = _only_event()
    payload = event.payload
    assert set(payload) == {"id", "seq", "type", "created", "data"}
    assert payload["id"] == str(event.event_id)
    assert uuid.UUID(payload["id"])
    assert payload["seq"] == event.pk
    assert payload["type"] == event.type == "appointment.booked"
    assert payload["created"].endswith("Z")
    data = payload["data"]
    assert set(data) == {"appointment", "previous_status"}
    assert data["previous_status"] is None
    assert set(data["appointment"]) == APPOINTMENT_KEYS
    assert data["appointment"]["id"] == appointment.pk
    assert data["appointment"]["patient"] == patient.pk
    assert data["appointment"]["doctor"] == block.doctor_id
    assert data["appointment"]["time_block"] == block.pk
    assert data["appointment"]["visit_type"] is None
    assert data["appointment"]["status"] == "pending"
    assert data["appointment"]["cancellation_code"] is None
    text = json.dumps(payload)
    for secret in (patient.email, patient.first_name, patient.last_name, '"x"'):
        assert secret not in text


@pytest.mark.parametrize(
    ("make", "call", "type_", "previous"),
    [
        (
            PendingAppointmentFactory,
            lambda a: appointment_confirm(actor=a.doctor, appointment=a),
            "appointment.confirmed",
            "pending",
        ),
        (
            ConfirmedAppointmentFactory,
            lambda a: appointment_cancel(actor=a.patient, appointment=a, reason="private"),
            "appointment.cancelled",
            "confirmed",
        ),
        (
            StartedConfirmedAppointmentFactory,
            lambda a: appointment_complete(actor=a.doctor, appointment=a),
            "appointment.completed",
            "confirmed",
        ),
        (
            StartedConfirmedAppointmentFactory,
            lambda a: appointment_no_show(actor=a.doctor, appointment=a),
            "appointment.no_show",
            "confirmed",
        ),
        (
            ConfirmedAppointmentFactory,
            lambda a: appointment_reschedule(
                actor=a.patient,
                appointment=a,
                time_block=TimeBlockFactory(doctor=a.doctor, start=in_days(9, 15)),
            ),
            "appointment.rescheduled",
            "confirmed",
        ),
    ],
)
def test_each_transition_writes_one_event(make, call, type_, previous):
    appointment = make()
    call(appointment)

    event = _only_event()
    assert event.type == type_
    assert event.payload["data"]["previous_status"] == previous
    appointment.refresh_from_db()
    assert event.payload["data"]["appointment"]["status"] == appointment.status
    assert "private" not in json.dumps(event.payload)


def test_cancel_event_carries_the_cancellation_code():
    appointment = ConfirmedAppointmentFactory()
    appointment_cancel(actor=appointment.doctor, appointment=appointment)
    appointment.refresh_from_db()
    data = _only_event().payload["data"]["appointment"]
    assert data["cancellation_code"] == appointment.cancellation_code != ""


def test_check_in_writes_an_arrived_event(staff):
    start = in_days(2, hour=11)
    appointment = ConfirmedAppointmentFactory(time_block=TimeBlockFactory(start=start))
    with time_machine.travel(start - datetime.timedelta(minutes=30), tick=False):
        appointment_check_in(actor=staff, appointment=appointment)
    event = _only_event()
    assert event.type == "appointment.arrived"
    assert event.payload["data"]["previous_status"] == "confirmed"


def test_a_rolled_back_transition_leaves_no_event():
    appointment = PendingAppointmentFactory()

    def confirm_then_fail() -> None:
        with transaction.atomic():
            appointment_confirm(actor=appointment.doctor, appointment=appointment)
            assert OutboxEvent.objects.count() == 1
            raise RuntimeError

    with pytest.raises(RuntimeError):
        confirm_then_fail()
    assert OutboxEvent.objects.count() == 0


def test_a_409_booking_adds_no_event(patient_client, other_patient):
    block = TimeBlockFactory()
    appointment_book(actor=other_patient, patient=other_patient, time_block=block)
    before = OutboxEvent.objects.count()

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk}, format="json")

    assert response.status_code == 409
    assert OutboxEvent.objects.count() == before == 1


def test_events_are_numbered_in_commit_order(patient):
    first = appointment_book(actor=patient, patient=patient, time_block=TimeBlockFactory())
    appointment_confirm(actor=first.doctor, appointment=first)
    seqs = [e.payload["seq"] for e in OutboxEvent.objects.order_by("id")]
    assert seqs == sorted(seqs)
    assert len(seqs) == 2


def test_purge_deletes_dispatched_events_past_the_retention(patient):
    appointment_book(actor=patient, patient=patient, time_block=TimeBlockFactory())
    appointment_book(actor=patient, patient=patient, time_block=TimeBlockFactory())
    old, fresh = OutboxEvent.objects.order_by("id")
    long_ago = old.created_at - datetime.timedelta(days=31)
    OutboxEvent.objects.filter(pk=old.pk).update(created_at=long_ago, dispatched_at=long_ago)
    assert outbox_purge(older_than_days=30) == 1
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [fresh.pk]
