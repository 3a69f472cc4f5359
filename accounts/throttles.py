"""Throttles keyed by client_ip() or user, counters in the Django cache (Redis in production).

They fail open: when the cache cannot be reached the request goes on and a warning is logged.
A throttle slows guessing down; it is not an access rule (authentication and permissions
still apply), and a Redis outage must not turn every login into a 500.
"""

from __future__ import annotations

import hashlib
import logging

from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from medappt.context import client_ip

logger = logging.getLogger("medappt.throttling")

# What the cache raises when its server is down or slow: redis-py's errors (connection
# refused, socket timeout) and the socket errors underneath them.
CACHE_ERRORS = (RedisError, OSError)


def _cache_unavailable(scope: str, error: Exception) -> None:
    logger.warning(
        "throttle %s not applied: the cache is unavailable (%s: %s)",
        scope,
        type(error).__name__,
        error,
    )


class CacheRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle, failing open (with a logged warning) when the cache errors."""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as error:
            _cache_unavailable(self.scope, error)
            return True


class ClientIPRateThrottle(CacheRateThrottle):
    """Counts requests per client address, as resolved by client_ip()."""

    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginRateThrottle(ClientIPRateThrottle):
    scope = "login"


class RegisterRateThrottle(ClientIPRateThrottle):
    scope = "register"


class PasswordResetRateThrottle(ClientIPRateThrottle):
    scope = "password_reset"


class PasswordResetEmailRateThrottle(CacheRateThrottle):
    """Reset requests per target email, so one inbox cannot be flooded from many addresses."""

    scope = "password_reset"

    def get_cache_key(self, request, view) -> str | None:
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email:
            return None
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": "password_reset_email", "ident": digest}


class LoginFailureThrottle(CacheRateThrottle):
    """Failed logins per email: checked before the attempt, counted only on failure."""

    scope = "login_failures"

    def get_cache_key(self, request, view) -> str | None:
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email:
            return None
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            self.history = self.cache.get(self.key, [])
        except CACHE_ERRORS as error:
            _cache_unavailable(self.scope, error)
            return True
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) < self.num_requests or self.throttle_failure()

    def record_failure(self, request, view) -> None:
        """Count one failed attempt for the email in this request."""
        key = self.get_cache_key(request, view)
        if key is None or self.rate is None:
            return
        now = self.timer()
        try:
            history = [t for t in self.cache.get(key, []) if t > now - self.duration]
            history.insert(0, now)
            self.cache.set(key, history, self.duration)
        except CACHE_ERRORS as error:
            _cache_unavailable(self.scope, error)


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
