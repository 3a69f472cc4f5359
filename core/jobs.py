"""Background jobs on Celery: the task base class and `enqueue()` (docs/architecture.md).

A task is a thin interface over a service, like a command: it takes ids, never tokens or
links, and says in its docstring why running it twice is safe (Celery delivers at least
once: acks late, redelivered when a worker dies). `enqueue()` sends it when the current
transaction commits, so a rollback queues nothing.

Without a broker (DEBUG only, `make run` on SQLite) tasks run in-process on commit
(CELERY_TASK_ALWAYS_EAGER); a failure there is logged and never fails the request. Tests run
eager too, with errors propagating (CELERY_TASK_EAGER_PROPAGATES).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from celery import Task, current_app, shared_task
from django.conf import settings
from django.db import transaction

from core.context import RequestContext, current_context, reset_context, set_context

logger = logging.getLogger("medappt.jobs")
REQUEST_ID_HEADER = "medappt_request_id"


class Job(Task):
    """A task that runs as the system, under the request id of whoever enqueued it."""

    def __call__(self, *args, **kwargs):
        headers = getattr(self.request, "headers", None) or {}
        request_id = headers.get(REQUEST_ID_HEADER) or getattr(self.request, REQUEST_ID_HEADER, "")
        token = set_context(RequestContext(request_id=request_id or ""))
        try:
            return super().__call__(*args, **kwargs)
        finally:
            reset_context(token)


def job(function: Callable) -> Task:
    """Declare a task (`@job`): JSON arguments, the Job base class, no stored result."""
    return shared_task(base=Job, ignore_result=True)(function)


def enqueue(task: Task | str, *ids: int) -> None:
    """Queue `task(*ids)` once the current transaction commits (at once outside one). A task
    may be named ("core.tasks.send_email") where importing it would be circular."""
    if isinstance(task, str):
        task = current_app.tasks[task]
    request_id = current_context().request_id
    transaction.on_commit(functools.partial(dispatch, task, ids, request_id))


def dispatch(task: Task, ids: tuple[int, ...], request_id: str = "") -> None:
    """Send the task to the broker now, or run it here in eager mode."""
    headers = {REQUEST_ID_HEADER: request_id}
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        task.apply_async(args=list(ids), headers=headers)
        return
    result = task.apply(args=list(ids), headers=headers)
    if result.failed():  # only when errors do not propagate: embedded mode
        logger.error("task %s%r failed in-process", task.name, tuple(ids), exc_info=result.result)
