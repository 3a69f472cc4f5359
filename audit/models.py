"""The append-only audit event log (docs/architecture.md, audit)."""

from __future__ import annotations

from django.db import models

SEAL_FIELDS = frozenset({"seq", "prev_hash", "hash"})


class AppendOnlyError(Exception):
    """Audit events are never changed or deleted, only sealed."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only.")

    def seal_update(self, **kwargs) -> int:
        """The sealer's one permitted write: seq, prev_hash and hash of unsealed rows."""
        if not set(kwargs) <= SEAL_FIELDS:
            raise AppendOnlyError("Only seq, prev_hash and hash may be written by the sealer.")
        return super(AuditEventQuerySet, self.filter(seq__isnull=True)).update(**kwargs)


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # A plain integer, no foreign key: deleting a user never rewrites history.
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_role = models.CharField(max_length=16, blank=True)
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} by {self.actor_label or '-'}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")
