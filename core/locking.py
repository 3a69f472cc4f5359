"""The one transaction decorator of every service that writes, and the global lock order.

Every transaction takes its row locks in one global order, so two of them can never wait on
each other in a cycle (PostgreSQL's "deadlock detected"); docs/architecture.md lists it:

1. user rows, by ascending id (`lock_users`): FOR UPDATE for the users whose rules the
   service holds (the patient booking or rescheduling, the doctor whose blocks change, the
   user being deactivated, suspended or promoted); FOR KEY SHARE for those it only checks or
   references (the appointment's or block's doctor, the actor). PostgreSQL takes that
   key-share lock anyway, but late, for a foreign key to the row (an appointment's patient,
   doctor and cancelled_by, a field-history entry's actor); taken first, it cannot close a
   cycle;
2. appointments (several: by start, then id);
3. time blocks. (A reschedule's old block is only referenced: nothing that locks a block
   waits for another row after it.)
4. slot holds (the open hold of the block just locked);
5. waitlist entries, then waitlist offers, by id (scheduling/services/waitlist_offers.py);
6. last, the idempotency record of a keyed request (one UPDATE: "applied", see below).

`service_transaction` reruns a transaction once if PostgreSQL still aborts it with a
deadlock or a serialization failure. The outermost service of a keyed request ends each
attempt by marking its Idempotency-Key applied (core/idempotency.py), in that transaction.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, transaction
from psycopg import errors as pg_errors

from core import idempotency

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as User


logger = logging.getLogger("medappt.transactions")
Params = ParamSpec("Params")
Result = TypeVar("Result")
# How many service transactions enclose the running code: 0 outside any (the outermost
# service marks a keyed request applied, whatever database transaction encloses it).
_service_depth: contextvars.ContextVar[int] = contextvars.ContextVar(
    "medappt_service_depth", default=0
)


def _aborted_by_lock_conflict(error: OperationalError) -> bool:
    return isinstance(error.__cause__, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)


def service_transaction(service: Callable[Params, Result]) -> Callable[Params, Result]:
    """`transaction.atomic`; the outermost transaction runs once more if PostgreSQL aborted it
    for a deadlock or a serialization failure (nothing of it was kept, no mail was sent)."""

    def atomic_service(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        outermost = _service_depth.get() == 0
        depth = _service_depth.set(_service_depth.get() + 1)
        try:
            with transaction.atomic():
                result = service(*args, **kwargs)
                if outermost:
                    idempotency.mark_applied(result)  # step 6 of the lock order: last
            return result
        except BaseException:
            if outermost:
                idempotency.unmark_applied()  # rolled back with the effect
            raise
        finally:
            _service_depth.reset(depth)

    @functools.wraps(service)
    def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        if connection.in_atomic_block:  # only the outermost transaction can start over
            return atomic_service(*args, **kwargs)
        try:
            return atomic_service(*args, **kwargs)
        except OperationalError as error:
            if not _aborted_by_lock_conflict(error):
                raise
            logger.warning("%s: %s; retrying once", service.__name__, error.__cause__.sqlstate)
        return atomic_service(*args, **kwargs)

    return run


def constrained_write() -> transaction.Atomic:
    """The block around a write that a database constraint may refuse, whose IntegrityError
    the service turns into a Conflict (and so raises on).

    Inside an outer transaction that may go on after the Conflict (a nested service, a test's
    transaction) it is a savepoint, so the outer one stays usable. When the service's own
    transaction is the outermost, the Conflict rolls all of it back anyway: a savepoint would
    only cost two statements (SAVEPOINT, RELEASE) per write, so there is none (#25); the
    failed block marks the transaction for rollback, as Django does without a savepoint.
    """
    return transaction.atomic(savepoint=len(connection.atomic_blocks) > 1)


def _key_share_lock(user_id: int) -> None:
    """FOR KEY SHARE of one user row: it waits only for a FOR UPDATE lock (Django's API has
    no shared row lock). SQLite has no row locks: its write transaction serializes writers."""
    if connection.vendor != "postgresql":
        return
    sql, params = get_user_model().objects.filter(pk=user_id).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} FOR KEY SHARE", params)


def lock_users(
    *, exclusive: Iterable[int | None] = (), shared: Iterable[int | None] = ()
) -> dict[int, User]:
    """Step 1 of the lock order: the user rows by ascending id, FOR UPDATE for `exclusive`,
    FOR KEY SHARE for the rest of `shared` (None is skipped). Returns the exclusive ones, fresh."""
    is_exclusive = {pk: False for pk in shared if pk is not None}
    is_exclusive.update({pk: True for pk in exclusive if pk is not None})
    locked = {}
    for pk in sorted(is_exclusive):
        if is_exclusive[pk]:
            locked[pk] = get_user_model().objects.select_for_update().get(pk=pk)
        else:
            _key_share_lock(pk)
    return locked


def actor_id(actor: User | None) -> int | None:
    return actor.pk if actor is not None else None
