"""Reads of the audit trail that carry rules."""

from __future__ import annotations

from django.db.models import QuerySet

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
