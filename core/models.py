"""Rows that services of several apps write in their own transactions: the mail outbox and
the Idempotency-Key records."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder


class EmailMessage(models.Model):
    """One mail to send, written in the transaction of the service that decided to send it.

    The context holds ids and display data, never a token or a link with one: links are made
    when the mail is rendered (core/mail.py), in the recipient's language.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    recipient = models.EmailField(max_length=254)
    # A plain integer, not a foreign key: inserting the row locks no user row (lock order).
    user_id = models.BigIntegerField(null=True, blank=True)
    template = models.CharField(max_length=64)
    language = models.CharField(max_length=8, blank=True)
    context = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A worker's claim lasts until then; a later run reclaims it (the worker may have died).
    locked_until = models.DateTimeField(null=True, blank=True)
    # When a failed attempt may be retried (backoff in the database, not in the broker).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="email_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "failed"]),
                name="email_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} to user {self.user_id or '-'} ({self.status})"


class IdempotencyRecord(models.Model):
    """One Idempotency-Key of one user: the claim on a keyed write and, once done, its answer
    (core/idempotency.py). Claimed, finished and purged in their own transactions; marked
    applied in the transaction of the write itself (the last lock it takes)."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        APPLIED = "applied", "Applied"
        COMPLETED = "completed", "Completed"

    # A plain integer, not a foreign key: claiming a key locks no user row (lock order).
    user_id = models.BigIntegerField()
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    lease_token = models.CharField(max_length=32)
    lease_until = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DRFJSONEncoder)
    viewed_patient_ids = models.JSONField(default=list, blank=True)
    # What the write created or changed ("scheduling.appointment", 42): a rebuild renders it.
    object_model = models.CharField(max_length=100, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user_id", "key"], name="idempotency_user_key_unique"),
            models.CheckConstraint(
                condition=models.Q(state__in=["in_progress", "applied", "completed"]),
                name="idempotency_state_valid",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"Idempotency-Key of user {self.user_id} ({self.state})"


class OutboxEvent(models.Model):
    """A domain event written in the transaction of the change it describes (DESIGN-R2 R2-6).

    The id is the sequence receivers order by; `payload` is the whole envelope sent to
    webhooks ({id, seq, type, created, data}) with ids and codes only, never free text or
    names. messaging/ fans each event out once (`dispatched_at`).
    """

    event_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, encoder=DRFJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(dispatched_at__isnull=True),
                name="outbox_undispatched",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"
