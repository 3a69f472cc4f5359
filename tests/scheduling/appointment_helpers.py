"""Paths and small helpers shared by the appointment tests."""

from __future__ import annotations

import datetime

from auditlog.models import LogEntry
from django.core import mail

from audit.models import AuditEvent
from scheduling.models import Appointment, TimeBlock

API = "/api/v1"
APPOINTMENTS_URL = f"{API}/appointments/"

APPOINTMENT_FIELDS = {
    "id",
    "patient",
    "doctor",
    "time_block",
    "visit_type",
    "start",
    "end",
    "status",
    "reason",
    "notes",
    "cancellation_reason",
    "cancellation_code",
    "cancelled_by",
    "rescheduled_from",
    "doctor_name",
    "patient_name",
    "doctor_location",
    "doctor_timezone",
    "created_at",
    "updated_at",
    "confirmed_at",
    "cancelled_at",
    "completed_at",
    "arrived_at",
    "seen_at",
    "checked_in_by",
}

# The URL path segment of each transition (the action name differs for no-show).
TRANSITION_PATHS = {
    "confirm": "confirm",
    "cancel": "cancel",
    "complete": "complete",
    "no_show": "no-show",
    "reschedule": "reschedule",
    "check_in": "check-in",
    "start_visit": "start-visit",
}


def appointment_url(appointment: Appointment | int, transition: str | None = None) -> str:
    pk = getattr(appointment, "pk", appointment)
    url = f"{APPOINTMENTS_URL}{pk}/"
    return f"{url}{TRANSITION_PATHS[transition]}/" if transition else url


def iso_z(moment: datetime.datetime) -> str:
    """How the API renders an aware datetime: UTC with `Z`."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def row_counts() -> dict[str, int]:
    """Rows of every table a booking or transition can write, plus the mails sent."""
    return {
        "appointments": Appointment.objects.count(),
        "blocks": TimeBlock.objects.count(),
        "audit": AuditEvent.objects.count(),
        "field_history": LogEntry.objects.count(),
        "mails": len(mail.outbox),
    }


def audit_rows(action: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))
