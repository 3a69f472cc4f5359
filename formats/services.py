"""Calendar feed links: made (the token shown once) and revoked by their owner."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit.services import audit_record
from core.exceptions import FEED_LIMIT, Conflict
from core.locking import lock_users, service_transaction
from formats.models import CalendarFeedToken

PREFIX_LENGTH = 8


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/calendar/{token}.ics"


@service_transaction
def calendar_feed_create(*, actor: User, name: str) -> tuple[CalendarFeedToken, str]:
    """A new feed link for the actor, at most CALENDAR_FEEDS_PER_USER live; returns the row
    and the token (never stored, never audited)."""
    lock_users(exclusive=[actor.pk])  # two concurrent creates cannot both pass the limit
    live = CalendarFeedToken.objects.filter(user=actor, revoked_at__isnull=True).count()
    if live >= settings.CALENDAR_FEEDS_PER_USER:
        raise Conflict(FEED_LIMIT, gettext("You have too many calendar feeds; revoke one first."))
    token = secrets.token_urlsafe(32)
    feed = CalendarFeedToken.objects.create(
        user=actor, name=name, token_hash=token_hash(token), token_prefix=token[:PREFIX_LENGTH]
    )
    audit_record(
        action="calendar_feed.created",
        target=feed,
        actor=actor,
        data={"name": name, "prefix": feed.token_prefix},
    )
    return feed, token


@service_transaction
def calendar_feed_revoke(*, actor: User, feed: CalendarFeedToken) -> None:
    """Revoke a feed link: its next read is a 404. Revoking twice changes nothing."""
    n = CalendarFeedToken.objects.filter(pk=feed.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if n == 1:
        audit_record(
            action="calendar_feed.revoked",
            target=feed,
            actor=actor,
            data={"prefix": feed.token_prefix},
        )
