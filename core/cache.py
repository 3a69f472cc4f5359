"""Django's Redis cache backend, keeping one redis-py client per connection pool and
skipping an unreachable Redis for a few seconds (a circuit breaker); and the errors a cache
outage raises.

Django's RedisCacheClient builds a new `redis.Redis` object for every cache call, and
redis-py 8 fills a table of some 170 response callbacks in each one: about 0.1 ms of CPU
per call, more than the round trip to a local Redis. A client object holds no connection
of its own (it borrows one from the pool per command) and is safe to share between
threads, so one per pool is enough.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

# What the cache raises when its server is down or slow: redis-py's errors (connection
# refused, socket timeout) and the socket errors underneath them. Throttles and the public
# read cache catch these and fail open.
CACHE_ERRORS = (RedisError, OSError)

# Seconds Redis is skipped after a failure, unless OPTIONS["breaker_seconds"] says otherwise.
DEFAULT_BREAKER_SECONDS = 5.0


class CacheCircuitOpen(RedisConnectionError):
    """Redis failed moments ago: this call was not even tried (one of CACHE_ERRORS)."""


class CircuitBreaker:
    """After a failure, refuse calls to that Redis for `seconds` instead of letting each wait
    for its connect timeout again; the first call after that tries Redis (and closes the
    breaker if it answers, or opens it again if not)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.open_until = 0.0
        self.clock: Callable[[], float] = time.monotonic

    @property
    def is_open(self) -> bool:
        return self.clock() < self.open_until

    def check(self) -> None:
        if self.is_open:
            raise CacheCircuitOpen(f"Redis failed less than {self.seconds:g} s ago: not tried")

    def failed(self) -> None:
        self.open_until = self.clock() + self.seconds

    def succeeded(self) -> None:
        self.open_until = 0.0


# One breaker per Redis server, shared by every thread, cache alias and pool of the process.
_breakers: dict[tuple, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def _breaker(server: tuple, seconds: float) -> CircuitBreaker:
    with _breakers_lock:
        breaker = _breakers.get(server)
        if breaker is None:
            breaker = _breakers[server] = CircuitBreaker(seconds)
        return breaker


def reset_circuit_breakers() -> None:
    """Forget every breaker (tests)."""
    with _breakers_lock:
        _breakers.clear()


class BreakerConnectionPool(redis.ConnectionPool):
    """redis-py's pool, asking the server's breaker before handing out a connection and
    telling it how connecting went. Every command and pipeline takes its connection here, and
    a connection that failed is dropped, so an outage shows up here on the next call."""

    def __init__(self, *args, breaker_seconds: float = DEFAULT_BREAKER_SECONDS, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        options = self.connection_kwargs
        server = (options.get("host"), options.get("port"), options.get("path"))
        self.breaker = _breaker(server, breaker_seconds)

    def get_connection(self, *args, **kwargs):
        self.breaker.check()
        try:
            connection = super().get_connection(*args, **kwargs)
        except CACHE_ERRORS:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return connection


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(
        self,
        servers,
        pool_class=None,
        breaker_seconds: float = DEFAULT_BREAKER_SECONDS,
        **options,
    ) -> None:
        if pool_class is None:
            pool_class = BreakerConnectionPool
            options["breaker_seconds"] = breaker_seconds
        super().__init__(servers, pool_class=pool_class, **options)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    """settings.CACHES backend: Django's RedisCache with the client above."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient


def circuit_breaker_for(backend: RedisCache) -> CircuitBreaker:
    """The breaker of a cache backend's (first) server."""
    return backend._cache._get_connection_pool(write=True).breaker
