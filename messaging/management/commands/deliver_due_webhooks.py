"""POST due webhook deliveries (also the deliver_due_webhooks task)."""

from django.core.management.base import BaseCommand

from messaging.services import webhook_deliver_due


class Command(BaseCommand):
    help = (
        "Deliver webhooks whose retry time came and claims whose lease ran out. Safe twice: "
        "each delivery is claimed by a conditional update."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{webhook_deliver_due()} webhooks delivered")
