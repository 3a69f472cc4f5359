"""Mail to users through the outbox (core/mail.py): in their language, links made when sent.

Reset and invitation links carry a token: they are never stored in the outbox. The link
makers below are registered for their templates in AccountsConfig.ready() and run when
the mail is rendered; a user who can no longer sign in by then gets no mail.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from core.mail import mail_queue
from core.models import EmailMessage


def mail_user(
    user: User,
    *,
    template: str,
    context: dict[str, Any] | None = None,
    dedupe_key: str,
    recipient: str | None = None,
) -> bool:
    """Queue `template` to the user in their language, in the caller's transaction; to
    another of their addresses with `recipient` (an email change's new and old ones)."""
    recipient = recipient or user.email
    message = mail_queue(
        template=template,
        recipient=recipient,
        user_id=user.pk,
        language=user.language,
        context={"recipient_name": user.first_name or recipient, **(context or {})},
        dedupe_key=dedupe_key,
    )
    return message is not None


def password_reset_link(user: User) -> str:
    """The reset (or invite) link, built from PASSWORD_RESET_URL, never from the Host header."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.PASSWORD_RESET_URL.format(uid=uid, token=token)


def reset_link_context(message: EmailMessage) -> dict[str, Any] | None:
    """A fresh set-password link for the mail's user, or None when they cannot sign in."""
    user = User.objects.filter(pk=message.user_id).first()
    if user is None or not user.can_sign_in or user.email != message.recipient:
        return None
    return {
        "link": password_reset_link(user),
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
