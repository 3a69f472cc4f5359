"""Safe retries of the portal's forms: each form carries a fresh Idempotency-Key (a hidden
field), and the write runs through core.idempotency.run_keyed like a keyed API request. The
same form posted twice (a double click, a reload after a lost answer) writes once; the second
post gets the first one's answer (the same redirect, or the same refusal)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect

from core.exceptions import Conflict, Unprocessable
from core.idempotency import Answer, check_key, run_keyed
from core.models import IdempotencyRecord

KEY_FIELD = "idempotency_key"
NOT_HASHED = {KEY_FIELD, "csrfmiddlewaretoken"}


def new_key() -> str:
    """A fresh key for one rendering of a form."""
    return uuid.uuid4().hex


def form_digest(request: HttpRequest) -> str:
    """sha256 of the method, the path and the form's fields (not the key or the CSRF token)."""
    fields = {k: request.POST.getlist(k) for k in sorted(request.POST) if k not in NOT_HASHED}
    text = json.dumps([request.method, request.path, fields], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _errors(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {name: [str(m) for m in msgs] for name, msgs in error.message_dict.items()}
    return {"__all__": [str(m) for m in error.messages]}


def outcome(write: Callable[[], str]) -> Answer:
    """Run `write` (a service call returning the URL to go to): 303 to it, or the refusal as
    the answer to store (409 with the Conflict's code and message, 400 with field errors)."""
    try:
        location = write()
    except Conflict as error:
        return Answer(409, {"detail": str(error.detail), "code": error.code})
    except ValidationError as error:
        return Answer(400, {"errors": _errors(error)})
    return Answer(303, {"location": location})


def keyed_write(
    request: HttpRequest,
    write: Callable[[], str],
    rebuild: Callable[[IdempotencyRecord], str],
) -> Answer:
    """The form's write, once per key: `write` calls the service and returns where to go;
    `rebuild(record)` says where to go when a first request applied but died before its
    answer was stored. Without a key (a hand-made post) the write simply runs."""
    key = request.POST.get(KEY_FIELD) or None
    try:
        check_key(key)
        if key is None:
            return outcome(write)
        answer, _ = run_keyed(
            user_id=request.user.pk,
            key=key,
            digest=form_digest(request),
            success_status=303,
            run=lambda: outcome(write),
            rebuild=lambda record: _rebuilt(record, rebuild),
        )
    except (Conflict, Unprocessable) as error:  # in progress, or the key reused
        return Answer(409, {"detail": str(error.detail), "code": error.code})
    except ValidationError as error:
        return Answer(400, {"errors": _errors(error)})
    return answer


def _rebuilt(record: IdempotencyRecord, rebuild: Callable) -> Answer:
    return Answer(303, {"location": rebuild(record)})


def see_other(location: str) -> HttpResponseRedirect:
    """303 See Other: after a successful post the browser GETs the result."""
    response = HttpResponseRedirect(location)
    response.status_code = 303
    return response
