"""The transactional outbox: services write an OutboxEvent beside their audit row
(DESIGN-R2 R2-6), so a rollback leaves none and a commit exactly one.

core knows nothing of webhooks: the app that fans events out registers its dispatch task
here (`register_dispatcher`, from its AppConfig.ready()), and every event write enqueues it
on commit. Without one registered the events simply wait in the table.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import transaction
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
    event = OutboxEvent.objects.create(event_id=event_id, type=type, created_at=now)
    event.payload = {
        "id": str(event_id),
        "seq": event.pk,
        "type": type,
        "created": _iso(now),
        "data": data,
    }
    event.save(update_fields=["payload"])
    for name in _dispatchers:
        enqueue(name)
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
