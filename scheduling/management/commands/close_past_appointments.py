"""Close appointments whose start is long past."""

from django.conf import settings
from django.core.management.base import BaseCommand

from scheduling.services.maintenance import appointments_close_past


class Command(BaseCommand):
    help = (
        f"For appointments that started more than CLOSE_PAST_AFTER_HOURS (now "
        f"{settings.CLOSE_PAST_AFTER_HOURS}) ago: confirmed → completed, pending → cancelled "
        "with reason 'expired' by the system. Goes through the lifecycle services, so every "
        "change is audited and emailed as usual. --dry-run only counts."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count, change nothing.")

    def handle(self, *args, **options) -> None:
        run = appointments_close_past(dry_run=options["dry_run"])
        suffix = " (dry run: nothing changed)" if options["dry_run"] else ""
        self.stdout.write(f"{run.completed} completed, {run.cancelled} cancelled{suffix}")
