"""The Redis cache backend reuses one client per pool and behaves as Django's."""

import os

import pytest
from django.core.cache import caches
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError

# The run's own Redis when it has one (REDIS_URL), so parallel runs keep to their databases.
REDIS_TEST_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"
REDIS = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": REDIS_TEST_URL}}


@pytest.fixture
def redis_cache():
    with override_settings(CACHES=REDIS):
        cache = caches.create_connection("default")
        try:
            cache.delete("medappt-cache-backend-test")
        except RedisConnectionError:
            pytest.skip("Redis is not reachable on 127.0.0.1:6379")
        yield cache
        cache.delete("medappt-cache-backend-test")
        cache.close()


def test_one_client_serves_every_call(redis_cache):
    first = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client("any key") is first
    assert redis_cache._cache.get_client(write=False) is first


def test_values_round_trip(redis_cache):
    key = "medappt-cache-backend-test"
    assert redis_cache.add(key, {"rows": [1, 2]}, 30)
    assert redis_cache.get(key) == {"rows": [1, 2]}
    assert redis_cache.get_many([key, "missing"]) == {key: {"rows": [1, 2]}}
    redis_cache.set(key, 5, 30)
    assert redis_cache.incr(key) == 6
