"""Webhook API shapes. The secret appears in the create and rotate answers only."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import User
from messaging.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from messaging.services import EVENT_TYPES

EVENT_TYPE_CHOICES = ["*", *EVENT_TYPES]


def _doctors():
    return User.objects.filter(role=User.Role.DOCTOR)


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    doctors = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    secret_rotated_until = serializers.DateTimeField(
        source="previous_secret_expires_at", read_only=True
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "doctors",
            "active",
            "secret_rotated_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    """The create answer: the one time the secret is shown."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookSubscriptionCreateInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES), required=False, default=list
    )
    doctors = serializers.PrimaryKeyRelatedField(
        many=True, queryset=_doctors(), required=False, default=list
    )
    active = serializers.BooleanField(required=False, default=True)


class WebhookSubscriptionUpdateInputSerializer(WebhookSubscriptionCreateInputSerializer):
    url = serializers.URLField(max_length=500, required=False)


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True)
    previous_secret_expires_at = serializers.DateTimeField(read_only=True)


class AcceptedSerializer(serializers.Serializer):
    deliveries = serializers.IntegerField(read_only=True)


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["id", "at", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.event_id", read_only=True)
    event_seq = serializers.IntegerField(source="event.pk", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    attempts_log = WebhookAttemptSerializer(source="tries", many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "event_id",
            "event_seq",
            "event_type",
            "replay_of",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "delivered_at",
            "created_at",
            "attempts_log",
        ]
        read_only_fields = fields
