"""CPU and statements of one booking request, measured in-process on PostgreSQL.

Books N distinct free blocks through the real API stack (Django test client, real JWTs, real
commits: no test transaction), one request at a time, and prints per booking: the process
CPU of the request (everything that ran before its answer, on-commit work included), its
wall time and its SQL statements. It runs unchanged against any version of the code, so an
older checkout gives the "before" figures:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medappt_bench_cpu \\
      .venv/bin/python bench/booking_cpu.py [--bookings 300] [--repo PATH] [--keyed]

--keyed sends a fresh Idempotency-Key with each booking (a claim, the "applied" UPDATE and the
stored answer on top of the booking): compare its CPU with an unkeyed run.

With a broker (CELERY_BROKER_URL, default redis://127.0.0.1:6379/6) the request only queues
its mail jobs, as in production; the queue is emptied afterwards (no worker runs here).
`--smtp` gives the run a real mail server on the loopback (bench/smtp_sink.py, in its own
process): code that mails inside the request then pays for the SMTP sessions.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/medappt_bench_cpu"


def configure(repo: Path) -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medappt.settings")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdef")
    os.environ.setdefault("AUDIT_CHAIN_KEY", "bench-audit-chain-key")
    os.environ.setdefault("EMAIL_URL", "memorymail://")
    os.environ.setdefault("PUBLIC_BASE_URL", "https://bench.example")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/6")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(repo))
    os.chdir(repo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--smtp", action="store_true", help="mail to a loopback SMTP server")
    parser.add_argument(
        "--keyed", action="store_true", help="send a fresh Idempotency-Key with each booking"
    )
    parser.add_argument(
        "--show-sql", action="store_true", help="print the statements of the last booking"
    )
    parser.add_argument(
        "--profile", type=Path, help="write a cProfile of the measured bookings to this file"
    )
    args = parser.parse_args()
    sink = None
    if args.smtp:
        port = 8725
        sink = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("smtp_sink.py")), str(port)]
        )
        time.sleep(0.5)
        os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
    try:
        run(args)
    finally:
        if sink is not None:
            sink.terminate()
            sink.wait()


def run(args: argparse.Namespace) -> None:
    configure(args.repo.resolve())

    import django
    import psycopg

    url = os.environ["DATABASE_URL"]
    admin_url, name = url.rsplit("/", 1)
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import DoctorProfile, User
    from scheduling.models import TimeBlock

    call_command("migrate", verbosity=0)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    doctor = User.objects.create_user(f"doc-{uuid.uuid4().hex[:6]}@bench", "x", role="doctor")
    DoctorProfile.objects.create(user=doctor, specialty="General", timezone="UTC")
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0, second=0, minute=0)
    start += datetime.timedelta(days=3)
    blocks = TimeBlock.objects.bulk_create(
        [
            TimeBlock(
                doctor=doctor,
                start=start + datetime.timedelta(minutes=30 * i),
                end=start + datetime.timedelta(minutes=30 * i + 30),
            )
            for i in range(args.bookings)
        ]
    )
    patients = [
        User.objects.create_user(f"p{i}-{uuid.uuid4().hex[:6]}@bench", "x")
        for i in range((args.bookings + 4) // 5)
    ]
    clients = []
    for patient in patients:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(patient).access_token}")
        clients.append(client)

    import cProfile

    profiler = cProfile.Profile(time.process_time) if args.profile else None
    cpu, wall, statements = [], [], []
    for n, block in enumerate(blocks):
        client = clients[n // 5]  # at most five active bookings per patient
        extra = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex} if args.keyed else {}
        with CaptureQueriesContext(connection) as queries:
            if profiler is not None and n >= 20:
                profiler.enable()
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.post(
                "/api/v1/appointments/",
                {"time_block": block.pk},
                content_type="application/json",
                **extra,
            )
            c1, t1 = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.disable()
        if response.status_code != 201:
            raise SystemExit(f"booking {n} answered {response.status_code}: {response.content}")
        if n >= 20:  # warm-up: imports, caches, prepared plans
            cpu.append((c1 - c0) * 1000)
            wall.append((t1 - t0) * 1000)
            statements.append(len(queries))
    if getattr(settings, "CELERY_BROKER_URL", "") and not getattr(
        settings, "CELERY_TASK_ALWAYS_EAGER", True
    ):
        from medappt.celery import app

        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)

    if args.show_sql:
        for query in queries.captured_queries:
            print(query["sql"])
    if profiler is not None:
        profiler.dump_stats(args.profile)

    def p(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1]

    keyed = " (keyed: a fresh Idempotency-Key each)" if args.keyed else ""
    print(f"repo: {args.repo}  mail: {os.environ['EMAIL_URL']}  measured: {len(cpu)}{keyed}")
    print(f"CPU per booking request: median {statistics.median(cpu):.2f} ms, p90 {p(cpu, 90):.2f}")
    print(f"wall per booking request: median {statistics.median(wall):.2f} ms")
    print(f"SQL statements per booking: median {statistics.median(statements):.0f}")


if __name__ == "__main__":
    main()
