"""Audit events are append-only: the model, its queryset and (PostgreSQL) a trigger refuse."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from audit import services
from audit.models import AppendOnlyError, AuditEvent
from audit.services import audit_record
from tests.audit.helpers import raw_sql

pytestmark = pytest.mark.django_db


@pytest.fixture
def event() -> AuditEvent:
    return audit_record(action="user.updated", target_type="user", target_id=7, actor=None)


@pytest.fixture
def sealed_event(event) -> AuditEvent:
    services.audit_seal()
    return AuditEvent.objects.get(pk=event.pk)


def stored(event: AuditEvent) -> dict:
    return AuditEvent.objects.filter(pk=event.pk).values().get()


# ---------------------------------------------------------------------------
# The model and its queryset
# ---------------------------------------------------------------------------
def test_saving_an_existing_event_again_is_refused(event):
    before = stored(event)
    event.action = "user.deleted"

    with pytest.raises(AppendOnlyError):
        event.save()

    assert stored(event) == before


def test_saving_a_fetched_event_is_refused(event):
    fetched = AuditEvent.objects.get(pk=event.pk)
    fetched.target_id = "8"

    with pytest.raises(AppendOnlyError):
        fetched.save(update_fields=["target_id"])

    assert AuditEvent.objects.get(pk=event.pk).target_id == "7"


def test_queryset_update_is_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="user.deleted")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(actor_label="someone")

    assert AuditEvent.objects.get(pk=event.pk).action == "user.updated"


def test_bulk_update_is_refused(event):
    event.action = "user.deleted"

    # bulk_update runs in atomic(savepoint=False): our own savepoint keeps the test usable.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["action"])

    assert AuditEvent.objects.get(pk=event.pk).action == "user.updated"


def test_queryset_delete_is_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_instance_delete_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_seal_update_writes_the_seal_fields_of_an_unsealed_event(event):
    written = AuditEvent.objects.filter(pk=event.pk).seal_update(seq=1, prev_hash="", hash="a" * 64)

    assert written == 1
    row = stored(event)
    assert (row["seq"], row["prev_hash"], row["hash"]) == (1, "", "a" * 64)


def test_seal_update_refuses_any_other_field(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).seal_update(seq=1, action="user.deleted")

    row = stored(event)
    assert (row["seq"], row["action"]) == (None, "user.updated")


def test_seal_update_leaves_a_sealed_event_alone(sealed_event):
    before = stored(sealed_event)

    written = AuditEvent.objects.filter(pk=sealed_event.pk).seal_update(
        seq=99, prev_hash="b" * 64, hash="c" * 64
    )

    assert written == 0
    assert stored(sealed_event) == before


# ---------------------------------------------------------------------------
# The PostgreSQL trigger: raw SQL is refused too
# ---------------------------------------------------------------------------
def refused(sql: str, params: list) -> str:
    with pytest.raises(DatabaseError) as error, transaction.atomic():
        raw_sql(sql, params)
    return str(error.value)


@pytest.mark.postgres
def test_trigger_refuses_a_raw_delete(event, sealed_event):
    message = refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])

    assert "append-only" in message
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
def test_trigger_refuses_a_raw_delete_of_an_unsealed_event(event):
    refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])

    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "user.deleted"), ("hash", "d" * 64), ("seq", 42), ("prev_hash", "e" * 64)],
)
def test_trigger_refuses_a_raw_update_of_a_sealed_event(sealed_event, column, value):
    before = stored(sealed_event)

    message = refused(
        f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s",  # noqa: S608 - fixed columns
        [value, sealed_event.pk],
    )

    assert "sealed" in message
    assert stored(sealed_event) == before


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "user.deleted"),
        ("actor_id", 1),
        ("target_id", "8"),
        ("ip", "192.0.2.1"),
        ("at", "2000-01-01T00:00:00Z"),
    ],
)
def test_trigger_refuses_a_raw_update_of_the_content_of_an_unsealed_event(event, column, value):
    before = stored(event)

    message = refused(
        f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s",  # noqa: S608 - fixed columns
        [value, event.pk],
    )

    assert "only seq, prev_hash and hash" in message
    assert stored(event) == before


@pytest.mark.postgres
def test_trigger_refuses_a_raw_update_of_the_data_of_an_unsealed_event(event):
    refused(
        'UPDATE audit_auditevent SET data = \'{"fields": ["email"]}\'::jsonb WHERE id = %s',
        [event.pk],
    )

    assert stored(event)["data"] == {}


@pytest.mark.postgres
def test_trigger_allows_sealing_an_unsealed_event(event):
    written = raw_sql(
        "UPDATE audit_auditevent SET seq = %s, prev_hash = %s, hash = %s WHERE id = %s",
        [1, "", "f" * 64, event.pk],
    )

    assert written == 1
    row = stored(event)
    assert (row["seq"], row["prev_hash"], row["hash"]) == (1, "", "f" * 64)
