"""Close slot holds whose time is up (also the expire_holds task)."""

from django.core.management.base import BaseCommand

from scheduling.services.holds import slot_holds_expire


class Command(BaseCommand):
    help = (
        "Close every open slot hold whose HOLD_TTL_SECONDS have passed, as the system. Writes "
        "that lock a block close its expired hold anyway, so this only tidies up; each hold is "
        "closed by a conditional update, so running it twice or on several hosts is safe."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{slot_holds_expire()} holds expired")
