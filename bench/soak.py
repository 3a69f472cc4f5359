"""A soak of mixed traffic against gunicorn with a real Celery worker (issue #25, item 4).

    make soak                                   # SOAK_SECONDS=600 (ten minutes)
    SOAK_SECONDS=120 make soak                  # a shorter run
    .venv/bin/python bench/soak.py --seconds 600 [--clients 4] [--doctors 10]

It re-creates its own PostgreSQL database (SOAK_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/medappt_soak), seeds `seed_demo --scale N`, and starts:
an SMTP sink (bench/smtp_sink.py, counting what it receives), a webhook receiver on the
loopback (in this process, counting each event id it is sent), a Celery worker with beat
(broker SOAK_BROKER_URL, default redis://127.0.0.1:6379/10) and gunicorn (cache and throttles
on SOAK_REDIS_URL, default redis://127.0.0.1:6379/9, throttles raised out of the way). One
webhook subscription takes every event; some patients wait on the waitlist of their doctor.

Client threads then send, for the time given, a mix of: the public directory and
availability, a patient's own list, the admin's filtered list, holds and bookings from them,
direct bookings, cancellations (which free blocks, so waitlist rounds start and offers go
out), and answers to waitlist offers. Every status code is counted.

Afterwards it waits for the queue to drain and checks: no 5xx; the worker's memory (RSS of
the worker and its pool, after a warm-up, against the end) grew at most 20 %; every mail row
was sent and the SMTP sink received exactly as many mails as were sent; every outbox event
was dispatched and every delivery made, each event received exactly once by the receiver;
`audit_seal` then `audit_verify` pass. It prints a report, writes bench/results/soak.json
and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from http_bench import (  # noqa: E402 (the bench directory is put on the path first)
    GUNICORN,
    PYTHON,
    RESULTS,
    _children,
    _conninfo,
    manage,
    recreate_database,
    start_server,
    stop_server,
    vacuum_analyze,
)

CELERY = ROOT / ".venv" / "bin" / "celery"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/medappt_soak"
RSS_GROWTH_LIMIT = 1.20
WARMUP_SECONDS = 30


def environment(args) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "THROTTLE_", "CELERY_")) and key != "DEBUG"
    }
    unlimited = "1000000/min"
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "medappt.settings",
            "DEBUG": "false",
            "DATABASE_URL": args.database_url,
            "SECRET_KEY": "soak-secret-key-not-for-production-0123456789abcdef",
            "AUDIT_CHAIN_KEY": "soak-audit-chain-key",
            "EMAIL_URL": f"smtp://127.0.0.1:{args.smtp_port}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{args.port}",
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "WEBHOOK_ALLOW_INSECURE_TARGETS": "true",
            "THROTTLE_LOGIN": unlimited,
            "THROTTLE_BOOKING": unlimited,
            "THROTTLE_HOLD": unlimited,
            "THROTTLE_CALENDAR_FEED": unlimited,
            "JWT_ACCESS_MINUTES": "240",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


# ---------------------------------------------------------------------------
# The loopback webhook receiver
# ---------------------------------------------------------------------------
class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), ReceiverHandler)
        self.lock = threading.Lock()
        self.event_ids: collections.Counter[str] = collections.Counter()


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.event_ids[self.headers.get("Medappt-Event-Id", "")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------
def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    schedule = RESULTS / "soak-celerybeat-schedule"
    schedule.unlink(missing_ok=True)
    return subprocess.Popen(
        [
            str(CELERY),
            "-A",
            "medappt",
            "worker",
            "--beat",
            "--schedule",
            str(schedule),
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen, timeout: float = 60) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in kB."""
    total = 0
    for member in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        children = _children(queue.pop())
        found += children
        queue += children
    return found


# ---------------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------------
class Client:
    def __init__(self, base: str, statuses: collections.Counter, lock: threading.Lock) -> None:
        self.base = base
        self.statuses = statuses
        self.lock = lock

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except OSError as error:
            status, raw = f"error:{type(error).__name__}", b""
        with self.lock:
            self.statuses[(method, _shape(path), str(status))] += 1
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def _shape(path: str) -> str:
    """The path with ids and queries left out, to count statuses per endpoint."""
    parts = ["{id}" if part.isdigit() else part for part in path.split("?")[0].split("/")]
    return "/".join(parts)


def traffic(client: Client, people: dict, deadline: float, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (traffic, not secrets)
    api = "/api/v1"
    window = urllib.parse.urlencode(
        {
            "status": "confirmed",
            "from": datetime.datetime.now(datetime.UTC).isoformat(),
            "to": (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=14)).isoformat(),
        }
    )
    while time.monotonic() < deadline:
        patient = rng.choice(people["patients"])
        token, doctor = patient["token"], patient["doctor"]
        roll = rng.random()
        if roll < 0.15:
            client.call("GET", f"{api}/doctors/")
        elif roll < 0.30:
            client.call("GET", f"{api}/doctors/{doctor}/availability/")
        elif roll < 0.42:
            client.call("GET", f"{api}/appointments/", token)
        elif roll < 0.47:
            client.call("GET", f"{api}/appointments/?{window}", people["admin"])
        elif roll < 0.77:
            status, body = client.call("GET", f"{api}/doctors/{doctor}/availability/")
            free = (body or {}).get("results") or [] if status == 200 else []
            if not free:
                continue
            block = rng.choice(free)["id"]
            if roll < 0.62:  # hold first, then book from the hold
                status, hold = client.call("POST", f"{api}/holds/", token, {"time_block": block})
                if status == 201:
                    client.call(
                        "POST",
                        f"{api}/appointments/",
                        token,
                        {"time_block": block, "hold": hold["id"]},
                    )
            else:
                client.call("POST", f"{api}/appointments/", token, {"time_block": block})
        elif roll < 0.92:
            status, body = client.call("GET", f"{api}/appointments/?status=pending", token)
            mine = (body or {}).get("results") or [] if status == 200 else []
            later = [
                a
                for a in mine
                if datetime.datetime.fromisoformat(a["start"].replace("Z", "+00:00"))
                > datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=26)
            ]
            if later:
                target = rng.choice(later)["id"]
                client.call("POST", f"{api}/appointments/{target}/cancel/", token, {})
        else:
            status, body = client.call("GET", f"{api}/waitlist/offers/", token)
            offers = (body or {}).get("results") or [] if status == 200 else []
            pending = [offer for offer in offers if offer.get("status") == "pending"]
            if pending:
                answer = "accept" if rng.random() < 0.7 else "decline"
                client.call(
                    "POST", f"{api}/waitlist/offers/{pending[0]['id']}/{answer}/", token, {}
                )


# ---------------------------------------------------------------------------
# Set-up in this process: tokens, the subscription, waiting patients
# ---------------------------------------------------------------------------
def prepare_people(env: dict[str, str], *, doctors: int, hook_url: str) -> dict:
    import django

    os.environ.update(env)
    django.setup()
    from django.db import connections
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from core.exceptions import Conflict
    from messaging.services import subscription_create
    from scheduling.seeding import SCALE_EMAIL
    from scheduling.services import waitlist_entry_create

    admin = User.objects.get(email="admin@demo.medappt")
    subscription_create(actor=admin, url=hook_url, event_types=["*"], description="soak")
    patients = []
    today = timezone.localdate()
    for index in range(doctors):
        doctor = User.objects.get(email=SCALE_EMAIL.format(index=index))
        own = User.objects.filter(email__startswith=f"patient{index:05d}-").order_by("email")
        for n, patient in enumerate(own[:12]):
            patients.append({"token": str(AccessToken.for_user(patient)), "doctor": doctor.pk})
            if n < 4:  # some wait for a free block of their doctor
                with contextlib.suppress(Conflict):
                    waitlist_entry_create(
                        actor=patient,
                        patient=patient,
                        doctor=doctor,
                        date_from=today,
                        date_to=today + datetime.timedelta(days=60),
                    )
    people = {"admin": str(AccessToken.for_user(admin)), "patients": patients}
    connections.close_all()
    return people


def counts(database_url: str, since: datetime.datetime) -> dict:
    import psycopg

    queries = {
        "mails": "SELECT status, count(*) FROM core_emailmessage GROUP BY status",
        "events_undispatched": "SELECT count(*) FROM core_outboxevent WHERE dispatched_at IS NULL",
        "events": "SELECT count(*) FROM core_outboxevent",
        "deliveries": "SELECT status, count(*) FROM messaging_webhookdelivery GROUP BY status",
        "appointments_booked": "SELECT status, count(*) FROM scheduling_appointment "
        "WHERE created_at >= %(since)s GROUP BY status",
        "offers": "SELECT status, count(*) FROM scheduling_waitlistoffer GROUP BY status",
        "audit_events": "SELECT count(*) FROM audit_auditevent",
    }
    found = {}
    with psycopg.connect(_conninfo(database_url)) as conn:
        for name, sql in queries.items():
            rows = conn.execute(sql, {"since": since}).fetchall()
            found[name] = dict(rows) if rows and len(rows[0]) == 2 else rows[0][0]
    return found


def drained(found: dict) -> bool:
    mails = found["mails"]
    deliveries = found["deliveries"]
    return (
        not mails.get("pending", 0)
        and not mails.get("sending", 0)
        and not found["events_undispatched"]
        and not deliveries.get("pending", 0)
        and not deliveries.get("in_flight", 0)
    )


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 600)))
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--doctors", type=int, default=10, help="seed_demo --scale N")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SOAK_PORT", "8796")))
    parser.add_argument("--smtp-port", type=int, default=8797)
    parser.add_argument("--hook-port", type=int, default=8798)
    parser.add_argument(
        "--database-url", default=os.environ.get("SOAK_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    parser.add_argument(
        "--broker-url", default=os.environ.get("SOAK_BROKER_URL", "redis://127.0.0.1:6379/10")
    )
    args = parser.parse_args()
    if not GUNICORN.exists() or not CELERY.exists():
        raise SystemExit("gunicorn or celery is missing from .venv: run `make install` first.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = environment(args)
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    load_before = os.getloadavg()

    recreate_database(args.database_url)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage({**env, "DEBUG": "true"}, "seed_demo", "--scale", str(args.doctors))
    vacuum_analyze(args.database_url)
    # A queue left by an earlier run would send mails this one never wrote.
    subprocess.run(
        [str(CELERY), "-A", "medappt", "purge", "-f"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
    )

    sink_log = RESULTS / "soak-smtp.log"
    sink_log.unlink(missing_ok=True)
    sink = subprocess.Popen(
        [str(PYTHON), str(ROOT / "bench" / "smtp_sink.py"), str(args.smtp_port), str(sink_log)]
    )
    receiver = Receiver(args.hook_port)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    people = prepare_people(
        env, doctors=args.doctors, hook_url=f"http://127.0.0.1:{args.hook_port}/hook"
    )
    worker = start_worker(env, RESULTS / "soak-worker.log")
    server = start_server(
        env, port=args.port, workers=args.workers, log=RESULTS / "soak-gunicorn.log"
    )
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()
    rss_samples: list[tuple[float, int]] = []
    try:
        client = Client(f"http://127.0.0.1:{args.port}", statuses, lock)
        begin = time.monotonic()
        traffic_started = datetime.datetime.now(datetime.UTC)
        deadline = begin + args.seconds
        threads = [
            threading.Thread(target=traffic, args=(client, people, deadline, n), daemon=True)
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            time.sleep(5)
            rss_samples.append((round(time.monotonic() - begin), rss_kb(worker.pid)))
            if worker.poll() is not None:
                raise SystemExit("the Celery worker exited; see bench/results/soak-worker.log")
        print(f"traffic done after {time.monotonic() - begin:.0f} s; draining the queue")
        drain_deadline = time.monotonic() + 300
        found = counts(args.database_url, traffic_started)
        while not drained(found) and time.monotonic() < drain_deadline:
            time.sleep(5)
            found = counts(args.database_url, traffic_started)
        time.sleep(2)  # the last delivery's answer
        found = counts(args.database_url, traffic_started)
        rss_samples.append((round(time.monotonic() - begin), rss_kb(worker.pid)))
    finally:
        stop_server(server)
        stop_process(worker)
        sink.terminate()
        sink.wait()
        receiver.shutdown()
    seal = subprocess.run(
        [str(PYTHON), "manage.py", "audit_seal"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    verify = subprocess.run(
        [str(PYTHON), "manage.py", "audit_verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    smtp_received = len(sink_log.read_text().splitlines()) if sink_log.exists() else 0
    after_warmup = [rss for at, rss in rss_samples if at >= WARMUP_SECONDS] or [
        rss for _, rss in rss_samples
    ]
    rss_start, rss_end = after_warmup[0], rss_samples[-1][1]
    rss_max = max(rss for _, rss in rss_samples)
    five_xx = sum(n for (_, _, code), n in statuses.items() if code.startswith("5"))
    errors = sum(n for (_, _, code), n in statuses.items() if code.startswith("error"))
    sent = found["mails"].get("sent", 0)
    deliveries = found["deliveries"]
    delivered = deliveries.get("succeeded", 0)
    received_ids = receiver.event_ids
    duplicates = sum(n - 1 for n in received_ids.values() if n > 1)
    checks = [
        (
            "zero 5xx (and no connection errors)",
            f"{five_xx} 5xx, {errors} errors",
            not five_xx and not errors,
        ),
        (
            f"worker RSS growth <= {RSS_GROWTH_LIMIT - 1:.0%} after a {WARMUP_SECONDS} s warm-up",
            f"{rss_start} -> {rss_end} kB ({rss_end / rss_start - 1:+.1%}; max {rss_max})",
            rss_end <= RSS_GROWTH_LIMIT * rss_start,
        ),
        (
            "every mail sent once: rows sent == SMTP messages, none pending or failed",
            f"{sent} sent rows, {smtp_received} received; {found['mails']}",
            sent == smtp_received and set(found["mails"]) <= {"sent"},
        ),
        (
            "every outbox event dispatched",
            f"{found['events']} events, {found['events_undispatched']} undispatched",
            found["events_undispatched"] == 0,
        ),
        (
            "every event delivered, once each (one subscription to every type)",
            f"{delivered} delivered of {found['events']}; {deliveries}; receiver: "
            f"{len(received_ids)} distinct, {duplicates} duplicates",
            delivered == found["events"] == len(received_ids)
            and set(deliveries) <= {"succeeded"}
            and duplicates == 0,
        ),
        (
            "audit_seal, then audit_verify passes",
            (verify.stdout or verify.stderr).strip().splitlines()[-1:],
            seal.returncode == 0 and verify.returncode == 0,
        ),
    ]
    by_endpoint: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for (method, path, code), n in sorted(statuses.items()):
        by_endpoint[f"{method} {path}"][code] = n
    report = {
        "started_at": started_at,
        "seconds": args.seconds,
        "clients": args.clients,
        "doctors": args.doctors,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "requests": sum(statuses.values()),
        "statuses": by_endpoint,
        "counts": found,
        "smtp_received": smtp_received,
        "webhook_events_received": len(received_ids),
        "worker_rss_kb": rss_samples,
        "checks": [{"check": c, "value": str(v), "pass": ok} for c, v, ok in checks],
    }
    (RESULTS / "soak.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nsoak: {args.seconds:g} s, {args.clients} clients, {report['requests']} requests")
    print(
        f"load average before {report['load_average_before']}, after {report['load_average_after']}"
    )
    for endpoint, codes in by_endpoint.items():
        print(f"  {endpoint:<50} {codes}")
    booked, offers = found["appointments_booked"], found["offers"]
    print(f"  appointments made during the soak, by status now: {booked}; offers: {offers}")
    for check, value, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {check}: {value}")
    print("wrote bench/results/soak.json")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
