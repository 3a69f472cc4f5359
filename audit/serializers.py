"""Output shapes of the audit API."""

from __future__ import annotations

from auditlog.models import LogEntry
from rest_framework import serializers

from audit.models import AuditEvent
from core.fields import ModelSerializer, UTCDateTimeField

EVENT_FIELDS = [
    "id",
    "at",
    "actor",
    "actor_role",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "request_id",
    "data",
    "seq",
    "prev_hash",
    "hash",
]


class AuditEventSerializer(ModelSerializer):
    actor = serializers.IntegerField(source="actor_id", allow_null=True, read_only=True)
    data = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = EVENT_FIELDS
        read_only_fields = fields


class FieldChangeSerializer(serializers.ModelSerializer):
    """One django-auditlog entry: which fields of which object changed, and by whom."""

    at = UTCDateTimeField(source="timestamp", read_only=True)
    actor = serializers.IntegerField(source="actor_id", allow_null=True, read_only=True)
    model = serializers.SerializerMethodField()
    object_id = serializers.CharField(source="object_pk", read_only=True)
    action = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        fields = ["id", "at", "actor", "model", "object_id", "action", "changes"]
        read_only_fields = fields

    def get_model(self, entry: LogEntry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"

    def get_action(self, entry: LogEntry) -> str:
        return {
            LogEntry.Action.CREATE: "create",
            LogEntry.Action.UPDATE: "update",
            LogEntry.Action.DELETE: "delete",
        }.get(entry.action, "access")

    def get_changes(self, entry: LogEntry) -> dict:
        return entry.changes_dict


class AccessLogEntrySerializer(serializers.Serializer):
    """Who viewed a patient's records: the viewer's role and name, never their contact data."""

    at = UTCDateTimeField(read_only=True)
    action = serializers.CharField(read_only=True)
    actor_role = serializers.CharField(read_only=True)
    actor_name = serializers.SerializerMethodField()

    def get_actor_name(self, event: AuditEvent) -> str:
        names = self.context.get("actor_names", {})
        return names.get(event.actor_id) or event.actor_role or "system"
