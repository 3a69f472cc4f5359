"""The webhook jobs' commands and their beat entries."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from core.models import OutboxEvent
from messaging.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


def _run(name: str) -> str:
    out = StringIO()
    call_command(name, stdout=out)
    return out.getvalue()


def test_each_periodic_job_is_scheduled_and_has_a_command():
    tasks = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks["messaging.tasks.outbox_dispatch"] == 30.0
    assert tasks["messaging.tasks.deliver_due_webhooks"] == 15.0
    assert tasks["messaging.tasks.purge_outbox"] == 86400.0


def test_outbox_dispatch_fans_out_once():
    subscription = WebhookSubscription.objects.create(
        url="https://hooks.example.com/in", secret="s", event_types=["*"]
    )
    OutboxEvent.objects.create(type="appointment.booked", payload={"data": {}})
    assert _run("outbox_dispatch").startswith("1 events dispatched")
    assert _run("outbox_dispatch").startswith("0 events dispatched")
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 1


def test_deliver_due_webhooks_runs_with_nothing_due():
    assert _run("deliver_due_webhooks").startswith("0 webhooks delivered")


def test_purge_outbox_keeps_recent_and_undispatched_events():
    long_ago = timezone.now() - datetime.timedelta(days=settings.OUTBOX_RETENTION_DAYS + 1)
    old = OutboxEvent.objects.create(type="a", created_at=long_ago, dispatched_at=long_ago)
    waiting = OutboxEvent.objects.create(type="b", created_at=long_ago)
    recent = OutboxEvent.objects.create(type="c", dispatched_at=timezone.now())
    assert _run("purge_outbox").startswith("1 outbox events purged")
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {waiting.pk, recent.pk}
    assert not OutboxEvent.objects.filter(pk=old.pk).exists()
