"""Admins acting on each other at the same instant, on PostgreSQL (real threads).

Suspending (like reactivating and promoting) locks the target's row and, at commit,
references the actor's (the field-history and audit rows point at the actor). Taken in
opposite orders by two admins suspending each other, those locks deadlocked and one request
was a 500. They now follow the global lock order (core/locking.py): user rows
by id, the actor's shared.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import User
from tests.support.clients import client_for
from tests.support.factories import AdminFactory
from tests.support.races import codes, race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lock_order_alone_suffices"),
]

ROUNDS = 15


def _suspend(actor: User, target: User) -> Callable[[], object]:
    client, url = client_for(actor), f"/api/v1/users/{target.pk}/suspend/"
    return lambda: client.post(url, {"reason": "Race test"}, format="json")


def test_two_admins_suspending_each_other_both_get_an_answer():
    for _ in range(ROUNDS):
        first, second = AdminFactory(), AdminFactory()

        outcomes = race(_suspend(first, second), _suspend(second, first))

        # Both pass (each was signed in when it started), or the later one finds its own
        # admin already suspended at sign-in: never a 500.
        assert set(codes(outcomes)) <= {(200, None), (401, None)}
        assert (200, None) in codes(outcomes)
        for (status, _body), target in zip(outcomes, (second, first), strict=True):
            target.refresh_from_db()
            assert (target.suspended_at is not None) == (status == 200)


def _demote(actor: User, target: User) -> Callable[[], object]:
    client, url = client_for(actor), f"/api/v1/users/{target.pk}/set-role/"
    return lambda: client.post(url, {"role": "staff"}, format="json")


def test_two_admins_demoting_each_other_leave_one_admin():
    for _ in range(ROUNDS):
        first, second = AdminFactory(), AdminFactory()

        outcomes = race(_demote(first, second), _demote(second, first))

        # The second to get the locks finds its actor no longer an admin (403), or is
        # refused at sign-in by its role already (403 too): never both demoted, never a 500.
        assert sorted(codes(outcomes).elements()) == [(200, None), (403, None)]
        first.refresh_from_db()
        second.refresh_from_db()
        assert sorted([first.role, second.role]) == ["admin", "staff"]
