"""Fan outbox events out to webhook subscriptions (also the outbox_dispatch task)."""

from django.core.management.base import BaseCommand

from messaging.services import outbox_dispatch


class Command(BaseCommand):
    help = "Create a delivery per matching subscription for each undispatched event. Safe twice."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{outbox_dispatch()} events dispatched")
