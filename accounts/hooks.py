"""What accounts asks of the apps above it: they register answers in their ready().

accounts sits below scheduling (docs/architecture.md), so it never imports it. When a
user's rules depend on what a higher app holds (their appointments), the higher app
registers a function here; accounts calls whatever is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import Expression

    from accounts.models import User

# Called inside user_deactivate's transaction, after the user rows are locked (step 1 of
# the lock order): each ends what the deactivated user held and returns how many it ended.
on_deactivation: list[Callable[..., int]] = []
# How many future commitments (active appointments) a user still has.
future_commitments: list[Callable[[User], int]] = []
# For a viewer, an expression over a user row that is true when the viewer may see that
# user's photo beyond the owner and staff (a doctor: their patients), or None.
photo_viewers: list[Callable[[User], Expression | None]] = []
# Console pages about a doctor that higher apps offer (a doctor's week): (label, url) pairs
# for the doctor's user id, shown as links on the doctor profile list.
doctor_console_links: list[Callable[[int], list[tuple[str, str]]]] = []


def register(hook: list, function: Callable) -> None:
    """Add `function` to a hook once (ready() may run twice in tests)."""
    if function not in hook:
        hook.append(function)
