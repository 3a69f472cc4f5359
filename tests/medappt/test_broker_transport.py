"""core/broker.py: kombu's Redis transport with one publishing client per connection pool.

Against a real Redis broker (CELERY_BROKER_URL, its own database): messages published through
it arrive as kombu's own transport would deliver them, the client is built once per pool and
again when kombu replaces the pool, and the app uses it for a redis:// broker.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis

from core.broker import Channel, Transport
from medappt.celery import app

pytestmark = pytest.mark.skipif(
    not django_settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="needs a Redis broker: set CELERY_BROKER_URL (its own Redis database)",
)

QUEUE = "medappt-test-broker-transport"


def connection() -> Connection:
    return Connection(django_settings.CELERY_BROKER_URL, transport="core.broker:Transport")


def test_the_app_publishes_through_it():
    with app.connection_for_write() as conn:
        assert conn.transport_cls == "core.broker:Transport"
        assert isinstance(conn.default_channel, Channel)


def test_messages_arrive_as_with_kombus_transport():
    queue = Queue(QUEUE, Exchange(QUEUE), routing_key=QUEUE)
    with connection() as conn:
        channel = conn.default_channel
        queue(channel).declare()
        queue(channel).purge()
        producer = conn.Producer(serializer="json")
        for n in range(3):
            producer.publish(
                {"ids": [n]}, exchange=queue.exchange, routing_key=QUEUE, declare=[queue]
            )
        received = []
        for _ in range(3):
            message = queue(channel).get(no_ack=True)
            received.append(message.payload)
        assert received == [{"ids": [0]}, {"ids": [1]}, {"ids": [2]}]
        assert queue(channel).get(no_ack=True) is None
        queue(channel).delete()


def test_one_client_per_pool_and_a_new_one_for_a_new_pool():
    with connection() as conn:
        channel = conn.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        assert first.connection_pool is channel.pool
        assert first.ping()
        # The consumer's asynchronous client stays kombu's (a new one each time).
        assert channel._create_client(asynchronous=True) is not first
        channel._disconnect_pools()  # what kombu does after a fork
        second = channel._create_client()
        assert second is not first
        assert second.connection_pool is channel.pool
        assert second.ping()


def test_kombus_own_channel_builds_a_client_per_call():
    """Why the transport exists: the behaviour it replaces (a kombu upgrade that stops doing
    this makes core/broker.py unnecessary)."""
    with Connection(django_settings.CELERY_BROKER_URL, transport=kombu_redis.Transport) as conn:
        channel = conn.default_channel
        assert channel._create_client() is not channel._create_client()
    assert issubclass(Transport.Channel, kombu_redis.Channel)
