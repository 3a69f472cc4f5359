"""Webhooks in the console, read-only (DESIGN-R2 R2-6): subscriptions without their secrets,
deliveries with their attempts, and replays through the same services as the API.
Subscribing and rotating a secret happen in the API, whose answer shows the secret once."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.admin import ServiceBackedAdmin
from messaging import services
from messaging.models import WebhookAttempt, WebhookDelivery, WebhookSubscription


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ServiceBackedAdmin, ReadOnlyAdmin):
    """Subscriptions; the secret and the previous one never show."""

    list_display = ("id", "url", "event_types", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "description")
    ordering = ("id",)
    fields = (
        "url",
        "description",
        "event_types",
        "doctors",
        "active",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ["replay_failed"]

    @admin.action(description="Deliver the failed deliveries again", permissions=["view"])
    def replay_failed(self, request: HttpRequest, queryset) -> None:
        self.run_action(
            request,
            queryset,
            services.subscription_replay_failed,
            argument="subscription",
            done="subscriptions replayed",
            label=str,
        )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("at", "status_code", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ServiceBackedAdmin, ReadOnlyAdmin):
    """Deliveries and their attempts: what was sent where, what failed and why."""

    list_display = ("id", "subscription", "event", "status", "attempts", "next_attempt_at")
    list_filter = ("status",)
    ordering = ("-id",)
    list_select_related = ("subscription", "event")
    fields = (
        "subscription",
        "event",
        "replay_of",
        "status",
        "attempts",
        "next_attempt_at",
        "locked_until",
        "last_error",
        "delivered_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    @admin.action(description="Deliver again (same event id)", permissions=["view"])
    def replay(self, request: HttpRequest, queryset) -> None:
        self.run_action(
            request,
            queryset,
            services.delivery_replay,
            argument="delivery",
            done="deliveries replayed",
            label=str,
        )


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    """Every POST: status code or error, duration."""

    list_display = ("id", "delivery", "at", "status_code", "error", "duration_ms")
    ordering = ("-id",)
    fields = ("delivery", "at", "status_code", "error", "duration_ms")
    readonly_fields = fields
