"""A short, version-keyed cache for the public reads: the doctor directory and availability.

Every cached answer is stored under the current *version* of each scope it depends on
(`directory`, `availability:<doctor id>`, `availability:any`). A write that changes what a
scope shows calls `bump()` (model signals in each app's `signals.py`, explicit calls where
code writes without signals), which gives the scope a new version once the transaction
commits: the next read misses and asks the database. So a read never shows data older than
the last committed write, except for what time alone changes (a block passing the booking
lead time), which lasts at most PUBLIC_CACHE_SECONDS.

The version is read *before* the queries run: a write that commits while a read runs can
only leave that read's answer under a version that is already outdated.

Versions live in the shared Django cache (Redis), so every worker and command sees the
same ones. Every cache error falls through to the database (fail open) with a warning.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from rest_framework.request import Request
from rest_framework.response import Response

from core.cache import CACHE_ERRORS

logger = logging.getLogger("core.response_cache")

DIRECTORY = "directory"
# Every doctor's free blocks at once: the directory filtered by available_from/available_to.
ANY_AVAILABILITY = "availability:any"


def availability_scope(doctor_id: int | str) -> str:
    """One doctor's availability (`007` and `7` name the same doctor, so the same scope)."""
    return f"availability:{int(doctor_id)}"


def _version_key(scope: str) -> str:
    return f"resp-version:{scope}"


def _fresh_version() -> int:
    # A version key can vanish (eviction, a flushed Redis): starting again from a random
    # value, not 0, keeps answers cached under an earlier life of the key from matching.
    return secrets.randbits(62)


def versions(scopes: Iterable[str]) -> list[int]:
    """The current version of each scope, creating the missing ones (may raise CACHE_ERRORS)."""
    keys = [_version_key(scope) for scope in scopes]
    found = cache.get_many(keys)
    result = []
    for key in keys:
        value = found.get(key)
        if value is None:
            fresh = _fresh_version()
            value = fresh if cache.add(key, fresh, timeout=None) else cache.get(key, fresh)
        result.append(value)
    return result


def version(scope: str) -> int:
    """The current version of one scope."""
    return versions([scope])[0]


def _increment(key: str) -> None:
    for _ in range(2):
        try:
            cache.incr(key)
            return
        except ValueError:  # no version yet (never read, or evicted): a fresh one will do
            if cache.add(key, _fresh_version(), timeout=None):
                return
            # Someone created it meanwhile (a reader, maybe before our commit): move it on.


def _bump_now(scopes: tuple[str, ...]) -> None:
    try:
        for scope in scopes:
            _increment(_version_key(scope))
    except CACHE_ERRORS as error:
        # Answers cached before the outage may then be served until they expire.
        logger.warning(
            "public cache not invalidated for %s: the cache is unavailable (%s: %s)",
            ", ".join(scopes),
            type(error).__name__,
            error,
        )


def bump(*scopes: str) -> None:
    """Give the scopes new versions once the current transaction commits (at once outside
    one; never if it rolls back), so the next public read of them asks the database.

    Nothing to do while the cache is off (PUBLIC_CACHE_SECONDS = 0, a setting every process
    shares): nothing is cached then, and answers cached before it was turned off expire on
    their own within their PUBLIC_CACHE_SECONDS.
    """
    if scopes and settings.PUBLIC_CACHE_SECONDS > 0:
        transaction.on_commit(functools.partial(_bump_now, tuple(scopes)))


def _cache_key(scopes: tuple[str, ...], current: list[int], url: str) -> str:
    state = ";".join(f"{scope}@{value}" for scope, value in zip(scopes, current, strict=True))
    # The absolute URL: pagination links carry scheme and host. Hashed, so any query string
    # makes a short key without spaces or control characters.
    return f"resp:{state}:{hashlib.sha256(url.encode()).hexdigest()}"


def _cache_unavailable(error: Exception) -> None:
    logger.warning(
        "public cache skipped: the cache is unavailable (%s: %s)", type(error).__name__, error
    )


def cached_response(
    request: Request, *, scopes: Iterable[str], build: Callable[[], Response]
) -> Response:
    """The view's answer (`build()`), cached for PUBLIC_CACHE_SECONDS under the scopes'
    versions and the request's absolute URL.

    Only GET is cached and only 200 answers are stored, so a hit answers a URL that was valid
    under the same versions. Authentication and permissions have run before the view.
    """
    timeout = settings.PUBLIC_CACHE_SECONDS
    if timeout <= 0 or request.method != "GET":
        return build()
    scopes = tuple(scopes)
    try:
        key = _cache_key(scopes, versions(scopes), request.build_absolute_uri())
        data = cache.get(key)
    except CACHE_ERRORS as error:
        _cache_unavailable(error)
        return build()
    if data is not None:
        return Response(data)
    response = build()
    if response.status_code == 200:
        try:
            cache.set(key, response.data, timeout)
        except CACHE_ERRORS as error:
            _cache_unavailable(error)
    return response
