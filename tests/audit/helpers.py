"""Paths and small helpers shared by the audit tests."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import json
from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent

API = "/api/v1"
EVENTS_URL = f"{API}/audit/events/"
EXPORT_URL = f"{API}/audit/events/export/"
CHANGES_URL = f"{API}/audit/changes/"
ACCESS_LOG_URL = f"{API}/auth/me/access-log/"
APPOINTMENTS_URL = f"{API}/appointments/"
USERS_URL = f"{API}/users/"

# The audit event shape of the API, in its documented order (also the CSV header).
EVENT_FIELDS = [
    "id",
    "at",
    "actor",
    "actor_role",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "request_id",
    "data",
    "seq",
    "prev_hash",
    "hash",
]

# A password every Django validator accepts.
STRONG_PASSWORD = "violet-Harbor-lantern-93"


def utc_z(moment: datetime.datetime) -> str:
    """An aware datetime as the API and the seal canonical form render it: UTC, µs, `Z`."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def expected_canonical(event: AuditEvent) -> str:
    """The chain's canonical form (docs/architecture.md), written out independently of
    audit.sealing."""
    return json.dumps(
        {
            "id": event.id,
            "seq": event.seq,
            "at": utc_z(event.at),
            "actor_id": event.actor_id,
            "actor_role": event.actor_role,
            "actor_label": event.actor_label,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "ip": event.ip,
            "user_agent": event.user_agent,
            "request_id": event.request_id,
            "data": event.data,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def expected_hash(prev_hash: str, event: AuditEvent) -> str:
    """HMAC-SHA256(AUDIT_CHAIN_KEY, prev_hash + canonical), lower-case hex."""
    return hmac.new(
        settings.AUDIT_CHAIN_KEY.encode("utf-8"),
        (prev_hash + expected_canonical(event)).encode("utf-8"),
        hashlib.sha256,
    ).hexdigest()


def events(action: str | None = None, **filters) -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(**filters)
    if action is not None:
        rows = rows.filter(action=action)
    return list(rows.order_by("id"))


def audit_inserts(captured: CaptureQueriesContext) -> list[str]:
    """The INSERT statements into the audit table among the captured queries."""
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith('INSERT INTO "AUDIT_AUDITEVENT"')
    ]


@contextlib.contextmanager
def append_only_trigger_disabled() -> Iterator[None]:
    """Let a test play the attacker with raw SQL (PostgreSQL has the trigger; SQLite none)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def raw_sql(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount
