"""Tasks of accounts."""

from __future__ import annotations

from accounts import services
from core.jobs import job


@job
def password_reset_mail(request_event_id: int) -> None:
    """Mail the link of one reset request. Safe twice: its mail's dedupe key is the request."""
    services.password_reset_mail(request_event_id=request_event_id)
