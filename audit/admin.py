"""The audit log in the Django admin: read-only."""

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["id", "at", "action", "actor_label", "actor_role", "target_type", "target_id"]
    list_filter = ["action", "actor_role", "target_type"]
    search_fields = ["actor_label", "target_id", "request_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
