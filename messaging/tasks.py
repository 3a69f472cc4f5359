"""Tasks of the webhooks (messaging/services.py). They take ids only, never secrets."""

from __future__ import annotations

from django.conf import settings

from core.jobs import job
from core.outbox import outbox_purge
from messaging import services


@job
def outbox_dispatch() -> None:
    """On every commit that wrote an event, and every 30 s: fan events out. Safe twice:
    events are locked (SKIP LOCKED) and deliveries unique per (subscription, event)."""
    services.outbox_dispatch()


@job
def webhook_deliver(*delivery_ids: int) -> None:
    """POST deliveries. Safe twice: each delivery's claim lets one run send it."""
    for delivery_id in delivery_ids:
        services.webhook_deliver(delivery_id=delivery_id)


@job
def deliver_due_webhooks() -> None:
    """Every 15 s: retries whose time came and claims whose worker died. Safe twice: each
    delivery is claimed by a conditional update."""
    services.webhook_deliver_due()


@job
def purge_outbox() -> None:
    """Daily: delete dispatched events older than OUTBOX_RETENTION_DAYS with their
    deliveries. Safe twice: deleting what is gone deletes nothing."""
    outbox_purge(older_than_days=settings.OUTBOX_RETENTION_DAYS)
