"""The mail outbox: services queue a mail as a row in their transaction; a task sends it.

`mail_queue()` writes an EmailMessage (template, recipient, the user's id, language, a
context of ids and display data, a unique dedupe key) and enqueues `send_email` on commit.
`mail_send()` claims the row (pending -> sending, with a lease), renders it in the
recipient's language, sends it, and records the result: sent, or pending again after a
backoff, or failed after EMAIL_MAX_ATTEMPTS. A claim whose lease ran out (a worker died) is
taken again by `mail_send_due()`, run every minute.

Links with a token in them (password reset, invitations) are never stored: the app that
owns them registers a context maker for the template (`register_context`), called at
render time in the mail's language; files made at send time (an iCalendar invite) are
attached the same way (`register_attachment`).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from core.jobs import enqueue
from core.models import EmailMessage

logger = logging.getLogger("medappt.mail")
SEND_EMAIL = "core.tasks.send_email"  # by name: core/tasks.py imports this module
Status = EmailMessage.Status

# template -> function(message) -> context made at render time, in the mail's language.
_context_makers: dict[str, Callable[[EmailMessage], dict[str, Any] | None]] = {}


def register_context(template: str, maker: Callable[[EmailMessage], dict[str, Any] | None]) -> None:
    """Let `maker` add, when `template` renders, what must not be stored (a link with a token)
    or depends on the language (dates). It may return None: the mail is then no longer
    wanted (the account is gone) and is dropped."""
    _context_makers[template] = maker


# template -> function(message) -> attachments (filename, content, mimetype) made at render
# time, in the mail's language: a higher layer (an iCalendar invite) adds them by registering.
_attachment_makers: dict[str, list[Callable[[EmailMessage], list[tuple[str, str, str]]]]] = {}


def register_attachment(
    template: str, maker: Callable[[EmailMessage], list[tuple[str, str, str]]]
) -> None:
    """Let `maker` attach files (filename, content, mimetype) when `template` renders."""
    _attachment_makers.setdefault(template, []).append(maker)


def mail_queue(
    *,
    template: str,
    recipient: str,
    context: dict[str, Any],
    user_id: int | None = None,
    language: str = "",
    dedupe_key: str | None = None,
) -> EmailMessage | None:
    """Write one mail in the caller's transaction and send it once that commits. The same
    dedupe key twice queues one mail (None: the first stays). For jobs that may run twice;
    a service queues its mails with mail_queue_batch."""
    message = _message(template, recipient, context, user_id, language, dedupe_key)
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return None
    enqueue(SEND_EMAIL, message.pk)
    return message


def mail_queue_batch(mails: list[dict[str, Any]]) -> list[EmailMessage]:
    """Write several mails (mail_queue's keywords each) in one INSERT in the caller's
    transaction, sent by one job once that commits. For services: their dedupe keys are new
    by construction (a retried transaction starts over), so no savepoint guards the insert."""
    messages = EmailMessage.objects.bulk_create(
        [
            _message(
                m["template"],
                m["recipient"],
                m["context"],
                m.get("user_id"),
                m.get("language", ""),
                m.get("dedupe_key"),
            )
            for m in mails
        ]
    )
    if messages:
        enqueue(SEND_EMAIL, *(message.pk for message in messages))
    return messages


def _message(
    template: str,
    recipient: str,
    context: dict[str, Any],
    user_id: int | None,
    language: str,
    dedupe_key: str | None,
) -> EmailMessage:
    return EmailMessage(
        template=template,
        recipient=recipient,
        user_id=user_id,
        language=language,
        context=context,
        dedupe_key=dedupe_key or f"{template}:{uuid.uuid4().hex}",
    )


def _claim(message_id: int, now: datetime.datetime) -> bool:
    """pending (due) -> sending, or a sending row whose lease ran out: one claimant wins."""
    lease = datetime.timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
    claimable = Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Status.SENDING, locked_until__lt=now
    )
    return (
        EmailMessage.objects.filter(claimable, pk=message_id).update(
            status=Status.SENDING, locked_until=now + lease, attempts=F("attempts") + 1
        )
        == 1
    )


def render(message: EmailMessage) -> EmailMultiAlternatives | None:
    """The mail in its recipient's language, links made now; None when no longer wanted."""
    context = dict(message.context)
    maker = _context_makers.get(message.template)
    with translation.override(message.language or settings.LANGUAGE_CODE):
        if maker is not None:
            extra = maker(message)
            if extra is None:
                return None
            context.update(extra)
        subject = render_to_string(f"emails/{message.template}.subject.txt", context)
        body = render_to_string(f"emails/{message.template}.txt", context)
        html = render_to_string(f"emails/{message.template}.html", context)
        attachments = [
            attachment
            for make in _attachment_makers.get(message.template, [])
            for attachment in make(message)
        ]
    mail = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient],
    )
    mail.attach_alternative(html, "text/html")
    for filename, content, mimetype in attachments:
        mail.attach(filename, content, mimetype)
    return mail


def _backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def mail_send(*, message_id: int) -> bool:
    """Claim, render and send one mail; True when it went out now."""
    now = timezone.now()
    if not _claim(message_id, now):
        return False  # sent, failed, not due yet, or claimed by a live worker
    message = EmailMessage.objects.get(pk=message_id)
    try:
        mail = render(message)
        if mail is not None:
            mail.send()
    except Exception as error:
        # The template and id say which mail failed; the body (links, tokens) is never logged.
        logger.warning(
            "mail %s (%s) failed: %s", message.pk, message.template, type(error).__name__
        )
        failed = message.attempts >= settings.EMAIL_MAX_ATTEMPTS
        EmailMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.FAILED if failed else Status.PENDING,
            locked_until=None,
            next_attempt_at=now + _backoff(message.attempts),
            last_error=type(error).__name__[:200],
        )
        return False
    EmailMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now(), locked_until=None, last_error=""
    )
    return mail is not None


def mail_send_due(*, limit: int = 500) -> int:
    """Send every mail that is due: retries after their backoff, and claims whose worker died.
    Returns how many went out."""
    now = timezone.now()
    due = (
        EmailMessage.objects.filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Status.SENDING, locked_until__lt=now)
        )
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(mail_send(message_id=pk) for pk in list(due))
