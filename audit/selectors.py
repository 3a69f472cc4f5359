"""Reads of the audit trail that carry rules."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import BigIntegerField, Case, OuterRef, QuerySet, Subquery, When

from audit.models import AuditEvent

PATIENT_RECORD_VIEWED = "patient_record.viewed"


def access_log_for_patient(*, patient_id: int) -> QuerySet[AuditEvent]:
    """Reads of this patient's records by anyone else, newest first."""
    return (
        AuditEvent.objects.filter(
            action=PATIENT_RECORD_VIEWED, target_type="user", target_id=str(patient_id)
        )
        .exclude(actor_id=patient_id)
        .order_by("-id")
    )


def field_history_patient() -> Case:
    """For a django-auditlog entry, the patient whose record it shows (a patient's own user
    row, or a row naming a patient such as an appointment), or None: a subquery per model."""
    from auditlog.registry import auditlog
    from django.contrib.contenttypes.models import ContentType

    user_model = get_user_model()
    cases = []
    for model in auditlog.get_models():
        if model is user_model:
            rows = model.objects.filter(pk=OuterRef("object_id"), role=user_model.Role.PATIENT)
            patient = rows.values("pk")
        elif any(field.name == "patient" for field in model._meta.concrete_fields):
            patient = model._default_manager.filter(pk=OuterRef("object_id")).values("patient_id")
        else:
            continue
        content_type = ContentType.objects.get_for_model(model)
        cases.append(When(content_type_id=content_type.pk, then=Subquery(patient.order_by()[:1])))
    return Case(*cases, default=None, output_field=BigIntegerField())


def field_history_list() -> QuerySet:
    """django-auditlog's entries, newest first, each with `patient_id` (field_history_patient)
    resolved in the same query."""
    from auditlog.models import LogEntry

    return (
        LogEntry.objects.select_related("content_type")
        .annotate(patient_id=field_history_patient())
        .order_by("-id")
    )
