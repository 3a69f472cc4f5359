"""Throttles keyed by client address (an IPv6 client by its /64, see client_network()), user
or email, counted in the Django cache (Redis in production).

Counting: a fixed window. Time is cut into windows of the rate's period (for "10/min", each
clock minute), and each (scope, ident, window number) has one counter, created and
incremented atomically (Redis: one MULTI/EXEC; local memory: under its lock); the request
is allowed when the new count is at most the limit. So, exactly:

- one window never lets more than N requests through, however many arrive at once and on
  however many workers or hosts (the cache serialises the increments); LoginFailureThrottle
  counts each attempt before the password is checked and gives the place back when the
  attempt did not fail, so no more than N failures per window either, see there;
- across a boundary up to 2N can pass in less than one period (N at the end of a window, N
  at the start of the next), so any period-long interval sees at most 2N;
- windows are numbered by the web host's clock: the first guarantee holds whatever the
  clocks say, the second assumes the hosts agree on the time (NTP); a host whose clock is
  off by s seconds moves its boundaries by s.

A refused request is counted too; that changes nothing, as the count only has to pass N.
Retry-After is the time left in the window, when the counter starts again.

Why not DRF's own throttle: it reads a list of timestamps and writes it back, so a burst
overshoots by about its size, and it costs a GET of a pickled list plus a SET. Here a counted
request is one round trip to Redis (SET NX EX and INCR in one MULTI/EXEC). A two-window
sliding estimate would smooth the boundary, but its worst case is still just under 2N per
period, and it reads a second counter: not worth it for limits that slow guessing down.

They fail open: when the cache cannot be reached the request goes on and a warning is logged.
A throttle slows guessing down; it is not an access rule (authentication and permissions
still apply), and a Redis outage must not turn every login into a 500.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCacheClient
from rest_framework.throttling import SimpleRateThrottle

from core.cache import CACHE_ERRORS
from core.context import client_ip

logger = logging.getLogger("medappt.throttling")


def _cache_unavailable(scope: str, error: Exception) -> None:
    logger.warning(
        "throttle %s not applied: the cache is unavailable (%s: %s)",
        scope,
        type(error).__name__,
        error,
    )


def _incr(cache: BaseCache, key: str, timeout: int, delta: int = 1) -> int:
    """Add delta to the counter at key, creating it at 0 (expiring after timeout) if missing,
    so a counter never outlives its window, even when a give-back comes after it expired."""
    client = getattr(cache, "_cache", None)
    if isinstance(client, RedisCacheClient):
        # One atomic round trip; Django's add() + incr() would cost three (incr checks EXISTS).
        key = cache.make_and_validate_key(key)
        with client.get_client(key, write=True).pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=timeout, nx=True)
            pipe.incrby(key, delta)
            return pipe.execute()[1]
    cache.add(key, 0, timeout)  # local memory: add() and incr() each hold the cache's lock
    try:
        return cache.incr(key, delta)
    except ValueError:  # culled between the two calls (local memory's MAX_ENTRIES)
        cache.set(key, delta, timeout)
        return delta


class CacheRateThrottle(SimpleRateThrottle):
    """A fixed-window counter per get_cache_key(), failing open (with a warning) on cache errors."""

    def window_key(self, key: str) -> str:
        """The counter of the window holding self.now."""
        return f"{key}_{int(self.now // self.duration)}"

    def wait(self) -> float:
        """Seconds until the current window ends and its counter starts again."""
        return self.duration - self.now % self.duration

    def count(self, key: str, delta: int = 1) -> int:
        """Add delta (one, or -1 to give a place back) to key's counter for the current window;
        return the new count."""
        self.now = self.timer()
        # The counter outlives its window by a second, for rounding and small clock skew.
        return _incr(self.cache, self.window_key(key), math.ceil(self.wait()) + 1, delta)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            count = self.count(key)
        except CACHE_ERRORS as error:
            _cache_unavailable(self.scope, error)
            return True
        return count <= self.num_requests


def client_network(request) -> str:
    """The client address as throttles count it: client_ip(), an IPv6 address widened to its
    /64 (one subscriber's network: a host there picks any of its 2**64 addresses at will)."""
    address = client_ip(request)
    if address is None:
        return "unknown"
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address


class ClientIPRateThrottle(CacheRateThrottle):
    """Counts requests per client address, as resolved by client_network()."""

    def get_ident(self, request) -> str:
        return client_network(request)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginRateThrottle(ClientIPRateThrottle):
    scope = "login"


class RegisterRateThrottle(ClientIPRateThrottle):
    scope = "register"


class PasswordResetRateThrottle(ClientIPRateThrottle):
    scope = "password_reset"


class SchemaRateThrottle(ClientIPRateThrottle):
    """The OpenAPI schema per client address: generating it costs real CPU."""

    scope = "schema"


def _email_digest(email: object) -> str | None:
    if not isinstance(email, str) or not email:
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class EmailRateThrottle(CacheRateThrottle):
    """Counts per email: the one given, else the `email` of the request body (DRF's
    request.data); with per_address, per (email, client network) instead."""

    per_address = False

    def __init__(self, email: str | None = None) -> None:
        super().__init__()
        self.email = email

    def get_cache_key(self, request, view) -> str | None:
        email = self.email
        if email is None:
            data = getattr(request, "data", None)
            email = data.get("email") if hasattr(data, "get") else None
        digest = _email_digest(email)
        if digest is None:
            return None
        ident = f"{digest}_{client_network(request)}" if self.per_address else digest
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PasswordResetEmailAddressRateThrottle(EmailRateThrottle):
    """Reset requests per (email, client network), at THROTTLE_PASSWORD_RESET."""

    scope = "password_reset"
    per_address = True
    cache_format = "throttle_%(scope)s_email_address_%(ident)s"


class PasswordResetEmailRateThrottle(EmailRateThrottle):
    """Reset requests per target email whatever the address, at the looser
    THROTTLE_PASSWORD_RESET_EMAIL_CEILING: one inbox cannot be flooded from many addresses,
    and a requester elsewhere cannot stop the owner's request below it."""

    scope = "password_reset_email"


class LoginFailureThrottle(EmailRateThrottle):
    """Failed logins per (email, client network), exact however many guesses arrive at once.

    Each attempt takes a place in the count for the window before the password is checked,
    and is refused when its place is past the limit; an attempt that did not fail gives its
    place back (`give_back`): the login succeeded, the request was invalid, or another
    throttle refused it. Counting only after the check let every guess that was in flight at
    the same moment through, from as many addresses as the guesser had. Keyed on the pair,
    so failures from elsewhere do not lock the owner out; LoginFailureCeilingThrottle bounds
    the email's failures from everywhere. Use them through LoginAttempt.
    """

    scope = "login_failures"
    per_address = True

    def __init__(self, email: str | None = None) -> None:
        super().__init__(email)
        self.taken: tuple[str, float] | None = None  # (counter key, when) of this attempt

    def count(self, key: str, delta: int = 1) -> int:
        counted = super().count(key, delta)
        self.taken = (key, self.now)
        return counted

    def give_back(self) -> None:
        """This attempt did not fail: take it out of the window it was counted in."""
        if self.taken is None:
            return
        key, self.now = self.taken
        self.taken = None
        try:
            _incr(self.cache, self.window_key(key), math.ceil(self.wait()) + 1, -1)
        except CACHE_ERRORS as error:
            _cache_unavailable(self.scope, error)


class LoginFailureCeilingThrottle(LoginFailureThrottle):
    """Failed logins per email from every address, at THROTTLE_LOGIN_EMAIL_CEILING."""

    scope = "login_failures_email"
    per_address = False


class LoginAttempt:
    """One password check's places in the failed-login counts of its email: per (email, client
    network) at THROTTLE_LOGIN and per email at THROTTLE_LOGIN_EMAIL_CEILING. Every login form
    uses it (the API's auth/token/, the admin login, any later one), so all share the counts.

        attempt = LoginAttempt(request, email=email)
        if not attempt.allowed:
            ...  # 429 with Retry-After: attempt.retry_after; no password was checked
        ...  # check the password; unless the check failed: attempt.did_not_fail()
    """

    def __init__(self, request, *, email: str) -> None:
        self.throttles = [LoginFailureThrottle(email), LoginFailureCeilingThrottle(email)]
        # Every counter takes the place, so each one's count stays exact when another refuses.
        refused = [t for t in self.throttles if not t.allow_request(request, None)]
        self.allowed = not refused
        self.retry_after = max((t.wait() for t in refused), default=0.0)
        if refused:
            self.did_not_fail()

    def did_not_fail(self) -> None:
        """Give the places back: the login succeeded, or no password was checked."""
        for throttle in self.throttles:
            throttle.give_back()


class UserRateThrottle(CacheRateThrottle):
    """Counts requests per authenticated user."""

    def get_cache_key(self, request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class PasswordChangeRateThrottle(UserRateThrottle):
    scope = "password_change"


class BookingRateThrottle(UserRateThrottle):
    scope = "booking"


class UploadRateThrottle(UserRateThrottle):
    """Photo uploads (PUT) per user, over every photo endpoint together: each one decodes
    and re-encodes an image. Removing a photo (DELETE) is not counted."""

    scope = "upload"

    def get_cache_key(self, request, view) -> str | None:
        if request.method != "PUT":
            return None
        return super().get_cache_key(request, view)


class HoldRateThrottle(UserRateThrottle):
    """Slot holds made per user (THROTTLE_HOLD): each one hides a block from everyone."""

    scope = "hold"


class CalendarFeedAddressRateThrottle(ClientIPRateThrottle):
    """Calendar feed reads per client address (THROTTLE_CALENDAR_FEED): no JWT guards them."""

    scope = "calendar_feed"


class CalendarFeedTokenRateThrottle(CacheRateThrottle):
    """Calendar feed reads per feed token (THROTTLE_CALENDAR_FEED), keyed by the token's sha256
    (`request.calendar_token_hash`, set by the feed view): a shared link polled from
    everywhere is bounded too, and the cache never holds the token itself."""

    scope = "calendar_feed"
    cache_format = "throttle_%(scope)s_token_%(ident)s"

    def get_cache_key(self, request, view) -> str | None:
        token_hash = getattr(request, "calendar_token_hash", None)
        if token_hash is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": token_hash}
