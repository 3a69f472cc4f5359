"""Django's Redis cache backend, keeping one redis-py client per connection pool; and the
errors a cache outage raises.

Django's RedisCacheClient builds a new `redis.Redis` object for every cache call, and
redis-py 8 fills a table of some 170 response callbacks in each one: about 0.1 ms of CPU
per call, more than the round trip to a local Redis. A client object holds no connection
of its own (it borrows one from the pool per command) and is safe to share between
threads, so one per pool is enough.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis.exceptions import RedisError

# What the cache raises when its server is down or slow: redis-py's errors (connection
# refused, socket timeout) and the socket errors underneath them. Throttles and the public
# read cache catch these and fail open.
CACHE_ERRORS = (RedisError, OSError)


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
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
