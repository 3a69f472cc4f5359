"""Templated email (plain text + HTML), sent after commit; failures are logged, never raised."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def render_templated_email(
    *, template: str, to: Sequence[str], context: dict[str, Any]
) -> EmailMultiAlternatives:
    """Render templates/emails/<template>.{subject.txt,txt,html} into a message (not sent)."""
    subject = render_to_string(f"emails/{template}.subject.txt", context).strip()
    body = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(to),
    )
    message.attach_alternative(html, "text/html")
    return message


def send_rendered_email(message: EmailMultiAlternatives, *, template: str) -> bool:
    """Send a rendered message; True when sent, False (logged) when the mail server failed."""
    try:
        message.send()
    except Exception:
        # The template name says which mail failed; the body (links, tokens) is never logged.
        logger.exception("Sending the %r email failed", template)
        return False
    return True


def send_templated_email(*, template: str, to: Sequence[str], context: dict[str, Any]) -> bool:
    """Render templates/emails/<template>.{subject.txt,txt,html} and send; True when sent."""
    message = render_templated_email(template=template, to=to, context=context)
    return send_rendered_email(message, template=template)


def send_templated_email_on_commit(*, template: str, to: Sequence[str], context: dict) -> None:
    """Queue the email to go out only once the surrounding transaction has committed."""
    transaction.on_commit(lambda: send_templated_email(template=template, to=to, context=context))
