"""core/throttles.py: atomic fixed-window counters, on local memory and on a real Redis.

The Redis cases use REDIS_URL, else database 14 on 127.0.0.1:6379 (skipped when nobody
listens there), and delete only the keys they made: each carries this run's TOKEN (in its
scope) or ADDRESS.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from core.throttles import CacheRateThrottle, ClientIPRateThrottle, LoginFailureThrottle
from tests.support.factories import DEFAULT_PASSWORD

# The run's own Redis when it has one (REDIS_URL), so parallel runs keep to their databases.
REDIS_TEST_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"
TOKEN = uuid.uuid4().hex[:12]
ADDRESS = "10.{}.{}.{}".format(*bytes.fromhex(TOKEN[:6]))  # this run's client address
WINDOW_START = 20_833 * 86_400  # a day boundary, so a minute and an hour boundary too
TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture(params=["locmem", "redis"])
def counters(request, monkeypatch) -> Iterator[tuple[BaseCache, redis.Redis | None]]:
    """The throttles' cache for one test, local memory or a real Redis, with a raw client
    for the latter. Threads share the backend; Redis gives each its own pooled connection."""
    if request.param == "locmem":
        backend = LocMemCache(TOKEN, {})
        backend.clear()
        monkeypatch.setattr(SimpleRateThrottle, "cache", backend)
        yield backend, None
        backend.clear()
        return
    raw = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=0.5)
    try:
        raw.ping()
    except redis.RedisError:
        raw.close()
        pytest.skip(f"no Redis at {REDIS_TEST_URL}")
    backend = RedisCache(REDIS_TEST_URL, {})
    monkeypatch.setattr(SimpleRateThrottle, "cache", backend)
    try:
        yield backend, raw
    finally:
        for pattern in (f"*{TOKEN}*", f"*_{ADDRESS}_*"):
            for key in raw.scan_iter(pattern):
                raw.delete(key)
        raw.close()
        # Django's RedisCache has no close(); open sockets would warn (filterwarnings = error).
        for pool in backend._cache._pools.values():
            pool.disconnect()


def throttle_class(base: type, rate: str, at: float) -> type:
    """A throttle of this test run's own scope, with its clock stopped at `at`."""
    return type(
        "TestThrottle",
        (base,),
        {
            "scope": f"{base.scope or 'test'}_{TOKEN}",
            "rate": rate,
            "timer": staticmethod(lambda: at),
        },
    )


def post_from(email: str = "someone@example.com"):
    request = RequestFactory().post("/", REMOTE_ADDR=ADDRESS)
    request.data = {"email": email}  # what DRF's Request offers the throttles
    return request


def in_threads(n: int, call: Callable[[], bool | None]) -> list[bool | None]:
    """Run call() in n threads released at once; their results."""
    results: list[bool | None] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_concurrent_burst_lets_exactly_the_limit_through(counters):
    throttle = throttle_class(ClientIPRateThrottle, "10/min", WINDOW_START + 30)
    request = post_from()

    allowed = in_threads(40, lambda: throttle().allow_request(request, None))

    assert allowed.count(True) == 10
    assert allowed.count(False) == 30
    _, raw = counters
    if raw is not None:
        (key,) = raw.keys(f"*{TOKEN}*")
        assert 0 < raw.ttl(key) <= 31  # the counter dies with its window, never lingers


def test_the_next_window_starts_a_new_count_and_retry_after_says_when(counters):
    request = post_from()
    late = throttle_class(ClientIPRateThrottle, "2/min", WINDOW_START + 45.5)()
    assert [late.allow_request(request, None) for _ in range(3)] == [True, True, False]
    assert late.wait() == 14.5

    # The window boundary is where the fixed window may let 2N through in a short time.
    next_window = throttle_class(ClientIPRateThrottle, "2/min", WINDOW_START + 60)()
    assert [next_window.allow_request(request, None) for _ in range(3)] == [True, True, False]
    assert next_window.wait() == 60


def test_concurrent_guesses_at_one_email_let_exactly_the_limit_through(counters):
    throttle = throttle_class(LoginFailureThrottle, "3/min", WINDOW_START + 5)
    guessed = post_from(f"guessed-{TOKEN}@example.com")

    # Each guess takes its place before its password is checked: a burst from any number
    # of addresses gets no more than the limit checked in the window.
    allowed = in_threads(20, lambda: throttle().allow_request(guessed, None))

    assert allowed.count(True) == 3
    check = throttle()
    assert not check.allow_request(guessed, None)
    assert check.wait() == 55
    assert throttle().allow_request(post_from(f"other-{TOKEN}@example.com"), None)


def test_an_attempt_that_did_not_fail_gives_its_place_back(counters):
    throttle = throttle_class(LoginFailureThrottle, "2/min", WINDOW_START + 5)
    email = post_from(f"owner-{TOKEN}@example.com")
    backend, _ = counters

    def succeeded() -> bool:
        attempt = throttle()
        allowed = attempt.allow_request(email, None)
        attempt.give_back()
        return allowed

    # One after another, as a person signs in: the count goes back to nothing each time.
    # (In flight at once, attempts hold places: only 2 could be checked together.)
    assert [succeeded() for _ in range(10)] == [True] * 10
    check = throttle()
    check.now = check.timer()
    assert backend.get(check.window_key(check.get_cache_key(email, None))) == 0
    failed = [throttle(), throttle()]
    assert [attempt.allow_request(email, None) for attempt in failed] == [True, True]
    assert not throttle().allow_request(email, None)


def test_a_place_given_back_after_its_window_ended_never_lingers(counters):
    email = post_from(f"slow-{TOKEN}@example.com")
    attempt = throttle_class(LoginFailureThrottle, "2/min", WINDOW_START + 59.5)()
    assert attempt.allow_request(email, None)
    backend, raw = counters
    key = attempt.window_key(attempt.get_cache_key(email, None))
    backend.delete(key)  # the window ended and its counter expired while the login ran

    attempt.give_back()

    assert backend.get(key) == -1  # an expired window's count: nothing reads it again
    if raw is not None:
        (stored,) = raw.keys(f"*{TOKEN}*")
        assert 0 < raw.ttl(stored) <= 2  # and it expires like any counter
    attempt.give_back()  # once only
    assert backend.get(key) == -1


@pytest.mark.django_db
def test_a_throttled_login_gets_the_seconds_left_in_the_window_as_retry_after(
    counters, throttle_rates, monkeypatch, patient
):
    throttle_rates(login="2/min", login_failures="100/min")
    monkeypatch.setattr(CacheRateThrottle, "timer", staticmethod(lambda: WINDOW_START + 45.2))

    def login():
        body = {"email": patient.email, "password": DEFAULT_PASSWORD}
        return APIClient().post(TOKEN_URL, body, REMOTE_ADDR=ADDRESS)

    assert [login().status_code for _ in range(2)] == [200, 200]
    throttled = login()

    assert throttled.status_code == 429
    assert throttled["Retry-After"] == "15"
