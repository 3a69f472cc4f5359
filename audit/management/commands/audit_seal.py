"""Seal committed audit events into the HMAC chain; run it from cron every minute."""

from django.core.management.base import BaseCommand

from audit.services import audit_seal


class Command(BaseCommand):
    help = (
        "Seal committed, unsealed audit events into the tamper-evident chain (seq, prev_hash, "
        "hash) and print the head SEQ:HASH. Safe to run from several hosts at once: sealers "
        "take turns under a PostgreSQL advisory lock. Keep the printed head off the database "
        "host and pass it to audit_verify --expect-head."
    )

    def handle(self, *args, **options) -> None:
        count, head = audit_seal()
        self.stdout.write(f"sealed {count} events; head {head}")
