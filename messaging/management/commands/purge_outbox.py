"""Delete old outbox events (also the purge_outbox task)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from core.outbox import outbox_purge


class Command(BaseCommand):
    help = (
        f"Delete dispatched outbox events older than OUTBOX_RETENTION_DAYS (now "
        f"{settings.OUTBOX_RETENTION_DAYS}) with their webhook deliveries. Safe to run twice."
    )

    def handle(self, *args, **options) -> None:
        n = outbox_purge(older_than_days=settings.OUTBOX_RETENTION_DAYS)
        self.stdout.write(f"{n} outbox events purged")
