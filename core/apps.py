from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    """The plumbing every app imports: errors, pagination, cache, throttles, permissions,
    the transaction decorator and the lock order (docs/architecture.md)."""

    name = "core"

    def ready(self) -> None:
        # Timestamps parsed in C on PostgreSQL (core/db.py).
        from core.db import use_c_timestamp_loader

        connection_created.connect(use_c_timestamp_loader, dispatch_uid="core.db.timestamps")
        from core import tasks  # noqa: F401 - registers the outbox's tasks with Celery
