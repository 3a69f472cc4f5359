"""The appointment events of the transactional outbox (DESIGN-R2 R2-6): ids, times and
codes only, never free text (reason, notes, cancellation reason) or names."""

from __future__ import annotations

from core.outbox import iso_utc, outbox_record
from scheduling.models import Appointment


def appointment_event(*, type: str, appointment: Appointment, previous_status: str | None) -> None:
    """Write `appointment.<type>` in the caller's transaction, beside its audit row."""
    outbox_record(
        type=f"appointment.{type}",
        data={
            "appointment": {
                "id": appointment.pk,
                "patient": appointment.patient_id,
                "doctor": appointment.doctor_id,
                "time_block": appointment.time_block_id,
                "visit_type": appointment.visit_type_id,
                "start": iso_utc(appointment.start),
                "end": iso_utc(appointment.end),
                "status": appointment.status,
                "cancellation_code": appointment.cancellation_code or None,
                "updated_at": iso_utc(appointment.updated_at),
            },
            "previous_status": previous_status,
        },
    )
