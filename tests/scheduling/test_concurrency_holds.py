"""Races of holds and keyed bookings on PostgreSQL: real threads, real transactions, one
connection each (STYLE.md rule 24); DESIGN-R2 §R2-2 acceptance (4), (8) and (10)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import OperationalError
from psycopg import errors as pg_errors

from core import idempotency
from core.exceptions import SLOT_HELD
from core.idempotency import HEADER
from core.models import EmailMessage, IdempotencyRecord
from scheduling.models import Appointment, SlotHold
from scheduling.services import appointments
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, audit_rows
from tests.support.clients import client_for
from tests.support.factories import PatientFactory, TimeBlockFactory
from tests.support.races import codes, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _post(client, url: str, data: dict, **headers: str) -> Callable[[], object]:
    return lambda: client.post(url, data, format="json", headers=headers)


def test_twenty_patients_holding_one_block_at_once_exactly_one_holds_it():
    block = TimeBlockFactory()
    clients = [client_for(p) for p in PatientFactory.create_batch(20)]

    outcomes = race(*(_post(c, "/api/v1/holds/", {"time_block": block.pk}) for c in clients))

    assert codes(outcomes) == {(201, None): 1, (409, SLOT_HELD): 19}
    [winner] = [body for status, body in outcomes if status == 201]
    assert list(SlotHold.objects.values_list("pk", flat=True)) == [winner["id"]]
    assert len(audit_rows("slot_hold.created")) == 1


def test_ten_keyed_bookings_with_one_key_give_ten_identical_answers_and_book_once():
    patient, block = PatientFactory(), TimeBlockFactory()
    clients = [client_for(patient) for _ in range(10)]
    headers = {HEADER: "retry-storm-1"}

    outcomes = race(
        *(_post(c, APPOINTMENTS_URL, {"time_block": block.pk}, **headers) for c in clients)
    )

    assert {status for status, _ in outcomes} == {201}
    assert all(body == outcomes[0][1] for _, body in outcomes)
    assert list(Appointment.objects.values_list("pk", flat=True)) == [outcomes[0][1]["id"]]
    assert len(audit_rows("appointment.booked")) == 1
    assert EmailMessage.objects.count() == 2  # one pair: the patient's and the doctor's
    record = IdempotencyRecord.objects.get()
    assert record.state == IdempotencyRecord.State.COMPLETED


def _aborted() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = pg_errors.DeadlockDetected("deadlock detected")
    return error


@pytest.mark.parametrize("where", ["audit", "applied"])
def test_a_deadlock_inside_a_keyed_booking_is_retried_once_and_the_key_completes(
    monkeypatch, caplog, where
):
    patient, block = PatientFactory(), TimeBlockFactory()
    calls: list[str] = []
    if where == "audit":  # aborted before the key is marked applied
        real_audit = appointments.audit_record

        def audit_record(**kwargs):
            calls.append(kwargs["action"])
            if len(calls) == 1:
                raise _aborted()
            return real_audit(**kwargs)

        monkeypatch.setattr(appointments, "audit_record", audit_record)
    else:  # aborted right after the key was marked applied: that UPDATE rolls back too
        real_mark = idempotency.mark_applied

        def mark_applied(result):
            real_mark(result)
            calls.append("applied")
            if len(calls) == 1:
                raise _aborted()

        monkeypatch.setattr(idempotency, "mark_applied", mark_applied)

    response = client_for(patient).post(
        APPOINTMENTS_URL, {"time_block": block.pk}, format="json", headers={HEADER: "deadlock-1"}
    )

    assert response.status_code == 201
    assert len(calls) == 2  # the first attempt and its one retry
    assert "appointment_book" in caplog.text
    assert list(Appointment.objects.values_list("pk", flat=True)) == [response.json()["id"]]
    assert len(audit_rows("appointment.booked")) == 1
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.object_id) == (
        IdempotencyRecord.State.COMPLETED,
        response.json()["id"],
    )
    replay = client_for(patient).post(
        APPOINTMENTS_URL, {"time_block": block.pk}, format="json", headers={HEADER: "deadlock-1"}
    )
    assert (replay.status_code, replay.json()) == (201, response.json())
