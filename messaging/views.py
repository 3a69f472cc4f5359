"""The admin-only webhook API (DESIGN-R2 R2-6): subscriptions and their deliveries."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.docs import JSONErrorsMixin
from core.permissions import ActionPermissionsMixin, IsAdminRole
from messaging import selectors, services
from messaging.serializers import (
    AcceptedSerializer,
    WebhookDeliverySerializer,
    WebhookSecretSerializer,
    WebhookSubscriptionCreatedSerializer,
    WebhookSubscriptionCreateInputSerializer,
    WebhookSubscriptionSerializer,
    WebhookSubscriptionUpdateInputSerializer,
)


class WebhookSubscriptionViewSet(
    JSONErrorsMixin,
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook subscriptions; admins only. The secret is shown once, in the create answer."""

    permission_classes_by_action = {
        "list": IsAdminRole,
        "retrieve": IsAdminRole,
        "create": IsAdminRole,
        "partial_update": IsAdminRole,
        "destroy": IsAdminRole,
        "rotate_secret": IsAdminRole,
        "replay": IsAdminRole,
    }
    serializer_class = WebhookSubscriptionSerializer

    def get_queryset(self):
        return selectors.subscription_list()

    @extend_schema(
        request=WebhookSubscriptionCreateInputSerializer,
        responses={201: WebhookSubscriptionCreatedSerializer},
    )
    def create(self, request: Request) -> Response:
        """Subscribe an https URL with a public address (400 otherwise); the answer carries
        the generated secret, the only time it is shown."""
        data = WebhookSubscriptionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.subscription_create(actor=request.user, **data.validated_data)
        body = WebhookSubscriptionCreatedSerializer(subscription).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=WebhookSubscriptionUpdateInputSerializer,
        responses={200: WebhookSubscriptionSerializer},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change the URL, event types, doctors, description or active flag."""
        data = WebhookSubscriptionUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        subscription = services.subscription_update(
            actor=request.user, subscription=self.get_object(), **data.validated_data
        )
        return Response(WebhookSubscriptionSerializer(subscription).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """Delete the subscription and its deliveries."""
        services.subscription_delete(actor=request.user, subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: WebhookSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """A new secret, shown once; the old one also signs for
        WEBHOOK_SECRET_OVERLAP_HOURS."""
        subscription = self.get_object()
        secret = services.subscription_rotate_secret(actor=request.user, subscription=subscription)
        subscription.refresh_from_db()
        return Response(
            {
                "secret": secret,
                "previous_secret_expires_at": subscription.previous_secret_expires_at,
            }
        )

    @extend_schema(request=None, responses={202: AcceptedSerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        """Deliver the subscription's failed deliveries again (same event ids): 202."""
        n = services.subscription_replay_failed(actor=request.user, subscription=self.get_object())
        return Response({"deliveries": n}, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryViewSet(
    JSONErrorsMixin,
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook deliveries with their attempts, newest first; admins only."""

    permission_classes_by_action = {
        "list": IsAdminRole,
        "retrieve": IsAdminRole,
        "replay": IsAdminRole,
    }
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        return selectors.delivery_list()

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        """Deliver this delivery's event again, with the same event id: 202."""
        replay = services.delivery_replay(actor=request.user, delivery=self.get_object())
        body = WebhookDeliverySerializer(selectors.delivery_list().get(pk=replay.pk)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
