"""Email reminders for confirmed appointments that start soon (also the send_reminders task)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from scheduling.services.maintenance import appointment_reminders_send


class Command(BaseCommand):
    help = (
        "Email each patient whose confirmed appointment starts within REMINDER_HOURS "
        f"(now {settings.REMINDER_HOURS}) and who has not had a reminder. Each reminder is "
        "claimed by a conditional update that queues its mail in the same transaction (the "
        "mail outbox sends and retries it), so several copies running at once queue every "
        "reminder exactly once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count, send nothing.")

    def handle(self, *args, **options) -> None:
        run = appointment_reminders_send(dry_run=options["dry_run"])
        if options["dry_run"]:
            self.stdout.write(f"{run.skipped} reminders due (dry run: nothing sent)")
            return
        self.stdout.write(f"{run.sent} reminders queued, {run.skipped} taken by another runner")
