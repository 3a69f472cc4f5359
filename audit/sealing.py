"""The definition of the tamper-evident seal chain over audit events (docs/architecture.md).

Writers only INSERT unsealed rows. The sealer (services.audit_seal), one at a time (a
PostgreSQL advisory lock; on SQLite the write transaction), gives committed unsealed events
the next seq in id order and chains them with HMAC-SHA256(AUDIT_CHAIN_KEY, prev_hash +
canonical); selectors.audit_verify walks the chain.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from dataclasses import dataclass

from django.conf import settings

from audit.models import AuditEvent

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
