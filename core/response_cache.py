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

Keys are bounded: only a request whose query names nothing but the view's known parameters
is cached, under its path and those parameters in a canonical order (`?junk=N` is answered
from the database and stores nothing); every key starts with KEY_PREFIX, apart from the
throttle counters, and expires (the answers after PUBLIC_CACHE_SECONDS, the versions after
version_timeout()). With a `public` cache alias configured (PUBLIC_CACHE_URL), all of it lives
there instead of in the default cache, beside the counters.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.db import transaction
from rest_framework.request import Request
from rest_framework.response import Response

from core.cache import CACHE_ERRORS, RedisCache
from core.pagination import PageNumberPagination

logger = logging.getLogger("core.response_cache")

PUBLIC_CACHE_ALIAS = "public"
KEY_PREFIX = "public:"
# Every list's paging parameters, known to every cached list.
PAGE_PARAMS = (
    PageNumberPagination.page_query_param,
    PageNumberPagination.page_size_query_param,
)
# A version lives this many answer lifetimes (at least MIN_VERSION_SECONDS) after it was made
# or last bumped. One that expires only costs a miss: the next read makes a fresh random one.
VERSION_LIFETIMES = 6
MIN_VERSION_SECONDS = 60

DIRECTORY = "directory"
# Every doctor's free blocks at once: the directory filtered by available_from/available_to.
ANY_AVAILABILITY = "availability:any"


def availability_scope(doctor_id: int | str) -> str:
    """One doctor's availability (`007` and `7` name the same doctor, so the same scope)."""
    return f"availability:{int(doctor_id)}"


def public_cache() -> BaseCache:
    """The `public` cache alias when settings configure one, else the default cache (looked
    up per call: Django's cache backends are per thread)."""
    alias = PUBLIC_CACHE_ALIAS if PUBLIC_CACHE_ALIAS in settings.CACHES else DEFAULT_CACHE_ALIAS
    return caches[alias]


def version_timeout() -> int:
    """Seconds a scope's version lives after it was made or bumped."""
    return max(MIN_VERSION_SECONDS, VERSION_LIFETIMES * settings.PUBLIC_CACHE_SECONDS)


def _version_key(scope: str) -> str:
    return f"{KEY_PREFIX}version:{scope}"


def _fresh_version() -> int:
    # A version key can vanish (eviction, a flushed Redis): starting again from a random
    # value, not 0, keeps answers cached under an earlier life of the key from matching.
    return secrets.randbits(62)


def versions(scopes: Iterable[str]) -> list[int]:
    """The current version of each scope, creating the missing ones (may raise CACHE_ERRORS)."""
    keys = [_version_key(scope) for scope in scopes]
    backend = public_cache()
    found = backend.get_many(keys)
    result = []
    for key in keys:
        value = found.get(key)
        if value is None:
            fresh = _fresh_version()
            value = fresh if backend.add(key, fresh, version_timeout()) else backend.get(key, fresh)
        result.append(value)
    return result


def version(scope: str) -> int:
    """The current version of one scope."""
    return versions([scope])[0]


def _increment(key: str) -> None:
    backend = public_cache()
    for _ in range(2):
        try:
            backend.incr(key)
            # Django's Redis incr() is EXISTS then INCRBY: a key expiring in between comes back
            # without a lifetime. The bump gives it one again (a bump is a write: rare).
            backend.touch(key, version_timeout())
            return
        except ValueError:  # no version yet (never read, or evicted): a fresh one will do
            if backend.add(key, _fresh_version(), version_timeout()):
                return
            # Someone created it meanwhile (a reader, maybe before our commit): move it on.


# A bump of several scopes in one round trip on Redis (#25): what `_increment` does per key
# (INCR an existing version, else a fresh random one; then a new lifetime) without the
# three round trips per scope of Django's incr() (EXISTS, INCRBY) and touch().
# Django's Redis serializer stores an int as its decimal text, so INCR and reads agree.
_BUMP_SCRIPT = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('INCR', key)
  else
    redis.call('SET', key, ARGV[i + 1])
  end
  redis.call('EXPIRE', key, ARGV[1])
end
"""


def _bump_in_redis(backend: BaseCache, keys: list[str]) -> bool:
    """Bump the version keys with one script call when the backend is Django's Redis cache
    (ours); False for another backend (tests' local memory), which then bumps key by key."""
    if not isinstance(backend, RedisCache):
        return False
    client = backend._cache.get_client(write=True)
    script = getattr(client, "_medappt_bump", None)
    if script is None:
        script = client._medappt_bump = client.register_script(_BUMP_SCRIPT)
    script(
        keys=[backend.make_and_validate_key(key) for key in keys],
        args=[version_timeout(), *(_fresh_version() for _ in keys)],
    )
    return True


def _bump_now(scopes: tuple[str, ...]) -> None:
    try:
        keys = [_version_key(scope) for scope in scopes]
        if _bump_in_redis(public_cache(), keys):
            return
        for key in keys:
            _increment(key)
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


def canonical_url(request: Request, params: Iterable[str]) -> str | None:
    """The absolute URL with only the known parameters, sorted by name (each one's values in
    their order); None when the query names any other parameter, which is then not cached."""
    query = request.query_params
    if not set(query.keys()) <= set(params):
        return None
    pairs = [(name, value) for name in sorted(query.keys()) for value in query.getlist(name)]
    # Absolute: pagination links carry scheme and host (DRF writes their query sorted too).
    url = request.build_absolute_uri(request.path)
    return f"{url}?{urlencode(pairs)}" if pairs else url


def _cache_key(scopes: tuple[str, ...], current: list[int], url: str) -> str:
    state = ";".join(f"{scope}@{value}" for scope, value in zip(scopes, current, strict=True))
    # Hashed, so any query string makes a short key without spaces or control characters.
    return f"{KEY_PREFIX}resp:{state}:{hashlib.sha256(url.encode()).hexdigest()}"


def _cache_unavailable(error: Exception) -> None:
    logger.warning(
        "public cache skipped: the cache is unavailable (%s: %s)", type(error).__name__, error
    )


def cached_response(
    request: Request,
    *,
    scopes: Iterable[str],
    params: Iterable[str],
    build: Callable[[], Response],
) -> Response:
    """The view's answer (`build()`), cached for PUBLIC_CACHE_SECONDS under the scopes'
    versions and the request's canonical URL (`params`: the query parameters the view reads;
    a request naming any other is answered by `build()` and not cached).

    Only GET is cached and only 200 answers are stored, so a hit answers a URL that was valid
    under the same versions. Authentication and permissions have run before the view.
    """
    timeout = settings.PUBLIC_CACHE_SECONDS
    if timeout <= 0 or request.method != "GET":
        return build()
    url = canonical_url(request, params)
    if url is None:
        return build()
    scopes = tuple(scopes)
    try:
        key = _cache_key(scopes, versions(scopes), url)
        data = public_cache().get(key)
    except CACHE_ERRORS as error:
        _cache_unavailable(error)
        return build()
    if data is not None:
        return Response(data)
    response = build()
    if response.status_code == 200:
        try:
            public_cache().set(key, response.data, timeout)
        except CACHE_ERRORS as error:
            _cache_unavailable(error)
    return response
