"""Safe retries of keyed writes: the Idempotency-Key header (docs/api-rules.md).

A keyed request is not one transaction (core/locking.py's deadlock retry needs the service's
transaction to be the outermost), so it runs in three steps, each committed on its own:

1. **claim** `(user, key)`: insert the record in_progress with a lease. An existing record with
   another request hash is 422 idempotency_key_reused; a completed one is replayed; an applied
   one whose lease expired (its request died after committing) is rebuilt from the object it
   names; a live lease is waited for (every 100 ms, up to IDEMPOTENCY_WAIT_SECONDS, then 409
   idempotency_in_progress with Retry-After: 1); an expired in_progress lease is taken over by
   a conditional UPDATE on the lease token seen.
2. **run** the view unchanged, with the claim in a context variable: the outermost
   `service_transaction` ends each attempt with `mark_applied()`, an UPDATE on the lease
   token (0 rows: the lease was taken over, 409), so the effect and "applied" commit together.
3. **finish**: store the status, the body and the patients it showed; completed. A 5xx before
   "applied" deletes the record (nothing happened: the client may try again).

A replay answers the stored status and body with `Idempotent-Replayed: true` and runs no
service; the patient records the answer showed are recorded as viewed again (by the hook the
audit app registers). The core part knows no app: views name how to rebuild their answer.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import functools
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import (
    IDEMPOTENCY_IN_PROGRESS,
    IDEMPOTENCY_KEY_REUSED,
    Conflict,
    Unprocessable,
)
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
POLL_SECONDS = 0.1
State = IdempotencyRecord.State


class KeyReused(Unprocessable):
    """The key was used with another request (422 idempotency_key_reused)."""

    def __init__(self) -> None:
        super().__init__(
            IDEMPOTENCY_KEY_REUSED,
            gettext("This Idempotency-Key was already used with another request."),
        )


class InProgress(Conflict):
    """The key's first request is still running (409, Retry-After: 1)."""

    def __init__(self) -> None:
        super().__init__(
            IDEMPOTENCY_IN_PROGRESS,
            gettext("A request with this Idempotency-Key is still in progress."),
        )


@dataclass
class Answer:
    """A keyed write's answer outside DRF (the portal's forms): what finish() stores."""

    status_code: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Claim:
    record_id: int
    lease_token: str
    success_status: int
    applied: bool = False
    viewed: list[int] = field(default_factory=list)


_claim: contextvars.ContextVar[Claim | None] = contextvars.ContextVar(
    "medappt_idempotency_claim", default=None
)
# Set by the audit app: records patient_record.viewed for the ids a replayed answer shows.
_view_recorders: list[Callable[[list[int]], None]] = []


def register_view_recorder(recorder: Callable[[list[int]], None]) -> None:
    """Called from an upper app's ready(): how to record again that a replay showed patients."""
    if recorder not in _view_recorders:
        _view_recorders.append(recorder)


def note_viewed(patient_ids: Iterable[int | None]) -> None:
    """The current keyed request's answer shows these patients (kept for its replays)."""
    claim = _claim.get()
    if claim is not None:
        claim.viewed.extend(pid for pid in patient_ids if pid is not None)


def mark_applied(result: object) -> None:
    """The end of the outermost service transaction of a keyed request: "applied", in the same
    transaction as the effect, with the object it created or changed. No claim: nothing."""
    claim = _claim.get()
    if claim is None or claim.applied:
        return
    values: dict[str, Any] = {"state": State.APPLIED, "response_status": claim.success_status}
    if isinstance(result, models.Model):
        values.update(object_model=result._meta.label_lower, object_id=result.pk)
    updated = IdempotencyRecord.objects.filter(
        pk=claim.record_id, lease_token=claim.lease_token
    ).update(**values)
    if updated != 1:
        raise InProgress()  # our lease expired and another request took the key over
    claim.applied = True


def unmark_applied() -> None:
    """The transaction that marked the claim applied rolled back (a deadlock's retry runs)."""
    claim = _claim.get()
    if claim is not None:
        claim.applied = False


def check_key(key: str | None) -> None:
    """1-255 printable ASCII characters; mandatory when IDEMPOTENCY_REQUIRED (400 otherwise)."""
    if key is None:
        if settings.IDEMPOTENCY_REQUIRED:
            raise ValidationError({HEADER: [gettext("This header is required.")]})
        return
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise ValidationError(
            {
                HEADER: [
                    gettext("Use 1 to %(max)d printable ASCII characters.")
                    % {"max": MAX_KEY_LENGTH}
                ]
            }
        )


def request_hash(request: Request) -> str:
    """sha256 of the method, the path and the body as sorted, compact JSON."""
    data = request.data
    if hasattr(data, "dict"):  # a form body (QueryDict)
        data = data.dict()
    text = json.dumps(
        [request.method, request.path, data], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _own_transaction() -> contextlib.AbstractContextManager:
    """Each step is one statement: in autocommit it commits on its own (no BEGIN/COMMIT round
    trips); inside an enclosing transaction (tests, the admin) a savepoint keeps a failed
    INSERT from breaking it."""
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


def _lease_until(now: datetime.datetime) -> datetime.datetime:
    return now + datetime.timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)


def _take_over(record: IdempotencyRecord, now: datetime.datetime) -> str | None:
    """A new lease on an expired one, by a conditional UPDATE on the token seen."""
    token = uuid.uuid4().hex
    with _own_transaction():
        won = IdempotencyRecord.objects.filter(
            pk=record.pk, lease_token=record.lease_token, state=record.state
        ).update(lease_token=token, lease_until=_lease_until(now))
    return token if won == 1 else None


def claim(
    *, user_id: int, key: str, digest: str
) -> tuple[str, IdempotencyRecord | None, str | None]:
    """Step 1: ("run", record, token), ("replay", record, None) or ("rebuild", record, token).
    Raises KeyReused or InProgress."""
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        now = timezone.now()
        token = uuid.uuid4().hex
        try:
            with _own_transaction():
                record = IdempotencyRecord.objects.create(
                    user_id=user_id,
                    key=key,
                    request_hash=digest,
                    lease_token=token,
                    lease_until=_lease_until(now),
                )
            return "run", record, token
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
        if record is None:  # purged or abandoned meanwhile: claim it afresh
            continue
        if record.request_hash != digest:
            raise KeyReused()
        if record.state == State.COMPLETED:
            return "replay", record, None
        if record.lease_until is None or record.lease_until <= now:
            taken = _take_over(record, now)
            if taken is not None:
                return ("rebuild" if record.state == State.APPLIED else "run"), record, taken
            continue
        if time.monotonic() >= deadline:
            raise InProgress()
        time.sleep(POLL_SECONDS)


def finish(claimed: Claim, response: Response | Answer) -> None:
    """Step 3: store the answer (< 500) and complete; a 5xx before "applied" forgets the key,
    a 5xx after it ends the lease so that a retry rebuilds the answer at once."""
    records = IdempotencyRecord.objects.filter(
        pk=claimed.record_id, lease_token=claimed.lease_token
    )
    with _own_transaction():
        if response.status_code < 500:
            records.update(
                state=State.COMPLETED,
                response_status=response.status_code,
                response_body=response.data,
                viewed_patient_ids=sorted(set(claimed.viewed)),
                lease_until=None,
                completed_at=timezone.now(),
            )
        elif claimed.applied:
            records.update(lease_until=timezone.now())
        else:
            records.delete()


def replay(record: IdempotencyRecord) -> Response:
    """The stored answer, marked as a replay; the patients it shows are recorded as viewed."""
    if record.viewed_patient_ids:
        for recorder in _view_recorders:
            recorder(list(record.viewed_patient_ids))
    response = Response(record.response_body, status=record.response_status)
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(success_status: int = 200) -> Callable:
    """Decorate a viewset action: an optional (or, with IDEMPOTENCY_REQUIRED, mandatory)
    Idempotency-Key makes retries of it safe. It runs after authentication, permissions and
    throttles (inside the handler). The viewset may define `idempotency_rebuild(request,
    record)`, which renders the answer from the object an applied record names."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(self, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            check_key(key)
            if key is None:
                return view(self, request, *args, **kwargs)
            outcome, record, token = claim(
                user_id=request.user.pk, key=key, digest=request_hash(request)
            )
            if outcome == "replay":
                return replay(record)
            claimed = Claim(
                record_id=record.pk,
                lease_token=token,
                success_status=success_status,
                applied=outcome == "rebuild",
            )
            context_token = _claim.set(claimed)
            try:
                if outcome == "rebuild":
                    response = self.idempotency_rebuild(request, record)
                else:
                    try:
                        response = view(self, request, *args, **kwargs)
                    except Exception as error:
                        response = self.handle_exception(error)
            except BaseException:
                _claim.reset(context_token)
                finish(claimed, Response(status=500))
                raise
            _claim.reset(context_token)
            finish(claimed, response)
            if outcome == "rebuild" and response.status_code < 500:
                response[REPLAYED_HEADER] = "true"
            return response

        wrapper.idempotent = True  # read by core.schema: documents the header and the 422
        return wrapper

    return decorate


def run_keyed(
    *,
    user_id: int,
    key: str,
    digest: str,
    success_status: int,
    run: Callable[[], Answer],
    rebuild: Callable[[IdempotencyRecord], Answer],
) -> tuple[Answer, bool]:
    """The three steps of `idempotent()` for a write that is not a DRF view (a portal form):
    `run` calls the service and returns the answer to store; `rebuild` renders it from the
    object an applied record names. Returns (answer, replayed). Raises what claim() raises."""
    check_key(key)
    outcome, record, token = claim(user_id=user_id, key=key, digest=digest)
    if outcome == "replay":
        if record.viewed_patient_ids:
            for recorder in _view_recorders:
                recorder(list(record.viewed_patient_ids))
        return Answer(record.response_status, record.response_body or {}), True
    claimed = Claim(
        record_id=record.pk,
        lease_token=token,
        success_status=success_status,
        applied=outcome == "rebuild",
    )
    context_token = _claim.set(claimed)
    try:
        answer = rebuild(record) if outcome == "rebuild" else run()
    except BaseException:
        _claim.reset(context_token)
        finish(claimed, Answer(500))
        raise
    _claim.reset(context_token)
    finish(claimed, answer)
    return answer, outcome == "rebuild"


def purge_expired_keys(*, now: datetime.datetime | None = None) -> int:
    """Delete records older than IDEMPOTENCY_KEY_TTL_HOURS (never one whose lease still runs)."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    stale = IdempotencyRecord.objects.filter(created_at__lt=cutoff).exclude(
        lease_until__gt=now, state__in=[State.IN_PROGRESS, State.APPLIED]
    )
    deleted, _ = stale.delete()
    return deleted
