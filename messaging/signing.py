"""Webhook signatures: `Medappt-Signature: t=<unix>,v1=<hex>[,v1=<hex>]` (DESIGN-R2 R2-6).

Each v1 is HMAC-SHA256 keyed with a secret's UTF-8 text over `"<t>." + body`. After a
rotation the previous secret adds a second v1 until it expires. Receivers call `verify()`
(standard library only, so it can be copied into a receiver as is).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

HEADER = "Medappt-Signature"
EVENT_ID_HEADER = "Medappt-Event-Id"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secrets: Iterable[str], body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body`, one v1 per secret (the current one first)."""
    t = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={t}"] + [f"v1={_mac(secret, t, body)}" for secret in secrets if secret]
    return ",".join(parts)


def verify(
    secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    """True when one v1 of `header` is `body` signed with `secret` at a t within
    `tolerance` seconds of now (replays of old deliveries fail)."""
    timestamp = None
    candidates = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
