"""Periodic jobs of the audit trail (each is also its manage.py command, for cron)."""

from __future__ import annotations

from audit.services import audit_seal as seal
from core.jobs import job


@job
def audit_seal() -> None:
    """Every minute. Safe twice: one sealer at a time (advisory lock), unsealed events only."""
    seal()
