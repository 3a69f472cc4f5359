"""The transactional outbox: services write an OutboxEvent beside their audit row
(DESIGN-R2 R2-6), so a rollback leaves none and a commit exactly one.

core knows nothing of webhooks: the app that fans events out registers its dispatch task
here (`register_dispatcher`, from its AppConfig.ready()), and every event write enqueues it
on commit. Without one registered the events simply wait in the table.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.jobs import enqueue
from core.models import OutboxEvent

_dispatchers: list[str] = []


def register_dispatcher(task_name: str) -> None:
    """Enqueue the named task (no arguments) after every commit that wrote an event."""
    if task_name not in _dispatchers:
        _dispatchers.append(task_name)


def outbox_record(*, type: str, data: dict[str, Any]) -> OutboxEvent:
    """Insert one event in the current transaction; its envelope carries its own seq."""
    event_id = uuid.uuid4()
    now = timezone.now()
    payload = {"id": str(event_id), "seq": None, "type": type, "created": _iso(now), "data": data}
    if connection.vendor == "postgresql":
        event = _insert_with_seq(event_id=event_id, type=type, created_at=now, payload=payload)
    else:
        event = OutboxEvent.objects.create(event_id=event_id, type=type, created_at=now)
        event.payload = {**payload, "seq": event.pk}
        event.save(update_fields=["payload"])
    for name in _dispatchers:
        enqueue(name)
    return event


# One statement instead of an INSERT and the UPDATE of the envelope's seq (#25): the id is
# drawn from the table's identity sequence first and written into both the row and its
# payload. The stored jsonb is the same as the two statements' (jsonb keeps no key order).
_OUTBOX_TABLE = OutboxEvent._meta.db_table
# The table name comes from the model; every value is a parameter.
_INSERT_WITH_SEQ = f"""
    WITH next AS (SELECT nextval(pg_get_serial_sequence('{_OUTBOX_TABLE}', 'id')) AS id)
    INSERT INTO {_OUTBOX_TABLE} (id, event_id, type, payload, created_at)
    SELECT next.id, %s, %s, jsonb_set(%s::jsonb, '{{seq}}', to_jsonb(next.id)), %s FROM next
    RETURNING id
"""  # noqa: S608


def _insert_with_seq(
    *, event_id: uuid.UUID, type: str, created_at: datetime.datetime, payload: dict[str, Any]
) -> OutboxEvent:
    field = OutboxEvent._meta.get_field("payload")
    encoded = json.dumps(payload, cls=field.encoder)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_WITH_SEQ, [event_id, type, encoded, created_at])
        (pk,) = cursor.fetchone()
    event = OutboxEvent(
        pk=pk, event_id=event_id, type=type, created_at=created_at, payload={**payload, "seq": pk}
    )
    event._state.adding = False
    return event


def _iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def iso_utc(value: datetime.datetime | None) -> str | None:
    """An aware datetime as ISO 8601 UTC with a Z (the events' time format)."""
    return _iso(value)


@transaction.atomic
def outbox_purge(*, older_than_days: int) -> int:
    """Delete dispatched events older than the retention; undispatched ones stay."""
    cutoff = timezone.now() - datetime.timedelta(days=older_than_days)
    deleted, _ = OutboxEvent.objects.filter(
        dispatched_at__isnull=False, created_at__lt=cutoff
    ).delete()
    return deleted
