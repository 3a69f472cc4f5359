"""Send every mail of the outbox that is due (also the send_pending_emails task)."""

from django.core.management.base import BaseCommand

from core.mail import mail_send_due


class Command(BaseCommand):
    help = (
        "Send the outbox's mails that are due: retries whose backoff has ended, and mails "
        "claimed by a worker that died (lease ran out). Each mail is claimed by a conditional "
        "update, so several copies running at once send each mail once."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{mail_send_due()} mails sent")
