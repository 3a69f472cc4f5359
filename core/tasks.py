"""Tasks of the mail outbox (core/mail.py)."""

from __future__ import annotations

from core import idempotency, mail
from core.jobs import job


@job
def send_email(*message_ids: int) -> None:
    """Send queued mails. Safe twice: each mail's claim (pending -> sending) lets one run
    send it."""
    for message_id in message_ids:
        mail.mail_send(message_id=message_id)


@job
def send_pending_emails() -> None:
    """Every minute: retries whose backoff ended and claims whose worker died. Safe twice:
    each mail is claimed by a conditional update."""
    mail.mail_send_due()


@job
def purge_idempotency_keys() -> None:
    """Hourly: forget Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_HOURS. Safe twice: a
    delete of what is already gone deletes nothing."""
    idempotency.purge_expired_keys()
