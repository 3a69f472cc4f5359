"""The lock order's steps 4 and 6 (docs/architecture.md): a block's hold after the block; the
idempotency record's "applied" UPDATE last in the write's transaction (PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.idempotency import HEADER
from scheduling import services
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL
from tests.support.factories import PatientFactory, TimeBlockFactory

pytestmark = pytest.mark.postgres

LOCK = re.compile(r'FROM "(\w+)".* FOR (UPDATE|KEY SHARE)')
# `FOR UPDATE OF "table"` names the locked table itself (the block's lock also reads, in
# EXISTS subqueries before its FROM, whether the block lies in a leave).
LOCK_OF = re.compile(r'FOR UPDATE OF "(\w+)"')


def locked_tables(queries: CaptureQueriesContext) -> list[str]:
    return [
        m[1]
        for q in queries.captured_queries
        if (m := LOCK_OF.search(q["sql"]) or LOCK.search(q["sql"]))
    ]


@pytest.mark.django_db
def test_a_hold_locks_the_users_then_the_block_then_its_hold():
    patient, block = PatientFactory(), TimeBlockFactory()

    with CaptureQueriesContext(connection) as queries:
        services.slot_hold_create(actor=patient, patient=patient, time_block=block)

    assert locked_tables(queries) == [
        "accounts_user",
        "accounts_user",
        "scheduling_timeblock",
        "scheduling_slothold",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_keyed_booking_marks_its_key_applied_last_in_its_transaction(patient_client):
    block = TimeBlockFactory()

    with CaptureQueriesContext(connection) as queries:
        patient_client.post(
            APPOINTMENTS_URL, {"time_block": block.pk}, format="json", headers={HEADER: "k-1"}
        )

    statements = [q["sql"] for q in queries.captured_queries]
    commit = statements.index("COMMIT")  # the booking's transaction
    assert statements[commit - 1].startswith('UPDATE "core_idempotencyrecord" SET "state" = ')
    assert "'applied'" in statements[commit - 1]
