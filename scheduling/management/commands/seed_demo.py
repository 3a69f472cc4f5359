"""Demo clinic, and synthetic load data with --scale."""

import secrets
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scheduling.seeding import DEMO_PASSWORD, seed_demo_clinic, seed_scale


class Command(BaseCommand):
    help = (
        "Create the demo clinic: an admin, a front-desk user, doctors in several time zones "
        "with two weeks of blocks, patients, appointments in every status and reviews; print "
        "the logins. Idempotent: a second run changes nothing. --scale N also adds N synthetic "
        "doctors with a year of blocks each and realistic appointments, bulk-inserted; being "
        "synthetic, that load data is exempt from the audit trail and field history. Re-running "
        "with the same N adds nothing; a larger N adds the missing doctors. Without DEBUG it "
        "refuses unless --allow-demo-admin is given, and then the accounts it creates get a "
        "random password, printed once, instead of the published demo one."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--scale", type=int, default=0, metavar="N", help="Synthetic doctors for load tests."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="W",
            help="Doctors seeded at once, each on its own connection (default 2 on "
            "PostgreSQL, 1 on SQLite).",
        )
        parser.add_argument(
            "--allow-demo-admin",
            action="store_true",
            help="Seed even though DEBUG is off (the demo admin then gets a random password).",
        )

    def handle(self, *args, **options) -> None:
        scale = options["scale"]
        if scale < 0:
            raise CommandError("--scale takes a number of doctors, 0 or more.")
        if options["workers"] is not None and options["workers"] < 1:
            raise CommandError("--workers takes 1 or more.")
        if settings.DEBUG:
            password = DEMO_PASSWORD
            heading = f"Demo clinic ready. Logins (password for all: {DEMO_PASSWORD}):"
        elif options["allow_demo_admin"]:
            # Never the published password on a server: it would open an admin account.
            password = secrets.token_urlsafe(18)
            heading = (
                "Demo clinic ready. Logins (existing accounts keep their password; "
                f"password for the accounts created now: {password}):"
            )
        else:
            raise CommandError(
                "DEBUG is off: seed_demo would create an admin account. Pass "
                "--allow-demo-admin to seed anyway (with a random password)."
            )
        logins = seed_demo_clinic(password=password)
        self.stdout.write(self.style.SUCCESS(heading))
        for role, email in logins:
            self.stdout.write(f"  {role:<8} {email}")
        if scale:
            started = time.monotonic()
            result = seed_scale(
                doctors=scale,
                progress=self._progress,
                workers=options["workers"],
                password=password,
            )
            self.stdout.write("")
            self.stdout.write(
                f"Scale data: {result.doctors} doctors, {result.patients} patients, "
                f"{result.blocks} blocks, {result.appointments} appointments added in "
                f"{time.monotonic() - started:.1f} s"
            )

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        self.stdout.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} doctors", ending=""
        )
        self.stdout.flush()
