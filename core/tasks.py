"""Tasks of the mail outbox (core/mail.py)."""

from __future__ import annotations

from core import mail
from core.jobs import job


@job
def send_email(message_id: int) -> None:
    """Send one queued mail. Safe twice: the claim (pending -> sending) lets one run send."""
    mail.mail_send(message_id=message_id)


@job
def send_pending_emails() -> None:
    """Every minute: retries whose backoff ended and claims whose worker died. Safe twice:
    each mail is claimed by a conditional update."""
    mail.mail_send_due()
