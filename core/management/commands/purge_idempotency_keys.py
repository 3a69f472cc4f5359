"""Forget old Idempotency-Keys (also the purge_idempotency_keys task)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from core.idempotency import purge_expired_keys


class Command(BaseCommand):
    help = (
        f"Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL_HOURS (now "
        f"{settings.IDEMPOTENCY_KEY_TTL_HOURS}); a retry after that runs as a new request. "
        "Records whose request still runs (a live lease) stay. Safe to run twice."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{purge_expired_keys()} idempotency keys purged")
