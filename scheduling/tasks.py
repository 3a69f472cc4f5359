"""Periodic jobs of scheduling (each is also its manage.py command, for cron)."""

from __future__ import annotations

from core.jobs import job
from scheduling.services.holds import slot_holds_expire
from scheduling.services.maintenance import appointment_reminders_send, appointments_close_past


@job
def send_reminders() -> None:
    """Every 5 minutes. Safe twice: each reminder is claimed by a conditional update."""
    appointment_reminders_send()


@job
def close_past_appointments() -> None:
    """Hourly. Safe twice: each transition's service re-checks the status under its lock."""
    appointments_close_past()


@job
def expire_holds() -> None:
    """Every minute. Safe twice: each expired hold is closed by a conditional update."""
    slot_holds_expire()
