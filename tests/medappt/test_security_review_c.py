"""Security review round 2, finding 5: the public read cache and the throttle counters.

- Only canonical, known query parameters make a cache key: a request naming any other
  parameter is answered from the database and stores nothing (`?junk=N` cannot fill Redis),
  and the known ones in any order share one entry.
- The cache's keys carry their own prefix (`public:`), apart from the counters; with a
  `public` cache alias configured (PUBLIC_CACHE_URL) they live there and not beside the
  counters at all. Every key expires, the scope versions included.
- When Redis is unreachable, a circuit breaker skips it for REDIS_BREAKER_SECONDS after a
  failure instead of waiting for the connection to fail again on every call.
"""

from __future__ import annotations

import json

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from core import cache as cache_backend
from core import response_cache
from tests.accounts.helpers import DOCTORS_URL, TOKEN_URL, doctor_url
from tests.medappt.test_settings import PRODUCTION_ENV
from tests.medappt.test_settings import run_django as run_django  # the fixture, re-exported
from tests.support.factories import DEFAULT_PASSWORD, DoctorFactory, TimeBlockFactory

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def availability_url(doctor) -> str:
    return f"/api/v1/doctors/{doctor.pk}/availability/"


def stored_keys(backend) -> list[str]:
    """The keys a cache backend holds, as the code named them (without Django's prefix and
    version)."""
    if hasattr(backend, "_expire_info"):  # local memory
        keys = list(backend._cache)
    else:
        client = backend._cache.get_client(write=True)
        keys = [key.decode() for key in client.scan_iter(f"{backend.key_prefix}:*")]
    return [key.split(":", 2)[2] for key in keys]


def seconds_left(backend, key: str) -> float | None:
    """How long the key has to live; None when it never expires."""
    full = backend.make_and_validate_key(key)
    if hasattr(backend, "_expire_info"):
        import time

        expiry = backend._expire_info.get(full)
        return None if expiry is None else expiry - time.time()
    ttl = backend._cache.get_client(write=True).ttl(full)
    return None if ttl < 0 else ttl


# ---------------------------------------------------------------------------
# Canonical keys
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        lambda doctor: DOCTORS_URL,
        lambda doctor: doctor_url(doctor),
        lambda doctor: availability_url(doctor),
    ],
    ids=["directory", "detail", "availability"],
)
def test_a_request_with_an_unknown_parameter_is_answered_but_never_cached(
    public_cache, anon_client, doctor, url
):
    TimeBlockFactory(doctor=doctor)
    before = stored_keys(cache)

    for n in range(3):
        response = anon_client.get(url(doctor), {"junk": n})
        assert response.status_code == 200
        again = anon_client.get(url(doctor), {"junk": n})
        assert again.json() == response.json()

    assert [key for key in stored_keys(cache) if key not in before and "version" not in key] == []


def test_a_repeated_request_with_an_unknown_parameter_asks_the_database_again(
    public_cache, anon_client, doctor, django_assert_num_queries
):
    with CaptureQueriesContext(connection) as first:
        anon_client.get(doctor_url(doctor), {"junk": "1"})
    assert len(first) > 0
    # The doctor's queries again, all of them: nothing came from the cache.
    with django_assert_num_queries(len(first)):
        anon_client.get(doctor_url(doctor), {"junk": "1"})


def test_known_parameters_in_any_order_share_one_entry(
    public_cache, anon_client, django_assert_num_queries
):
    DoctorFactory.create_batch(3)
    first = anon_client.get(f"{DOCTORS_URL}?ordering=last_name&page_size=2")
    assert first.status_code == 200

    with django_assert_num_queries(0):
        second = anon_client.get(f"{DOCTORS_URL}?page_size=2&ordering=last_name")

    assert second.json() == first.json()


def test_an_unknown_parameter_beside_known_ones_is_not_cached_either(
    public_cache, anon_client, doctor, django_assert_num_queries
):
    anon_client.get(availability_url(doctor), {"page_size": 5, "x": 1})
    with django_assert_num_queries(2):  # the public doctor check and the page, again
        anon_client.get(availability_url(doctor), {"page_size": 5, "x": 1})


# ---------------------------------------------------------------------------
# Key spaces and lifetimes
# ---------------------------------------------------------------------------
def test_public_cache_keys_carry_their_own_prefix_apart_from_the_counters(
    public_cache, anon_client, doctor, throttled_login
):
    anon_client.get(DOCTORS_URL)
    anon_client.get(availability_url(doctor))
    throttled_login()

    keys = stored_keys(cache)
    public = [key for key in keys if key.startswith(response_cache.KEY_PREFIX)]
    others = [key for key in keys if not key.startswith(response_cache.KEY_PREFIX)]
    assert len(public) >= 4  # two versions and two answers
    assert others  # the login's counters
    assert all(key.startswith("throttle_") for key in others)


def test_with_a_public_alias_the_cache_never_writes_beside_the_counters(
    settings, public_cache, anon_client, doctor
):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "public": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "public-cache-test",
        },
    }
    caches["public"].clear()
    try:
        anon_client.get(DOCTORS_URL)
        assert stored_keys(caches["default"]) == []
        assert len(stored_keys(caches["public"])) == 2
    finally:
        caches["public"].clear()


def test_every_key_of_the_public_cache_expires(public_cache, anon_client, doctor):
    anon_client.get(DOCTORS_URL)
    anon_client.get(availability_url(doctor))
    response_cache._bump_now((response_cache.DIRECTORY,))

    keys = [k for k in stored_keys(cache) if k.startswith(response_cache.KEY_PREFIX)]
    assert keys
    for key in keys:
        left = seconds_left(cache, key)
        assert left is not None, key
        assert 0 < left <= response_cache.version_timeout(), key


@pytest.fixture
def throttled_login(patient):
    def login():
        body = {"email": patient.email, "password": DEFAULT_PASSWORD}
        assert APIClient().post(TOKEN_URL, body).status_code == 200

    return login


# ---------------------------------------------------------------------------
# The circuit breaker
# ---------------------------------------------------------------------------
@pytest.fixture
def connects(monkeypatch):
    """Counts the connections redis-py tries to open."""
    attempts = []
    original = redis.connection.AbstractConnection.connect

    def counting(self):
        attempts.append(self)
        return original(self)

    monkeypatch.setattr(redis.connection.AbstractConnection, "connect", counting)
    return attempts


@pytest.fixture
def breakers():
    cache_backend.reset_circuit_breakers()
    yield cache_backend
    cache_backend.reset_circuit_breakers()


def unreachable(**options):
    return cache_backend.RedisCache(
        UNREACHABLE_REDIS,
        {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5, **options}},
    )


def test_after_a_failure_the_next_call_skips_redis(breakers, connects):
    backend = unreachable()

    with pytest.raises(redis.ConnectionError):
        backend.get("anything")
    assert len(connects) == 1
    assert breakers.circuit_breaker_for(backend).is_open

    with pytest.raises(cache_backend.CacheCircuitOpen):
        backend.get("anything")
    with pytest.raises(cache_backend.CacheCircuitOpen):
        backend.set("anything", 1, 10)
    assert len(connects) == 1  # neither call tried to connect


def test_the_circuit_open_error_is_a_cache_error(breakers):
    assert issubclass(cache_backend.CacheCircuitOpen, cache_backend.CACHE_ERRORS)


def test_after_the_breaker_seconds_redis_is_tried_again(breakers, connects):
    backend = unreachable(breaker_seconds=5)
    breaker = breakers.circuit_breaker_for(backend)
    now = [1000.0]
    breaker.clock = lambda: now[0]

    with pytest.raises(redis.ConnectionError):
        backend.get("anything")
    now[0] += 4.9
    with pytest.raises(cache_backend.CacheCircuitOpen):
        backend.get("anything")
    assert len(connects) == 1

    now[0] += 0.2
    with pytest.raises(redis.ConnectionError):
        backend.get("anything")  # tried, and failed again: open for another 5 s
    assert len(connects) == 2
    assert breaker.is_open


def test_a_login_during_an_outage_tries_redis_once(
    breakers, connects, monkeypatch, patient, caplog
):
    monkeypatch.setattr(SimpleRateThrottle, "cache", unreachable())

    body = {"email": patient.email, "password": DEFAULT_PASSWORD}
    assert APIClient().post(TOKEN_URL, body).status_code == 200
    assert len(connects) == 1  # three counts (the address, (email, address), the email)
    assert APIClient().post(TOKEN_URL, body).status_code == 200
    assert len(connects) == 1  # the next login waits for nothing

    warnings = [r for r in caplog.records if r.name == "medappt.throttling"]
    assert len(warnings) == 6  # each skipped check still says so


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs a reachable Redis: set REDIS_URL")
def test_a_reachable_redis_closes_the_breaker_again(breakers):
    backend = cache_backend.RedisCache(django_settings.REDIS_URL, {})
    breaker = breakers.circuit_breaker_for(backend)
    now = [1000.0]
    breaker.clock = lambda: now[0]
    breaker.failed()
    assert breaker.is_open
    now[0] += 60

    backend.set("medappt-breaker-test", 1, 10)

    assert not breaker.is_open
    assert backend.get("medappt-breaker-test") == 1
    backend.delete("medappt-breaker-test")
    for pool in backend._cache._pools.values():
        pool.disconnect()


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------
SETTINGS_CODE = (
    "import json\n"
    "from django.conf import settings\n"
    "from django.core.cache import caches\n"
    "from core import response_cache\n"
    "from core.cache import circuit_breaker_for\n"
    "print(json.dumps({\n"
    "    'aliases': sorted(settings.CACHES),\n"
    "    'public': settings.CACHES.get('public', {}).get('LOCATION'),\n"
    "    'public_backend': type(response_cache.public_cache()).__name__,\n"
    "    'same': response_cache.public_cache() is caches['default'],\n"
    "    'breaker': circuit_breaker_for(caches['default']).seconds,\n"
    "}))\n"
)


def test_public_cache_url_gives_the_public_cache_its_own_redis(run_django):
    env = {
        **PRODUCTION_ENV,
        "REDIS_URL": "redis://cache.internal:6379/1",
        "PUBLIC_CACHE_URL": "redis://cache.internal:6379/2",
        "REDIS_BREAKER_SECONDS": "3",
    }
    result = run_django(env, code=SETTINGS_CODE)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["aliases"] == ["default", "public"]
    assert values["public"] == "redis://cache.internal:6379/2"
    assert values["public_backend"] == "RedisCache"
    assert values["same"] is False
    assert values["breaker"] == 3


def test_without_public_cache_url_the_public_cache_shares_the_default_one(run_django):
    result = run_django(
        {**PRODUCTION_ENV, "REDIS_URL": "redis://cache.internal:6379/1"}, code=SETTINGS_CODE
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["aliases"] == ["default"]
    assert values["same"] is True
    assert values["breaker"] == 5
