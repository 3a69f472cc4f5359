"""Materialise the standing schedules (also the materialize_availability task)."""

from django.core.management.base import BaseCommand

from scheduling.services.templates import availability_materialize


class Command(BaseCommand):
    help = (
        "Create the blocks of every active availability template up to "
        "AVAILABILITY_HORIZON_DAYS ahead, one transaction per doctor under the doctor's lock. "
        "Slots that overlap existing blocks are skipped, so running it twice or on several "
        "hosts creates nothing more."
    )

    def handle(self, *args, **options) -> None:
        doctors, made = availability_materialize()
        self.stdout.write(f"{made} blocks created for {doctors} doctors")
