"""Webhooks in the console: admins read subscriptions (never their secrets), deliveries and
attempts, and replay; the front desk sees none of it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from core.models import OutboxEvent
from messaging.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery():
    subscription = WebhookSubscription.objects.create(
        url="https://hooks.example.com/in", secret="whsec_never-shown", event_types=["*"]
    )
    subscription.previous_secret = "whsec_old-never-shown"
    subscription.save()
    event = OutboxEvent.objects.create(type="appointment.booked", payload={"id": "x"})
    row = WebhookDelivery.objects.create(
        subscription=subscription, event=event, status=WebhookDelivery.Status.FAILED
    )
    WebhookAttempt.objects.create(delivery=row, status_code=500, error="HTTP 500")
    return row


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admins_read_subscriptions_without_secrets_deliveries_and_attempts(clinic_admin, delivery):
    client = console(clinic_admin)
    pages = [
        reverse("admin:messaging_webhooksubscription_changelist"),
        reverse("admin:messaging_webhooksubscription_change", args=[delivery.subscription_id]),
        reverse("admin:messaging_webhookdelivery_changelist"),
        reverse("admin:messaging_webhookdelivery_change", args=[delivery.pk]),
        reverse("admin:messaging_webhookattempt_changelist"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"never-shown" not in response.content
    detail = client.get(reverse("admin:messaging_webhookdelivery_change", args=[delivery.pk]))
    assert b"HTTP 500" in detail.content
    assert client.get(reverse("admin:messaging_webhooksubscription_add")).status_code == 403


def test_the_replay_action_creates_a_replay_of_the_same_event(clinic_admin, delivery):
    response = console(clinic_admin).post(
        reverse("admin:messaging_webhookdelivery_changelist"),
        {"action": "replay", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    replay = WebhookDelivery.objects.get(replay_of=delivery)
    assert replay.event_id == delivery.event_id


def test_the_front_desk_does_not_see_webhooks(staff, delivery):
    client = console(staff)
    for name in ("webhooksubscription", "webhookdelivery", "webhookattempt"):
        assert client.get(reverse(f"admin:messaging_{name}_changelist")).status_code == 403
