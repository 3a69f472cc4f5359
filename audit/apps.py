from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from audit import tasks  # noqa: F401 - registers the app's Celery tasks
        from audit.services import record_replayed_views
        from core.idempotency import register_view_recorder

        register_view_recorder(record_replayed_views)
