"""Reads of the webhook API."""

from __future__ import annotations

from django.db.models import QuerySet

from messaging.models import WebhookDelivery, WebhookSubscription


def subscription_list() -> QuerySet[WebhookSubscription]:
    """Every subscription with its doctor filter (admins see all)."""
    return WebhookSubscription.objects.prefetch_related("doctors").order_by("id")


def delivery_list() -> QuerySet[WebhookDelivery]:
    """Every delivery, newest first, with its event and its attempts."""
    return WebhookDelivery.objects.select_related("event").prefetch_related("tries").order_by("-id")
