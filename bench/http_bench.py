"""HTTP throughput and latency of the busiest endpoints, against gunicorn on PostgreSQL.

    make bench                                  # N = 20 synthetic doctors
    make bench BENCH_DOCTORS="20 200"           # both scales, then the flatness check
    .venv/bin/python bench/http_bench.py --doctors 20 200 [--duration 10] [--connections 16]

For each N it drops and re-creates the database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/medappt_bench_http), migrates, fills it with
`seed_demo --scale N`, VACUUM ANALYZEs it, starts gunicorn (2 x cores + 1 sync workers,
DEBUG off, Redis cache, throttles raised out of the way) and drives it with wrk from a
separate process over loopback. Endpoints: a trivial DRF JSON endpoint (the ceiling), the public
doctors list, one doctor's availability over 14 days, a patient's own appointments, an
admin's filtered appointment list, the FHIR facade's Slot search and Appointment/$find for
that doctor, and concurrent bookings of distinct free blocks.

It prints a table and PASS/FAIL per target (GitHub issue "Performance and
scale"), and writes bench/results/http.json (runs of other N already in it are kept, so the
flatness check also works across invocations). Exit status 1 when a target fails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
RESULTS = ROOT / "bench" / "results"
RESULTS_FILE = RESULTS / "http.json"
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/medappt_bench_http"

# Targets, as ratios within one run (so the machine cancels out). Issue #25 (round 2)
# replaced the first issue's 40 % / 25 % of the ceiling for the private reads and bookings.
READ_VS_CEILING = 0.40  # the public (cached) reads
PATIENT_LIST_VS_FLOOR = 0.70  # the patient's own list against the raw-SQL floor's req/s
ADMIN_LIST_VS_FLOOR = 0.50  # the admin's filtered list (its audit INSERT included)
BOOKING_CPU_VS_CEILING = 12.0  # CPU per successful booking <= 12 x the ceiling's per request
KEYED_OVER_UNKEYED_CPU = 1.3
P99_OVER_P50 = 4.0
P50_GROWTH = 1.3

# The ceiling: bench_urls.CeilingView, a DRF view that does no work, served through the same
# middleware, URL resolver, DRF dispatch and renderer as every endpoint measured against it.
CEILING = "ceiling"
# Informational rows around it: /healthz (answered by the second middleware, below the whole
# stack), a JSON 404 under /api/ (middleware and routing, no DRF), then DRF with JWT
# authentication and its one query.
FLOORS = ["healthz", "middleware_floor", "drf_jwt_floor", "patient_list_floor"]
READS = ["doctors", "availability", "patient_list", "admin_list", "fhir_slots", "fhir_find"]
PUBLIC_READS = ["doctors", "availability"]
BOOKING = "booking"
KEYED_BOOKING = "keyed_booking"
HOLD = "hold"
WAITLIST_ROUND = "waitlist_round"

# The round-2 paths (issue #25, item 3): one row each, CPU per request and flatness. `kind`:
# "read" (GET with the token named), "write" (POSTs from a plan, bench/lua/book.lua),
# "in-process" (measured in this process, see measure_waitlist_rounds). A row whose feature is
# not on this branch yet names it in `pending` and is listed, not run: to add it, give it a
# path (and a token) in build_plan's `endpoints` and drop `pending`.
R2_ROWS = [
    {"name": HOLD, "label": "POST holds/ (distinct blocks)", "kind": "write"},
    {"name": KEYED_BOOKING, "label": "POST appointments/ + Idempotency-Key", "kind": "write"},
    {"name": "day_view", "label": "GET day/ (a doctor's today)", "kind": "read"},
    {"name": "stats", "label": "GET stats/appointments/ (admin, 30 d)", "kind": "read"},
    {"name": "calendar_feed", "label": "GET /calendar/<token>.ics (patient)", "kind": "read"},
    {"name": WAITLIST_ROUND, "label": "waitlist round (in-process)", "kind": "in-process"},
    # Scale doctor 0 offers a visit type, tags part of its blocks with it and has a leave in
    # the 14 days (prepare_round2_data).
    {
        "name": "availability_visit_types",
        "label": "GET doctors/{id}/availability/?visit_type",
        "kind": "read",
    },
    # The FHIR Slot search and $find are rows of READS (fhir_slots, fhir_find).
    {"name": "portal_doctor", "label": "GET /portal/doctors/<id>/?week", "kind": "read"},
    # The page a patient books from: their live hold, with a portal session cookie.
    {"name": "portal_booking", "label": "GET /portal/holds/<id>/ (session)", "kind": "read"},
]
R2_READS = [row["name"] for row in R2_ROWS if row["kind"] == "read" and "pending" not in row]
LABELS = {
    CEILING: "GET bench-ceiling/ (ceiling: no-op DRF)",
    "healthz": "GET /healthz (reference: middleware only)",
    "middleware_floor": "GET /api/v1/<unknown>/ 404 (reference)",
    "drf_jwt_floor": "GET auth/me/ (reference: DRF + JWT)",
    "patient_list_floor": "GET bench-floor/appointments/ (ref: raw SQL)",
    "doctors": "GET doctors/ (public)",
    "availability": "GET doctors/{id}/availability/ (14 d)",
    "patient_list": "GET appointments/ (patient, own)",
    "admin_list": "GET appointments/?status&from&to (admin)",
    "fhir_slots": "GET /fhir/R4/Slot?schedule (public, 14 d)",
    "fhir_find": "GET /fhir/R4/Appointment/$find (14 d)",
    BOOKING: "POST appointments/ (distinct blocks)",
    **{row["name"]: row["label"] for row in R2_ROWS},
}


# ---------------------------------------------------------------------------
# Environment: the same settings for gunicorn, manage.py and this process
# ---------------------------------------------------------------------------
def server_environment(database_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "THROTTLE_")) and key not in ("DEBUG",)
    }
    unlimited = "1000000/min"
    env.update(
        {
            # medappt.settings plus the ceiling's URL (bench/bench_settings.py).
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "DEBUG": "false",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "AUDIT_CHAIN_KEY": "bench-audit-chain-key",
            "EMAIL_URL": "dummymail://",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Round 2 requires it without DEBUG (links in mails); nothing is mailed here.
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
            "THROTTLE_LOGIN": unlimited,
            "THROTTLE_REGISTER": unlimited,
            "THROTTLE_PASSWORD_RESET": unlimited,
            "THROTTLE_PASSWORD_CHANGE": unlimited,
            "THROTTLE_BOOKING": unlimited,
            "THROTTLE_FHIR_FIND": unlimited,
            "THROTTLE_HOLD": unlimited,
            "THROTTLE_CALENDAR_FEED": unlimited,
            "HOLD_MAX_PER_PATIENT": "20",
            # The hold behind the portal's booking page is made before the runs: it must
            # stay live through them (a live hold renders the confirm form).
            "HOLD_TTL_SECONDS": "7200",
            # Tokens are minted before the runs; they must outlive all of them.
            "JWT_ACCESS_MINUTES": "240",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
        }
    )
    return env


def check_tools() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed. On Debian/Ubuntu: apt-get update && apt-get install -y wrk"
        )
    if not GUNICORN.exists():
        raise SystemExit(f"{GUNICORN} is missing: run `make install` first.")


def machine_info(database_url: str) -> dict:
    import psycopg

    with psycopg.connect(_conninfo(database_url, dbname="postgres")) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    total = next((line.split()[1] for line in memory.splitlines() if line.startswith("Mem:")), "")
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory_total": total,
        "cpu": _cpu_model(),
        "postgresql": pg_version,
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).split("\n")[0].strip(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------
def _conninfo(database_url: str, *, dbname: str | None = None) -> str:
    parts = urllib.parse.urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"BENCH_DATABASE_URL must be PostgreSQL, not {parts.scheme}://")
    params = {
        "host": parts.hostname,
        "port": parts.port,
        "user": urllib.parse.unquote(parts.username) if parts.username else None,
        "password": urllib.parse.unquote(parts.password) if parts.password else None,
        "dbname": dbname or parts.path.lstrip("/"),
    }
    return " ".join(f"{key}={value}" for key, value in params.items() if value)


def recreate_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urllib.parse.urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(_conninfo(database_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"database {name}: dropped and created")


def vacuum_analyze(database_url: str) -> None:
    import psycopg

    with psycopg.connect(_conninfo(database_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def scale_doctors_present(database_url: str) -> int | None:
    import psycopg

    try:
        with psycopg.connect(_conninfo(database_url)) as conn:
            return conn.execute(
                "SELECT count(*) FROM accounts_user WHERE role = 'doctor' "
                "AND email LIKE 'doctor%%@scale.medappt'"
            ).fetchone()[0]
    except psycopg.Error:
        return None


def manage(env: dict[str, str], *args: str) -> str:
    """Run manage.py, echoing its output (the seed's progress bar) as it comes."""
    process = subprocess.Popen(
        [str(PYTHON), "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = bytearray()
    while chunk := process.stdout.read1(4096):
        output += chunk
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
    if process.wait() != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed")
    return output.decode(errors="replace")


def prepare_database(args, env: dict[str, str], doctors: int) -> float | None:
    """Drop/create, migrate, seed N doctors, VACUUM ANALYZE; returns the seed time (s)."""
    if args.reuse_db and scale_doctors_present(args.database_url) == doctors:
        print(f"reusing the database seeded with {doctors} doctors")
        return None
    recreate_database(args.database_url)
    manage(env, "migrate", "--noinput", "-v", "0")
    started = time.monotonic()
    # A throwaway demo clinic whose logins use the published demo password (login() below):
    # seeded as `make run` seeds, with DEBUG on (without it seed_demo picks a random one).
    output = manage({**env, "DEBUG": "true"}, "seed_demo", "--scale", str(doctors))
    seconds = time.monotonic() - started
    match = re.search(r"added in ([\d.]+) s", output)
    print(f"\nseed_demo --scale {doctors}: {seconds:.1f} s in all")
    vacuum_analyze(args.database_url)
    return float(match[1]) if match else seconds


# ---------------------------------------------------------------------------
# Plan: ids and tokens, minted before any run
# ---------------------------------------------------------------------------
def django_setup(env: dict[str, str]) -> None:
    import django

    if getattr(django_setup, "done", False):
        return
    os.environ.update(env)
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    django.setup()
    django_setup.done = True


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: dict | None = None,
    cookie: str | None = None,
    accept: str | None = None,
):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", accept or "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read() or b"null"
            if not response.headers.get("Content-Type", "").startswith("application/json"):
                return response.status, raw.decode(errors="replace")  # a feed, a page
            return response.status, json.loads(raw)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def login(base: str, email: str) -> str:
    from scheduling.seeding import DEMO_PASSWORD

    status, body = http(
        "POST", f"{base}/api/v1/auth/token/", body={"email": email, "password": DEMO_PASSWORD}
    )
    if status != 200:
        raise SystemExit(f"login of {email} failed: {status} {body}")
    return body["access"]


def build_plan(base: str, *, threads: int, max_bookings: int, plan_files: dict[str, Path]) -> dict:
    """Endpoints and tokens for the reads (logins over HTTP, like a client) and the booking
    plan: per wrk thread its own doctors, their own patients (tokens minted in-process with
    the server's key: hundreds of logins would take longer than the run) and free blocks, at
    most as many per patient as the cap on active appointments leaves room for."""
    from django.conf import settings
    from django.db import connections
    from django.db.models import Count, Q
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from scheduling.models import ACTIVE_STATUSES, TimeBlock
    from scheduling.seeding import SCALE_EMAIL

    connections.close_all()  # the database was re-created since the last scale
    doctor = User.objects.get(email=SCALE_EMAIL.format(index=0))
    patient_email = "patient00000-000@scale.medappt"
    now = datetime.datetime.now(datetime.UTC)
    window = {
        "status": "confirmed",
        "from": now.isoformat().replace("+00:00", "Z"),
        "to": (now + datetime.timedelta(days=14)).isoformat().replace("+00:00", "Z"),
    }
    patient_token = login(base, patient_email)
    endpoints = {
        CEILING: {"path": "/api/v1/bench-ceiling/"},
        "healthz": {"path": "/healthz"},
        "middleware_floor": {"path": "/api/v1/no-such-endpoint/", "expect": 404},
        "drf_jwt_floor": {"path": "/api/v1/auth/me/", "token": patient_token},
        "patient_list_floor": {"path": "/api/v1/bench-floor/appointments/", "token": patient_token},
        "doctors": {"path": "/api/v1/doctors/"},
        "availability": {"path": f"/api/v1/doctors/{doctor.pk}/availability/"},
        "patient_list": {"path": "/api/v1/appointments/", "token": patient_token},
        "admin_list": {
            "path": "/api/v1/appointments/?" + urllib.parse.urlencode(window),
            "token": login(base, "admin@demo.medappt"),
        },
        # The facade's free slots of the same doctor (the same blocks as availability) and
        # $find over the same 14 days, one preferred practitioner.
        "fhir_slots": {"path": f"/fhir/R4/Slot?schedule=Schedule/{doctor.pk}"},
        "fhir_find": {
            "path": "/fhir/R4/Appointment/$find?"
            + urllib.parse.urlencode(
                {"start": window["from"], "end": window["to"], "practitioner": doctor.pk}
            )
        },
        BOOKING: {"path": "/api/v1/appointments/"},
    }

    visit_type_slug = prepare_round2_data(doctor, now=now)
    cap = settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT
    hold_cap = settings.HOLD_MAX_PER_PATIENT
    earliest = now + datetime.timedelta(days=2)
    scale_doctors = list(
        User.objects.filter(role=User.Role.DOCTOR, email__endswith="@scale.medappt").order_by(
            "email"
        )
    )
    # Three plans over disjoint blocks: bookings (even patients), keyed bookings (odd
    # patients; each has its own room under the cap), holds (every patient, blocks from the
    # far end of the doctor's calendar; holds take no room under the cap).
    per_doctor: dict[str, list[list[tuple[str, int]]]] = {BOOKING: [], KEYED_BOOKING: [], HOLD: []}
    for index, scale_doctor in enumerate(scale_doctors):
        patients = list(
            User.objects.filter(email__startswith=f"patient{index:05d}-")
            .exclude(email=patient_email)  # keep the measured patient list as seeded
            .annotate(
                active=Count("appointments", filter=Q(appointments__status__in=ACTIVE_STATUSES))
            )
            .order_by("email")
        )
        blocks = list(
            TimeBlock.objects.filter(
                doctor=scale_doctor, withdrawn_at__isnull=True, start__gte=earliest
            )
            .exclude(appointments__status__in=ACTIVE_STATUSES)
            .order_by("start")
            .values_list("pk", flat=True)
        )
        tokens = {user.pk: str(AccessToken.for_user(user)) for user in patients}
        held = blocks[::-1][: hold_cap * len(patients)]
        blocks = blocks[: len(blocks) - len(held)]
        for name, own in ((BOOKING, patients[0::2]), (KEYED_BOOKING, patients[1::2])):
            left = {user.pk: cap - user.active for user in own if user.active < cap}
            jobs = []
            while blocks and left:
                for user_pk in list(left):
                    if not blocks:
                        break
                    jobs.append((tokens[user_pk], blocks.pop(0)))
                    left[user_pk] -= 1
                    if not left[user_pk]:
                        del left[user_pk]
            per_doctor[name].append(jobs)
        per_doctor[HOLD].append(
            [(tokens[patients[n % len(patients)].pk], block) for n, block in enumerate(held)]
        )

    # Doctor i belongs to wrk thread i % threads; a thread walks its doctors round-robin, so
    # the requests it has in flight are for different doctors and patients.
    planned = {}
    for name, jobs_of in per_doctor.items():
        lines = []
        per_thread = max(1, max_bookings // threads)
        for thread in range(threads):
            own = [jobs for index, jobs in enumerate(jobs_of) if index % threads == thread]
            taken = 0
            for position in range(max((len(jobs) for jobs in own), default=0)):
                for jobs in own:
                    if position < len(jobs) and taken < per_thread:
                        token, block = jobs[position]
                        lines.append(f"{thread} {token} {block}")
                        taken += 1
        plan_files[name].write_text("\n".join(lines) + "\n")
        planned[name] = len(lines)

    # The round-2 reads: a scale doctor's day, the admin's statistics, a patient's feed, the
    # portal's doctor page and the hold page a patient books from (a session cookie).
    from formats.services import calendar_feed_create

    patient = User.objects.get(email=patient_email)
    _, feed_token = calendar_feed_create(actor=patient, name="bench")
    hold_id, session_cookie = portal_session_with_hold(patient, doctor, now=now)
    today = now.date()
    monday = today + datetime.timedelta(days=7 - today.weekday())
    stats_window = {
        "from": (today - datetime.timedelta(days=30)).isoformat(),
        "to": today.isoformat(),
    }
    endpoints.update(
        {
            HOLD: {"path": "/api/v1/holds/"},
            KEYED_BOOKING: {"path": "/api/v1/appointments/"},
            "day_view": {"path": "/api/v1/day/", "token": str(AccessToken.for_user(doctor))},
            "stats": {
                "path": "/api/v1/stats/appointments/?" + urllib.parse.urlencode(stats_window),
                "token": endpoints["admin_list"]["token"],
            },
            "calendar_feed": {"path": f"/calendar/{feed_token}.ics", "text": True},
            "availability_visit_types": {
                "path": f"/api/v1/doctors/{doctor.pk}/availability/?visit_type={visit_type_slug}"
            },
            "portal_doctor": {
                "path": f"/portal/doctors/{doctor.pk}/?week={monday.isoformat()}",
                "accept": "text/html",
            },
            "portal_booking": {
                "path": f"/portal/holds/{hold_id}/",
                "cookie": session_cookie,
                "accept": "text/html",
            },
        }
    )
    connections.close_all()
    return {"endpoints": endpoints, "planned": planned}


def measure_waitlist_rounds(
    database_url: str, *, doctors: int = 10, blocks_per_doctor: int = 3
) -> dict:
    """CPU per waitlist round, in this process: for `doctors` scale doctors (1, 2, ...), six
    of their patients wait for them over the next 60 days; then `waitlist_process_block` runs
    on free blocks of theirs (what the job does when a block frees up: pick the candidates,
    then one transaction that locks them, holds the block, writes the offers, their audit
    events and mails). CPU: this process plus its PostgreSQL backend."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from core.exceptions import Conflict
    from scheduling import selectors
    from scheduling.seeding import SCALE_EMAIL
    from scheduling.services import waitlist_entry_create, waitlist_process_block

    now = timezone.now()
    today = timezone.localdate()
    block_ids = []
    for index in range(1, doctors + 1):
        doctor = User.objects.filter(email=SCALE_EMAIL.format(index=index)).first()
        if doctor is None:
            break
        for patient in User.objects.filter(email__startswith=f"patient{index:05d}-")[:6]:
            with contextlib.suppress(Conflict):  # already waiting (a re-run, same database)
                waitlist_entry_create(
                    actor=patient,
                    patient=patient,
                    doctor=doctor,
                    date_from=today,
                    date_to=today + datetime.timedelta(days=60),
                )
        block_ids += list(
            selectors.time_block_list_bookable(start=now + datetime.timedelta(days=2))
            .filter(doctor=doctor, start__lt=now + datetime.timedelta(days=59))
            .order_by("start")
            .values_list("pk", flat=True)[:blocks_per_doctor]
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    tick = os.sysconf("SC_CLK_TCK")
    db_before, app_before = _cpu_ticks(backend), time.process_time()
    rounds = offers = 0
    for block_id in block_ids:
        made = waitlist_process_block(block_id=block_id)
        offers += made
        rounds += made > 0
    app = time.process_time() - app_before
    db = (_cpu_ticks(backend) - db_before) / tick
    per_round = (app + db) * 1000 / max(rounds, 1)
    return {
        "rounds": rounds,
        "offers": offers,
        "blocks_tried": len(block_ids),
        "cpu_app_ms_per_round": round(app * 1000 / max(rounds, 1), 2),
        "cpu_db_ms_per_round": round(db * 1000 / max(rounds, 1), 2),
        "cpu_ms_per_round": round(per_round, 2),
    }


# ---------------------------------------------------------------------------
# gunicorn and wrk
# ---------------------------------------------------------------------------
def check_same_answer(base: str, endpoints: dict, reference: str, real: str) -> None:
    """A reference row that stands in for an endpoint must answer exactly what it does."""
    answers = [
        http("GET", base + endpoints[name]["path"], token=endpoints[name].get("token"))
        for name in (reference, real)
    ]
    if answers[0] != answers[1]:
        raise SystemExit(f"{reference} does not answer what {real} does: {answers}")


def start_server(env: dict[str, str], *, port: int, workers: int, log: Path) -> subprocess.Popen:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is taken: pass --port")
    log_file = log.open("w")
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "medappt.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log}")
        try:
            if http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200:
                print(f"gunicorn: {workers} workers on 127.0.0.1:{port} (pid {process.pid})")
                return process
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(process)
    raise SystemExit(f"gunicorn did not become ready; see {log}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop of the whole arbiter
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                children.append(int(entry.name))
    return children


class CpuMeter:
    """CPU seconds spent by gunicorn (arbiter and workers) and by the PostgreSQL backends
    serving the bench database, around one wrk run: per-request cost that does not depend
    on what else the machine is running (wall-clock figures do)."""

    def __init__(self, server: subprocess.Popen, database_url: str) -> None:
        self.server = server
        self.database = urllib.parse.urlsplit(database_url).path.lstrip("/")
        self.database_url = database_url

    def _postgres_pids(self) -> list[int]:
        import psycopg

        with psycopg.connect(_conninfo(self.database_url, dbname="postgres")) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database]
            ).fetchall()
        return [row[0] for row in rows]

    def sample(self) -> dict[str, dict[int, int]]:
        app = [self.server.pid, *_children(self.server.pid)]
        return {
            "app": {pid: _cpu_ticks(pid) for pid in app},
            "db": {pid: _cpu_ticks(pid) for pid in self._postgres_pids()},
        }

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        tick = os.sysconf("SC_CLK_TCK")
        return {
            kind: sum(ticks - before[kind].get(pid, 0) for pid, ticks in after[kind].items()) / tick
            for kind in ("app", "db")
        }


def prepare_round2_data(doctor, *, now: datetime.datetime) -> str:
    """Visit types and a leave for the measured scale doctor (seed_scale makes neither): the
    doctor offers the demo's first consultation, every other free future block is tagged with
    it (as a template for that type would have made them), and a two-day leave starts in four
    days (leave_create, which withdraws the free blocks inside). Before the plans, so no plan
    holds a withdrawn block. Returns the type's slug."""
    from accounts.models import User
    from scheduling.models import ACTIVE_STATUSES, Leave, TimeBlock, VisitType
    from scheduling.seeding import DEMO_VISIT_TYPES
    from scheduling.services import doctor_visit_types_set, leave_create

    admin = User.objects.get(email="admin@demo.medappt")
    visit_type = VisitType.objects.get(slug=DEMO_VISIT_TYPES[0][0])
    doctor_visit_types_set(actor=admin, doctor=doctor, visit_types=[visit_type])
    free = list(
        TimeBlock.objects.filter(doctor=doctor, withdrawn_at__isnull=True, start__gte=now)
        .exclude(appointments__status__in=ACTIVE_STATUSES)
        .order_by("start")
        .values_list("pk", flat=True)
    )
    TimeBlock.objects.filter(pk__in=free[::2]).update(visit_type=visit_type)
    start = datetime.datetime.combine(
        now.date() + datetime.timedelta(days=4), datetime.time(), tzinfo=datetime.UTC
    )
    if not Leave.objects.filter(doctor=doctor).exists():  # --reuse-db
        leave_create(
            actor=admin,
            doctor=doctor,
            start=start,
            end=start + datetime.timedelta(days=2),
            category=Leave.Category.VACATION,
            note="bench",
        )
    return visit_type.slug


def portal_session_with_hold(patient, doctor, *, now: datetime.datetime) -> tuple[int, str]:
    """A live hold of the measured patient (slot_hold_create) on a free block of their doctor
    sooner than any plan's (plans take blocks two days ahead or more), and a portal session
    for them (Django's test client's force_login: a session row signed with the server's
    key); returns the hold's id and the Cookie header."""
    from django.conf import settings
    from django.test import Client

    from scheduling.models import ACTIVE_STATUSES, TimeBlock
    from scheduling.services import slot_hold_create

    block = (
        TimeBlock.objects.filter(
            doctor=doctor,
            withdrawn_at__isnull=True,
            start__gte=now + datetime.timedelta(hours=3),
            start__lt=now + datetime.timedelta(days=2),
        )
        .exclude(appointments__status__in=ACTIVE_STATUSES)
        .order_by("start")
        .first()
    )
    if block is None:
        raise SystemExit("no free block of the measured doctor in the next two days to hold")
    hold = slot_hold_create(actor=patient, patient=patient, time_block=block)
    client = Client()
    client.force_login(patient)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return hold.pk, f"{settings.SESSION_COOKIE_NAME}={session}"


def wrk(url: str, script: str, *, args, seconds: float, extra_env: dict[str, str]) -> dict:
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA), **extra_env}
    command = [
        "wrk",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA / script),
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = raw["duration_us"] / 1e6
    status = {int(code): n for code, n in raw["status"].items()}
    return {
        "requests": raw["requests"],
        "seconds": round(seconds_run, 2),
        "rps": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["latency_p50_us"] / 1000, 2),
        "p90_ms": round(raw["latency_p90_us"] / 1000, 2),
        "p99_ms": round(raw["latency_p99_us"] / 1000, 2),
        "mean_ms": round(float(raw["latency_mean_us"]) / 1000, 2),
        "max_ms": round(raw["latency_max_us"] / 1000, 2),
        "status": {str(code): status[code] for code in sorted(status)},
        "socket_errors": raw["errors_connect"]
        + raw["errors_read"]
        + raw["errors_write"]
        + raw["errors_timeout"],
    }


def run_scale(args, env: dict[str, str], doctors: int) -> dict:
    print(f"\n=== N = {doctors} doctors ===")
    seed_seconds = prepare_database(args, env, doctors)
    # The portal's pages need the static files' manifest without DEBUG (as in production).
    manage(env, "collectstatic", "--noinput", "-v", "0")
    base = f"http://127.0.0.1:{args.port}"
    server = start_server(
        env, port=args.port, workers=args.workers, log=RESULTS / f"gunicorn-{doctors}.log"
    )
    try:
        django_setup(env)
        plan_files = {
            name: RESULTS / f"{name.replace('_', '-')}-plan-{doctors}.txt"
            for name in (BOOKING, KEYED_BOOKING, HOLD)
        }
        plan = build_plan(
            base, threads=args.threads, max_bookings=args.max_bookings, plan_files=plan_files
        )
        endpoints = plan["endpoints"]
        meter = CpuMeter(server, args.database_url)
        results = {}

        def measure(name: str, script: str, extra_env: dict[str, str], warmup: bool) -> dict:
            url = base + endpoints[name]["path"]
            if warmup:
                wrk(url, script, args=args, seconds=args.warmup, extra_env=extra_env)
            before = meter.sample()
            result = wrk(url, script, args=args, seconds=args.duration, extra_env=extra_env)
            cpu = CpuMeter.spent(before, meter.sample())
            for kind, seconds in cpu.items():
                result[f"cpu_{kind}_ms_per_request"] = round(seconds * 1000 / result["requests"], 2)
            return result

        def measure_writes(name: str, extra_env: dict[str, str]) -> dict:
            plan_env = {"BENCH_PLAN": str(plan_files[name]), "BENCH_THREADS": str(args.threads)}
            result = measure(name, "book.lua", {**plan_env, **extra_env}, warmup=False)
            created = result["status"].get("201", 0)
            result["planned"] = plan["planned"][name]
            result["created"] = created
            result["conflicts_409"] = result["status"].get("409", 0)
            result["server_errors_5xx"] = sum(
                n for code, n in result["status"].items() if int(code) >= 500
            )
            result["other_non_2xx"] = (
                sum(n for code, n in result["status"].items() if int(code) >= 300 and code != "409")
                - result["server_errors_5xx"]
            )
            result["bookings_per_s"] = round(created / result["seconds"], 1)
            # CPU per successful write: what the 409s of a used-up plan cost is charged to it.
            total = result["cpu_app_ms_per_request"] + result["cpu_db_ms_per_request"]
            result["cpu_ms_per_created"] = round(total * result["requests"] / max(created, 1), 2)
            print(f"  {LABELS[name]:<44} {result['bookings_per_s']:>8.1f} created/s")
            return result

        print(f"  load average before the runs: {os.getloadavg()[0]:.2f}")
        check_same_answer(base, endpoints, "patient_list_floor", "patient_list")
        for name in [CEILING, *FLOORS, *READS, *R2_READS]:
            endpoint = endpoints[name]
            status, body = http(
                "GET",
                base + endpoint["path"],
                token=endpoint.get("token"),
                cookie=endpoint.get("cookie"),
                accept=endpoint.get("accept"),
            )
            if status != endpoint.get("expect", 200):
                raise SystemExit(f"{name}: GET {endpoint['path']} answered {status}: {body}")
            token_env = {
                "BENCH_TOKEN": endpoint.get("token", ""),
                "BENCH_COOKIE": endpoint.get("cookie", ""),
                "BENCH_ACCEPT": endpoint.get("accept", "application/json"),
            }
            results[name] = measure(name, "read.lua", token_env, warmup=True)
            results[name]["count"] = (
                body.get("count", body.get("total")) if isinstance(body, dict) else None
            )
            print(f"  {LABELS[name]:<44} {results[name]['rps']:>8.1f} req/s")
        results[BOOKING] = measure_writes(BOOKING, {})
        tag = {"BENCH_RUN_TAG": f"{doctors}-{int(time.time())}"}
        results[KEYED_BOOKING] = measure_writes(KEYED_BOOKING, {"BENCH_KEYED": "1", **tag})
        results[HOLD] = measure_writes(HOLD, {"BENCH_KIND": "hold"})
        results[WAITLIST_ROUND] = measure_waitlist_rounds(args.database_url)
        print(
            f"  {LABELS[WAITLIST_ROUND]:<44} {results[WAITLIST_ROUND]['rounds']:>8} rounds, "
            f"{results[WAITLIST_ROUND]['cpu_ms_per_round']:.2f} ms CPU each"
        )
        # The ceiling once more at the end: the ratios use the mean of both, so load that
        # drifts over the run (a shared machine) weighs on both sides alike.
        again = measure(CEILING, "read.lua", {"BENCH_TOKEN": ""}, warmup=False)
        first = results[CEILING]
        results[CEILING] = {
            **first,
            "rps": round((first["rps"] + again["rps"]) / 2, 1),
            "rps_first": first["rps"],
            "rps_last": again["rps"],
        }
        print(f"  {LABELS[CEILING] + ' again':<44} {again['rps']:>8.1f} req/s")
    finally:
        stop_server(server)
    return {
        "doctors": doctors,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "seed_seconds": seed_seconds,
        "gunicorn_workers": args.workers,
        "wrk": {
            "threads": args.threads,
            "connections": args.connections,
            "seconds": args.duration,
            "warmup_seconds": args.warmup,
        },
        "endpoints": {
            name: {**endpoints[name], "token": None, "cookie": None} for name in endpoints
        },
        "results": results,
    }


# ---------------------------------------------------------------------------
# Targets and report
# ---------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _cpu_per_request(result: dict) -> float:
    if "cpu_ms_per_round" in result:
        return result["cpu_ms_per_round"]
    if "cpu_ms_per_created" in result:
        return result["cpu_ms_per_created"]
    return result.get("cpu_app_ms_per_request", 0) + result.get("cpu_db_ms_per_request", 0)


def evaluate(run: dict) -> list[dict]:
    results = run["results"]
    ceiling = results[CEILING]["rps"]
    checks = []
    for name in PUBLIC_READS:
        ratio = results[name]["rps"] / ceiling
        checks.append(
            {
                "target": f"{name}: req/s >= {READ_VS_CEILING:.0%} of ceiling",
                "value": f"{ratio:.0%}",
                "pass": ratio >= READ_VS_CEILING,
            }
        )
    floor = results["patient_list_floor"]["rps"]
    shares = (("patient_list", PATIENT_LIST_VS_FLOOR), ("admin_list", ADMIN_LIST_VS_FLOOR))
    for name, share in shares:
        ratio = results[name]["rps"] / floor
        cpu_ratio = _cpu_per_request(results["patient_list_floor"]) / _cpu_per_request(
            results[name]
        )
        checks.append(
            {
                "target": f"{name}: req/s >= {share:.0%} of the raw-SQL floor's",
                "value": f"{ratio:.0%} (by CPU per request: {cpu_ratio:.0%})",
                "pass": ratio >= share,
            }
        )
    for name in [*READS, *R2_READS]:
        r = results[name]
        spread = r["p99_ms"] / r["p50_ms"]
        checks.append(
            {
                "target": f"{name}: p99 < {P99_OVER_P50:g} x p50",
                "value": f"{spread:.2f} x",
                "pass": spread < P99_OVER_P50,
            }
        )
        bad = sum(n for code, n in r["status"].items() if code != "200") + r["socket_errors"]
        checks.append({"target": f"{name}: every response 200", "value": bad, "pass": bad == 0})
    ceiling_cpu = _cpu_per_request(results[CEILING])
    booking_cpu = _cpu_per_request(results[BOOKING])
    checks.append(
        {
            "target": f"booking: CPU per booking <= {BOOKING_CPU_VS_CEILING:g} x the ceiling's",
            "value": f"{booking_cpu / ceiling_cpu:.1f} x ({booking_cpu:.2f} vs {ceiling_cpu:.2f})",
            "pass": booking_cpu <= BOOKING_CPU_VS_CEILING * ceiling_cpu,
        }
    )
    keyed_cpu = _cpu_per_request(results[KEYED_BOOKING])
    checks.append(
        {
            "target": f"keyed booking: CPU <= {KEYED_OVER_UNKEYED_CPU:g} x an unkeyed one's",
            "value": f"{keyed_cpu / booking_cpu:.2f} x",
            "pass": keyed_cpu <= KEYED_OVER_UNKEYED_CPU * booking_cpu,
        }
    )
    for name in (BOOKING, KEYED_BOOKING, HOLD):
        r = results[name]
        checks.append(
            {
                "target": f"{name}: zero 5xx",
                "value": r["server_errors_5xx"],
                "pass": r["server_errors_5xx"] == 0 and r["socket_errors"] == 0,
            }
        )
    return checks


def flatness(runs: dict[str, dict]) -> list[dict]:
    scales = sorted(runs, key=int)
    if len(scales) < 2:
        return []
    small, large = runs[scales[0]], runs[scales[-1]]
    checks = []
    for name in [*READS, BOOKING, *R2_READS, KEYED_BOOKING, HOLD, WAITLIST_ROUND]:
        if name not in small["results"] or name not in large["results"]:
            continue
        cpu_growth = _cpu_per_request(large["results"][name]) / max(
            _cpu_per_request(small["results"][name]), 1e-9
        )
        if name == WAITLIST_ROUND:  # no latency distribution: CPU per round instead
            growth, what = cpu_growth, "CPU per round"
        else:
            growth = large["results"][name]["p50_ms"] / small["results"][name]["p50_ms"]
            what = "p50"
        checks.append(
            {
                "target": f"{name}: {what} at N={scales[-1]} <= {P50_GROWTH:g} x N={scales[0]}",
                "value": f"{growth:.2f} x (CPU per request: {cpu_growth:.2f} x)",
                "pass": growth <= P50_GROWTH,
            }
        )
    return checks


def print_run(run: dict) -> None:
    results = run["results"]
    ceiling = results[CEILING]["rps"]
    load = run.get("load_average_1m")
    seed = run["seed_seconds"] or "reused"
    print(f"\nN = {run['doctors']} doctors (seed: {seed} s, load average {load})")
    columns = ("req/s", "vs ceil", "p50 ms", "p99 ms", "p99/p50", "cpu app", "cpu db", "cpu vs")
    print(f"{'endpoint':<46}" + "".join(f"{column:>9}" for column in columns) + "  status")
    writes = (BOOKING, KEYED_BOOKING, HOLD)
    for name in [CEILING, *FLOORS, *READS, BOOKING, *R2_READS, KEYED_BOOKING, HOLD]:
        r = results.get(name)
        if r is None:
            continue
        rps = r["bookings_per_s"] if name in writes else r["rps"]
        codes = " ".join(f"{code}:{n}" for code, n in r["status"].items())
        print(
            f"{LABELS[name]:<46}{rps:>9.1f}{rps / ceiling:>9.0%}{r['p50_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}{r['p99_ms'] / r['p50_ms']:>9.2f}"
            f"{r.get('cpu_app_ms_per_request', 0):>9.2f}{r.get('cpu_db_ms_per_request', 0):>9.2f}"
            f"{_cpu_per_request(results[CEILING]) / max(_cpu_per_request(r), 1e-9):>9.0%}"
            f"  {codes}"
        )
    waitlist = results.get(WAITLIST_ROUND)
    if waitlist:
        print(
            f"{LABELS[WAITLIST_ROUND]:<46}{waitlist['rounds']:>9} rounds, "
            f"{waitlist['offers']} offers, CPU per round {waitlist['cpu_app_ms_per_round']:.2f}"
            f" app + {waitlist['cpu_db_ms_per_round']:.2f} db ms"
        )
    for row in R2_ROWS:
        if "pending" in row:
            print(f"{row['label']:<46}  pending: {row['pending']}")
    first, last = results[CEILING].get("rps_first"), results[CEILING].get("rps_last")
    if first:
        print(f"ceiling: {first} req/s before the runs, {last} after; the ratios use the mean")
    print(
        "cpu app / cpu db: CPU ms per request of gunicorn and of PostgreSQL; cpu vs: the "
        "ceiling's CPU per request over the endpoint's (per successful write for the writes)"
    )
    for name in writes:
        r = results[name]
        print(
            f"{name}: {r['created']} created of {r['requests']} requests ({r['planned']} "
            f"planned), 409: {r['conflicts_409']}, 5xx: {r['server_errors_5xx']}, other "
            f"non-2xx: {r['other_non_2xx']}; CPU per created {r['cpu_ms_per_created']:.2f} ms"
        )


def print_checks(title: str, checks: list[dict]) -> None:
    print(f"\n{title}")
    for check in checks:
        print(f"  {_verdict(check['pass'])}  {check['target']:<60} {check['value']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_doctors = os.environ.get("BENCH_DOCTORS", "20").replace(",", " ").split()
    parser.add_argument("--doctors", type=int, nargs="+", default=[int(n) for n in default_doctors])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per read")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8765")))
    parser.add_argument("--max-bookings", type=int, default=8000, help="booking plan size")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="keep the database when it already holds exactly N scale doctors (iterating)",
    )
    args = parser.parse_args()
    check_tools()
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = server_environment(args.database_url)

    stored = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    runs: dict[str, dict] = stored.get("runs", {})
    machine = machine_info(args.database_url)
    for doctors in args.doctors:
        run = run_scale(args, env, doctors)
        run["machine"] = machine
        run["checks"] = evaluate(run)
        runs[str(doctors)] = run
    failed = False
    for doctors in args.doctors:
        run = runs[str(doctors)]
        print_run(run)
        print_checks(f"Targets at N = {doctors}:", run["checks"])
        failed |= not all(check["pass"] for check in run["checks"])
    flat = flatness(runs)
    if flat:
        scales = sorted(runs, key=int)
        dates = {runs[s]["machine"]["date"] for s in (scales[0], scales[-1])}
        note = "" if len(dates) == 1 else " (from runs at different times)"
        print_checks(f"Cost flat in data size, N={scales[0]} vs N={scales[-1]}{note}:", flat)
        failed |= not all(check["pass"] for check in flat)
    else:
        print('\nFlatness: needs two scales, e.g. make bench BENCH_DOCTORS="20 200"')
    RESULTS_FILE.write_text(
        json.dumps({"machine": machine, "runs": runs, "flatness": flat}, indent=2) + "\n"
    )
    print(f"\nwrote {RESULTS_FILE.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
