"""Bookings per second with audit recording on and off (docs/architecture.md: writers never wait).

Every booking writes its `appointment.booked` audit event with a plain INSERT in the booking's
own transaction. This measures what that costs: N threads, each on its own PostgreSQL
connection, call scheduling.services.appointment_book on distinct free blocks, once with
audit recording on and once with audit.services.audit_record patched to a no-op (here only),
alternating the two modes over a few rounds so drifting noise cancels out.

    .venv/bin/python bench/audit_booking.py [--threads 8] [--rounds 10] [--per-thread 30]

DATABASE_URL must point at PostgreSQL (default postgres://postgres@127.0.0.1:5432/medappt_bench);
the database is created if missing and migrated. Each run adds its own doctors, blocks and
patients and never deletes anything. Figures go to stdout and bench/results/audit_booking.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "audit_booking.json"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/medappt_bench"
TARGET_RATIO = 0.9
BOOKINGS_PER_PATIENT = 5  # under MAX_ACTIVE_APPOINTMENTS_PER_PATIENT (10)
SLOT = datetime.timedelta(minutes=15)


def configure_environment() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "medappt.settings"
    # DEBUG on only so the settings need no production secrets.
    os.environ["DEBUG"] = "true"
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    # Booking mails render in both modes; none is sent or printed.
    os.environ["EMAIL_URL"] = "dummymail://"
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def ensure_database(url: str) -> None:
    """Create the benchmark database when it does not exist yet (connecting to `postgres`)."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit(f"DATABASE_URL must point at PostgreSQL, not {config['ENGINE']}")
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"created database {config['NAME']}")


@dataclass
class Plan:
    """The (patient, block id) pairs each thread books in one measured run."""

    per_thread: list[list[tuple[object, int]]]

    @property
    def bookings(self) -> int:
        return sum(len(jobs) for jobs in self.per_thread)


@dataclass
class Fixture:
    tag: str
    doctors: list = field(default_factory=list)
    blocks: dict[int, list[int]] = field(default_factory=dict)  # doctor id -> block ids


def create_fixture(*, threads: int, runs: int, per_thread: int) -> tuple[Fixture, list[Plan]]:
    """One doctor per thread with enough free blocks for every run; fresh patients per run.

    Synthetic load data: bulk-inserted, so it leaves no audit events or field history.
    """
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import DoctorProfile, User
    from scheduling.models import TimeBlock

    tag = uuid.uuid4().hex[:8]
    unusable = make_password(None)
    fixture = Fixture(tag=tag)
    with transaction.atomic():
        doctors = User.objects.bulk_create(
            [
                User(
                    email=f"bench-{tag}-doctor{n}@example.test",
                    first_name="Bench",
                    last_name=f"Doctor {n}",
                    role=User.Role.DOCTOR,
                    password=unusable,
                )
                for n in range(threads)
            ]
        )
        DoctorProfile.objects.bulk_create(
            [DoctorProfile(user=doctor, specialty="Benchmarking") for doctor in doctors]
        )
        first = (timezone.now() + datetime.timedelta(days=2)).replace(
            minute=0, second=0, microsecond=0
        )
        blocks_per_doctor = runs * per_thread
        created = TimeBlock.objects.bulk_create(
            [
                TimeBlock(doctor=doctor, start=first + n * SLOT, end=first + (n + 1) * SLOT)
                for doctor in doctors
                for n in range(blocks_per_doctor)
            ]
        )
        for block in created:
            fixture.blocks.setdefault(block.doctor_id, []).append(block.pk)
        patients_per_run = threads * -(-per_thread // BOOKINGS_PER_PATIENT)
        patients = User.objects.bulk_create(
            [
                User(
                    email=f"bench-{tag}-patient{n}@example.test",
                    first_name="Bench",
                    last_name=f"Patient {n}",
                    role=User.Role.PATIENT,
                    password=unusable,
                )
                for n in range(runs * patients_per_run)
            ]
        )
    fixture.doctors = doctors

    plans: list[Plan] = []
    # Loaded up front, as the API's authentication would have loaded the caller.
    patient_rows = iter(User.objects.filter(pk__in=[p.pk for p in patients]).order_by("pk"))
    for run in range(runs):
        per_thread_jobs: list[list[tuple[int, int]]] = []
        for doctor in doctors:
            blocks = fixture.blocks[doctor.pk][run * per_thread : (run + 1) * per_thread]
            jobs: list[tuple[object, int]] = []
            patient = None
            for n, block_id in enumerate(blocks):
                if n % BOOKINGS_PER_PATIENT == 0:
                    patient = next(patient_rows)
                jobs.append((patient, block_id))
            per_thread_jobs.append(jobs)
        plans.append(Plan(per_thread=per_thread_jobs))
    return fixture, plans


class Workers:
    """Long-lived threads, each holding its own connection, released together per run."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.start = threading.Barrier(count + 1)
        self.done = threading.Barrier(count + 1)
        self.plan: Plan | None = None
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._work, args=(n,), daemon=True) for n in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self, index: int) -> None:
        from django.db import connection

        from scheduling import services
        from scheduling.models import TimeBlock

        connection.ensure_connection()  # connecting is not part of any measured run
        try:
            while True:
                self.start.wait()
                plan = self.plan
                if plan is None:
                    return
                try:
                    for patient, block_id in plan.per_thread[index]:
                        services.appointment_book(
                            actor=patient, patient=patient, time_block=TimeBlock(pk=block_id)
                        )
                except BaseException as error:
                    self.errors.append(error)
                self.done.wait()
        finally:
            connection.close()

    def run(self, plan: Plan) -> float:
        self.plan = plan
        self.start.wait()
        started = time.perf_counter()
        self.done.wait()
        elapsed = time.perf_counter() - started
        if self.errors:
            raise RuntimeError(f"a booking failed: {self.errors[0]!r}") from self.errors[0]
        return elapsed

    def stop(self) -> None:
        self.plan = None
        self.start.wait()
        for thread in self.threads:
            thread.join()


class AuditSwitch:
    """Turns audit event recording off by patching audit_record where booking looks it up."""

    def __init__(self) -> None:
        import audit.services
        import scheduling.services.appointments

        self.modules = (audit.services, scheduling.services.appointments)
        self.real = audit.services.audit_record

    def set(self, *, on: bool) -> None:
        def no_op(**kwargs) -> None:
            return None

        for module in self.modules:
            module.audit_record = self.real if on else no_op


def machine() -> dict:
    def run(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    return {
        "nproc": run("nproc").strip(),
        "free_h": run("free", "-h").strip(),
        "python": platform.python_version(),
        "postgresql": server,
        "platform": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8, help="booking threads (8)")
    parser.add_argument("--rounds", type=int, default=10, help="on/off pairs, alternating (10)")
    parser.add_argument(
        "--per-thread", type=int, default=30, help="bookings per thread per run (30)"
    )
    args = parser.parse_args()

    configure_environment()
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    # The query log DEBUG turns on would weigh on both modes alike: switch it off.
    settings.DEBUG = False

    runs = 2 * args.rounds + 2  # + one warm-up run per mode
    fixture, plans = create_fixture(threads=args.threads, runs=runs, per_thread=args.per_thread)
    connection.close()
    switch = AuditSwitch()
    workers = Workers(args.threads)
    print(
        f"{args.threads} threads x {args.per_thread} bookings per run; "
        f"{args.rounds} rounds of audit on/off (alternating order), run tag {fixture.tag}"
    )

    plan_iter = iter(plans)
    audited = 0  # bookings made with recording on: each must have left exactly one event
    for on in (True, False):  # warm-up, not counted
        switch.set(on=on)
        warm_up = next(plan_iter)
        workers.run(warm_up)
        audited += warm_up.bookings if on else 0

    measured: list[dict] = []
    totals = {"on": [0, 0.0], "off": [0, 0.0]}
    try:
        for round_no in range(args.rounds):
            order = (True, False) if round_no % 2 == 0 else (False, True)
            for on in order:
                switch.set(on=on)
                plan = next(plan_iter)
                elapsed = workers.run(plan)
                mode = "on" if on else "off"
                totals[mode][0] += plan.bookings
                audited += plan.bookings if on else 0
                totals[mode][1] += elapsed
                rate = plan.bookings / elapsed
                measured.append(
                    {
                        "round": round_no + 1,
                        "audit": mode,
                        "bookings": plan.bookings,
                        "seconds": round(elapsed, 4),
                        "per_second": round(rate, 1),
                    }
                )
                print(f"  round {round_no + 1} audit {mode:>3}: {rate:8.1f} bookings/s")
    finally:
        switch.set(on=True)
        workers.stop()

    rate_on = totals["on"][0] / totals["on"][1]
    rate_off = totals["off"][0] / totals["off"][1]
    ratio = rate_on / rate_off
    # Each round's on and off runs sit next to each other in time: their ratio, and its
    # median over the rounds, shrug off load that drifts over the whole run.
    pair_ratios = [
        on["per_second"] / off["per_second"]
        for on, off in (
            sorted(measured[i : i + 2], key=lambda run: run["audit"] != "on")
            for i in range(0, len(measured), 2)
        )
    ]
    median_pair_ratio = statistics.median(pair_ratios)
    print(f"audit on : {rate_on:8.1f} bookings/s")
    print(f"audit off: {rate_off:8.1f} bookings/s")
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"ratio on/off: {ratio:.3f} ({verdict} the {TARGET_RATIO} target)")
    print(f"median of the per-round on/off ratios: {median_pair_ratio:.3f}")

    from audit.models import AuditEvent

    booked_events = AuditEvent.objects.filter(
        action="appointment.booked", data__doctor__in=[d.pk for d in fixture.doctors]
    ).count()
    print(f"appointment.booked events written: {booked_events} (expected {audited})")
    if booked_events != audited:
        raise SystemExit("the audit switch did not work: the two modes are not what they claim")
    result = {
        "benchmark": "audit_booking",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "threads": args.threads,
        "per_thread": args.per_thread,
        "rounds": args.rounds,
        "runs": measured,
        "audit_on_per_second": round(rate_on, 1),
        "audit_off_per_second": round(rate_off, 1),
        "ratio": round(ratio, 3),
        "per_round_ratios": [round(r, 3) for r in pair_ratios],
        "median_round_ratio": round(median_pair_ratio, 3),
        "target_ratio": TARGET_RATIO,
        "audit_events_written": booked_events,
        "audit_events_expected": audited,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
