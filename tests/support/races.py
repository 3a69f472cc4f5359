"""Test helpers shared by the apps' suites (imported only by tests)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from django.db import connection

Outcome = tuple[int, dict]


def race(*calls: Callable[[], object]) -> list[Outcome]:
    """Run each API call in its own thread (own DB connection), all released at once.

    Returns (status, body) per call, in order; an exception in a thread fails the test.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[Outcome | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            response = call()
            outcomes[index] = (response.status_code, response.json())
        except BaseException as error:  # re-raised in the main thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing request hung"
    assert not errors, errors
    return outcomes


def codes(outcomes: list[Outcome]) -> Counter:
    """How many outcomes had each (status, error code) pair."""
    return Counter((status, body.get("code")) for status, body in outcomes)
