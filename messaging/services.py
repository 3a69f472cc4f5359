"""Webhook subscriptions, the fan-out of outbox events and their signed delivery
(DESIGN-R2 R2-6).

Delivery mirrors the mail outbox (core/mail.py): a conditional update claims a delivery
(pending -> in_flight with a lease), the POST runs outside any transaction, and a retry is a
due time read by deliver_due_webhooks, never a Celery countdown. Secrets never reach the
audit log, the logs or a task's arguments.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import secrets as secrets_module
import time
from typing import Any

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core.jobs import enqueue
from core.models import OutboxEvent
from messaging import signing
from messaging.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from messaging.targets import TargetRefused, check_target, validate_target

logger = logging.getLogger("medappt.webhooks")
Status = WebhookDelivery.Status
DELIVER = "messaging.tasks.webhook_deliver"
LEASE = datetime.timedelta(seconds=60)
EVENT_TYPES = (
    "appointment.booked",
    "appointment.confirmed",
    "appointment.cancelled",
    "appointment.rescheduled",
    "appointment.arrived",
    "appointment.completed",
    "appointment.no_show",
)


def _new_secret() -> str:
    return "whsec_" + secrets_module.token_urlsafe(32)


# ---------------------------------------------------------------------------
# Subscriptions
# ---------------------------------------------------------------------------
@transaction.atomic
def subscription_create(
    *,
    actor: User,
    url: str,
    event_types: list[str],
    doctors: list[User] | None = None,
    description: str = "",
    active: bool = True,
) -> WebhookSubscription:
    """Subscribe a URL that passes the SSRF guard; the secret is made here and returned on
    the object once (the caller shows it in its answer, nowhere else)."""
    validate_target(url)
    subscription = WebhookSubscription.objects.create(
        url=url,
        description=description,
        secret=_new_secret(),
        event_types=event_types or ["*"],
        active=active,
    )
    subscription.doctors.set(doctors or [])
    audit_record(
        action="webhook_subscription.created",
        target=subscription,
        actor=actor,
        data={"event_types": subscription.event_types, "doctors": [d.pk for d in doctors or []]},
    )
    return subscription


@transaction.atomic
def subscription_update(
    *, actor: User, subscription: WebhookSubscription, **changes: Any
) -> WebhookSubscription:
    """Change the URL (guarded again), types, doctors, description or active flag."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    changed = []
    if "url" in changes and changes["url"] != subscription.url:
        validate_target(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = changes["event_types"] or ["*"]
    for name in ("url", "description", "event_types", "active"):
        if name in changes and getattr(subscription, name) != changes[name]:
            setattr(subscription, name, changes[name])
            changed.append(name)
    if changed:
        subscription.save(update_fields=[*changed, "updated_at"])
    if "doctors" in changes:
        subscription.doctors.set(changes["doctors"])
        changed.append("doctors")
    if changed:
        audit_record(
            action="webhook_subscription.updated",
            target=subscription,
            actor=actor,
            data={"fields": changed},
        )
    return subscription


@transaction.atomic
def subscription_delete(*, actor: User, subscription: WebhookSubscription) -> None:
    """Remove a subscription with its deliveries."""
    audit_record(action="webhook_subscription.deleted", target=subscription, actor=actor)
    subscription.delete()


@transaction.atomic
def subscription_rotate_secret(*, actor: User, subscription: WebhookSubscription) -> str:
    """A new secret; the old one keeps signing (a second v1) for
    WEBHOOK_SECRET_OVERLAP_HOURS. Returns the new secret, once."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = timezone.now() + datetime.timedelta(
        hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS
    )
    subscription.secret = _new_secret()
    subscription.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    audit_record(action="webhook_subscription.secret_rotated", target=subscription, actor=actor)
    return subscription.secret


def _replay(delivery: WebhookDelivery) -> WebhookDelivery:
    replay = WebhookDelivery.objects.create(
        subscription_id=delivery.subscription_id, event_id=delivery.event_id, replay_of=delivery
    )
    enqueue(DELIVER, replay.pk)
    return replay


@transaction.atomic
def subscription_replay_failed(*, actor: User, subscription: WebhookSubscription) -> int:
    """Deliver again every failed delivery of the subscription (same event ids)."""
    failed = list(subscription.deliveries.filter(status=Status.FAILED).order_by("event_id"))
    for delivery in failed:
        _replay(delivery)
    audit_record(
        action="webhook_subscription.replayed",
        target=subscription,
        actor=actor,
        data={"deliveries": len(failed)},
    )
    return len(failed)


@transaction.atomic
def delivery_replay(*, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Deliver the delivery's event again, as a new delivery with the same event id."""
    replay = _replay(delivery)
    audit_record(
        action="webhook_delivery.replayed",
        target=delivery,
        actor=actor,
        data={"replay": replay.pk},
    )
    return replay


# ---------------------------------------------------------------------------
# Fan-out
# ---------------------------------------------------------------------------
def _matches(subscription: WebhookSubscription, event: OutboxEvent, doctor_ids: set[int]) -> bool:
    types = subscription.event_types or ["*"]
    if "*" not in types and event.type not in types:
        return False
    if not doctor_ids:
        return True
    doctor = (event.payload.get("data") or {}).get("appointment", {}).get("doctor")
    return doctor in doctor_ids


def outbox_dispatch(*, limit: int = 500) -> int:
    """Fan undispatched events out in id order: one delivery per matching active
    subscription, each then enqueued. Returns how many events were dispatched."""
    done = 0
    while done < limit:
        with transaction.atomic():
            # SKIP LOCKED: a second dispatcher takes the next events, never the same ones.
            events = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(dispatched_at__isnull=True)
                .order_by("id")[:100]
            )
            if not events:
                break
            subscriptions = [
                (s, {d.pk for d in s.doctors.all()})
                for s in WebhookSubscription.objects.filter(active=True).prefetch_related("doctors")
            ]
            for event in events:
                for subscription, doctor_ids in subscriptions:
                    if not _matches(subscription, event, doctor_ids):
                        continue
                    try:
                        with transaction.atomic():
                            delivery = WebhookDelivery.objects.create(
                                subscription=subscription, event=event
                            )
                    except IntegrityError:
                        continue  # already fanned out (unique subscription, event)
                    enqueue(DELIVER, delivery.pk)
            OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(
                dispatched_at=timezone.now()
            )
        done += len(events)
    return done


# ---------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------
def event_body(event: OutboxEvent) -> bytes:
    """The bytes POSTed for an event: canonical JSON of its stored envelope, identical on
    every attempt and replay (sorted keys: jsonb does not keep key order)."""
    return json.dumps(event.payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def backoff(attempts: int) -> datetime.timedelta:
    """min(BASE * 2^(n-1), MAX) plus up to 10 % jitter, after the n-th failed attempt."""
    base = settings.WEBHOOK_BACKOFF_BASE_SECONDS
    delay = min(base * 2 ** max(attempts - 1, 0), settings.WEBHOOK_BACKOFF_MAX_SECONDS)
    return datetime.timedelta(seconds=delay + random.uniform(0, delay / 10))  # noqa: S311


def _claim(delivery_id: int, now: datetime.datetime) -> bool:
    """pending (due) -> in_flight, or an in_flight one whose lease ran out: one claimant."""
    claimable = Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Status.IN_FLIGHT, locked_until__lt=now
    )
    return (
        WebhookDelivery.objects.filter(claimable, pk=delivery_id).update(
            status=Status.IN_FLIGHT, locked_until=now + LEASE, attempts=F("attempts") + 1
        )
        == 1
    )


def _signing_secrets(subscription: WebhookSubscription, now: datetime.datetime) -> list[str]:
    keys = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and expires > now:
        keys.append(subscription.previous_secret)
    return keys


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    try:
        check_target(url)
    except TargetRefused as error:
        return None, f"target refused: {error}"
    try:
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        return None, type(error).__name__
    response.close()
    return response.status_code, ""


def webhook_deliver(*, delivery_id: int) -> bool:
    """Claim one delivery, POST it (outside any transaction) and record the attempt;
    True when the receiver answered 2xx now."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return False  # done, failed, not due yet, or claimed by a live worker
    delivery = WebhookDelivery.objects.select_related("subscription", "event").get(pk=delivery_id)
    subscription, event = delivery.subscription, delivery.event
    body = event_body(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "medappt-webhooks/1",
        signing.EVENT_ID_HEADER: str(event.event_id),
        signing.HEADER: signing.sign(_signing_secrets(subscription, now), body),
    }
    started = time.monotonic()
    if subscription.active:
        status_code, error = _post(subscription.url, body, headers)
    else:
        status_code, error = None, "subscription inactive"
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    if not ok and not error:
        error = f"HTTP {status_code}"
    WebhookAttempt.objects.create(
        delivery=delivery, status_code=status_code, error=error[:200], duration_ms=duration_ms
    )
    finished = timezone.now()
    if ok:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.IN_FLIGHT).update(
            status=Status.SUCCEEDED, delivered_at=finished, locked_until=None, last_error=""
        )
        return True
    logger.warning("webhook delivery %s (event %s) failed: %s", delivery.pk, event.pk, error)
    failed = delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.IN_FLIGHT).update(
        status=Status.FAILED if failed else Status.PENDING,
        locked_until=None,
        next_attempt_at=finished + backoff(delivery.attempts),
        last_error=error[:200],
    )
    return False


def webhook_deliver_due(*, limit: int = 500) -> int:
    """Deliver every due delivery: retries whose time came and claims whose lease ran out.
    Returns how many succeeded."""
    now = timezone.now()
    due = (
        WebhookDelivery.objects.filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Status.IN_FLIGHT, locked_until__lt=now)
        )
        .order_by("event_id", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(webhook_deliver(delivery_id=pk) for pk in list(due))
