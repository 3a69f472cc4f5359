"""Run the periodic jobs in this process: `make run`'s stand-in for a Celery beat."""

from __future__ import annotations

import logging
import time

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand

logger = logging.getLogger("medappt.jobs")


class Command(BaseCommand):
    help = (
        "Every TICK seconds (default 30), run each job of CELERY_BEAT_SCHEDULE whose interval "
        "has passed, here, in this process. For development without a broker (`make run`); "
        "production runs `celery beat` (README, Background jobs). --once runs every job once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run every job once and exit.")
        parser.add_argument("--tick", type=float, default=30.0, help="Seconds between checks.")

    def handle(self, *args, **options) -> None:
        last_run: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
                if options["once"] or now - last_run.get(name, -1e12) >= entry["schedule"]:
                    last_run[name] = now
                    self._run(name, entry["task"])
            if options["once"]:
                return
            time.sleep(options["tick"])

    def _run(self, name: str, task_name: str) -> None:
        try:
            current_app.tasks[task_name].apply().get(propagate=True)
        except Exception:  # one failing job must not stop the others
            logger.exception("periodic job %s failed", name)
        else:
            self.stdout.write(f"ran {name}")
