"""The audit log in the Django admin: read-only; and the mixin that audits the console's
reads of patients' records."""

from collections.abc import Iterable

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin

from audit.models import AuditEvent
from audit.selectors import field_history_patient
from audit.services import audit_record_patient_views


class PatientReadsAuditedAdmin:
    """A ModelAdmin whose pages show patients' records: its changelist page, a change page
    (GET) and the admin autocomplete answered from it write `patient_record.viewed`, with the
    API's rules (one row per distinct patient other than the viewer, in one insert)."""

    def patient_ids_shown(self, objs: Iterable) -> list[int]:
        """The patients whose records these rows show."""
        raise NotImplementedError

    def record_patient_reads(self, request, objs: Iterable) -> None:
        audit_record_patient_views(patient_ids=self.patient_ids_shown(objs), actor=request.user)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            self.record_patient_reads(request, changelist.result_list)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original")
        if request.method == "GET" and original is not None:
            self.record_patient_reads(request, [original])
        return response


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


# django-auditlog registers its own admin for the field history on our site; the history of
# a patient's row is their record, so its pages are audited like the API's audit/changes/.
admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class FieldHistoryAdmin(PatientReadsAuditedAdmin, LogEntryAdmin):
    def get_queryset(self, request):
        return super().get_queryset(request).annotate(patient_id=field_history_patient())

    def patient_ids_shown(self, objs) -> list[int]:
        return [entry.patient_id for entry in objs]
