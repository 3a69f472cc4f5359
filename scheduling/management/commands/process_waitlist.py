"""End due waitlist rounds and offer free blocks again (also the process_waitlist task)."""

from django.core.management.base import BaseCommand

from scheduling.services.waitlist_offers import waitlist_process


class Command(BaseCommand):
    help = (
        "End every waitlist round whose shared hold has expired (pending offers expire, their "
        "entries miss one), then offer every free block that had a round to the next waiting "
        "patients. Each round ends under its block's lock and a held block is never offered "
        "twice, so running it twice or on several hosts is safe."
    )

    def handle(self, *args, **options) -> None:
        ended, made = waitlist_process()
        self.stdout.write(f"{ended} rounds ended, {made} offers made")
