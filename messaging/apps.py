from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Signed webhooks fed by the transactional outbox (DESIGN-R2 R2-6)."""

    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from core.outbox import register_dispatcher
        from messaging import tasks  # noqa: F401 - registers the webhook tasks with Celery

        # core writes the events; every commit that wrote one fans them out (core/outbox.py).
        register_dispatcher("messaging.tasks.outbox_dispatch")
