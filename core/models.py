"""Rows that services of several apps write in their own transactions: the mail outbox."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


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
