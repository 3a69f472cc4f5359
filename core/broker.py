"""The Redis broker transport: kombu's, keeping one publishing client per connection pool.

kombu's Redis channel builds a new redis-py client (`redis.Redis(connection_pool=...)`) for
every message it publishes and every queue operation outside the consumer's loop; the
socket comes from the channel's pool either way, so the new client buys nothing but the
cost of building it (about a third of a publish's CPU: a booking publishes two jobs on
commit). This channel builds that client once per pool and reuses it: a redis-py client is
safe to share (each command takes a connection from the pool and gives it back), and when
kombu replaces the pool (after a fork, on reconnection) the next call builds a new client
for the new pool. Messages, queues, acknowledgements and the consumer's own (asynchronous)
client are kombu's, unchanged.

Selected by CELERY_BROKER_TRANSPORT in medappt/settings.py for redis:// and rediss:// URLs.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client: tuple[object, object] | None = None  # (the pool, its client)

    def _create_client(self, asynchronous: bool = False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        shared = self._shared_client
        if shared is None or shared[0] is not pool:
            shared = self._shared_client = (pool, super()._create_client())
        return shared[1]


class Transport(kombu_redis.Transport):
    Channel = Channel
