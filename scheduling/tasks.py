"""Periodic jobs of scheduling (each is also its manage.py command, for cron)."""

from __future__ import annotations

from core.jobs import job
from scheduling.services import waitlist_offers
from scheduling.services.holds import slot_holds_expire
from scheduling.services.maintenance import appointment_reminders_send, appointments_close_past
from scheduling.services.templates import availability_materialize


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


@job
def waitlist_process_block(block_id: int) -> None:
    """When a block may have freed up. Safe twice: a block in a round is held, so a second
    run offers nothing."""
    waitlist_offers.waitlist_process_block(block_id=block_id)


@job
def waitlist_process_blocks(*block_ids: int) -> None:
    """New blocks (a bulk creation), one after the other. Safe twice, as above."""
    for block_id in block_ids:
        waitlist_offers.waitlist_process_block(block_id=block_id)


@job
def process_waitlist() -> None:
    """Every minute: end the rounds whose hold expired, offer the free blocks again. Safe
    twice: each round ends under its block's lock, and a held block is never offered."""
    waitlist_offers.waitlist_process()


@job
def materialize_availability() -> None:
    """Daily: every active template's blocks up to AVAILABILITY_HORIZON_DAYS ahead, one
    transaction per doctor under its lock. Safe twice (and on several hosts): slots that
    overlap existing blocks are skipped, so a rerun creates nothing."""
    availability_materialize()
