"""The tamper-evident seal chain over audit events (DESIGN.md §3 Sealing, §6).

Writers only INSERT unsealed rows. The sealer, one at a time (a PostgreSQL advisory lock;
on SQLite the write transaction), gives committed unsealed events the next seq in id order
and chains them with HMAC-SHA256(AUDIT_CHAIN_KEY, prev_hash + canonical).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from audit.models import AuditEvent

logger = logging.getLogger(__name__)

# Any constant 64-bit number shared by every sealer of this database.
SEAL_LOCK_KEY = 0x6D65_6461_7070_7401
SEAL_BATCH = 1000


def canonical(event: AuditEvent) -> str:
    """The compact, key-sorted JSON of an event's sealed fields."""
    at = event.at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(
        {
            "id": event.pk,
            "seq": event.seq,
            "at": at,
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


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    message = (prev_hash + canonical(event)).encode("utf-8")
    return hmac.new(settings.AUDIT_CHAIN_KEY.encode("utf-8"), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def chain_head() -> Head:
    last = AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").first()
    return Head(seq=last.seq, hash=last.hash) if last else Head(seq=0, hash="")


def _seal_batch() -> tuple[int, Head]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        head = chain_head()
        pending = list(AuditEvent.objects.filter(seq__isnull=True).order_by("id")[:SEAL_BATCH])
        seq, prev_hash = head.seq, head.hash
        for event in pending:
            seq += 1
            event.seq = seq
            event.prev_hash = prev_hash
            event.hash = chain_hash(prev_hash, event)
            sealed = AuditEvent.objects.filter(pk=event.pk).seal_update(
                seq=event.seq, prev_hash=event.prev_hash, hash=event.hash
            )
            if sealed != 1:  # pragma: no cover - the advisory lock makes this impossible
                raise RuntimeError(f"audit event {event.pk} was sealed concurrently")
            prev_hash = event.hash
        return len(pending), Head(seq=seq, hash=prev_hash)


def audit_seal() -> tuple[int, Head]:
    """Seal every committed unsealed event; returns how many and the new head."""
    total = 0
    while True:
        count, head = _seal_batch()
        total += count
        if count < SEAL_BATCH:
            break
    logger.info("audit chain sealed %d events; head %s", total, head)
    return total, head


@dataclass(frozen=True)
class Verification:
    ok: bool
    head: Head
    message: str


def audit_verify(*, expect_head: Head | None = None) -> Verification:
    """Walk the chain by seq; report the first missing or broken link, and check the head."""
    expected_seq, prev_hash = 1, ""
    events = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").iterator(chunk_size=2000)
    for event in events:
        if event.seq != expected_seq:
            return Verification(
                False,
                Head(expected_seq - 1, prev_hash),
                f"seq {expected_seq} is missing: the next present event is id {event.pk} "
                f"(seq {event.seq})",
            )
        if event.prev_hash != prev_hash or event.hash != chain_hash(prev_hash, event):
            return Verification(
                False,
                Head(expected_seq - 1, prev_hash),
                f"seq {event.seq} is broken: event id {event.pk} does not match its seal",
            )
        prev_hash = event.hash
        expected_seq += 1
    head = Head(expected_seq - 1, prev_hash)
    if expect_head is not None:
        at = AuditEvent.objects.filter(seq=expect_head.seq).first()
        if head.seq < expect_head.seq:
            return Verification(
                False, head, f"the chain ends at seq {head.seq}, before the expected {expect_head}"
            )
        if at is None or at.hash != expect_head.hash:
            return Verification(
                False, head, f"seq {expect_head.seq} holds another hash than the expected head"
            )
    return Verification(True, head, f"chain intact: {head.seq} events, head {head}")
