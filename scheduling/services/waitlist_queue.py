"""Where a block may free up, the writes queue it for the waitlist (DESIGN-R2 §R2-3): a
cancellation, a released or expired hold, a new block, a reschedule's old block. The job
runs once the write commits (core/jobs.py) and finds out itself whether anyone waits."""

from __future__ import annotations

from core.jobs import enqueue

# By name: the tasks module imports the services that call this.
PROCESS_BLOCK = "scheduling.tasks.waitlist_process_block"
PROCESS_BLOCKS = "scheduling.tasks.waitlist_process_blocks"


def waitlist_queue_block(block_id: int) -> None:
    """Offer the block to its waiting patients once the current transaction commits."""
    enqueue(PROCESS_BLOCK, block_id)


def waitlist_queue_blocks(block_ids: list[int]) -> None:
    """The same for many blocks (a bulk creation), in one job."""
    if block_ids:
        enqueue(PROCESS_BLOCKS, *block_ids)
