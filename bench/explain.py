"""Query plans of the hot reads at scale: every SELECT the real endpoints run, EXPLAINed.

    .venv/bin/python bench/explain.py [--doctors-index 0] [--no-analyze] [--sql]

It needs a database filled by `seed_demo --scale N` (`make bench` leaves one behind;
DATABASE_URL, default postgres://postgres@127.0.0.1:5432/medappt_bench_http). Each endpoint
is called in-process through Django's test client (authentication, filters, pagination and
serializers as in production), the SQL it runs is captured, and each SELECT is run again
under EXPLAIN (ANALYZE, BUFFERS). Everything happens inside one transaction that is rolled
back, so the audit rows the admin list writes are not kept. Last comes a summary: the indexes
each endpoint uses and any sequential scan.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from http_bench import DEFAULT_DATABASE_URL, server_environment  # noqa: E402

INDEX_PATTERN = re.compile(
    r"(?:(?:Index Scan|Index Only Scan)(?: Backward)? using|Bitmap Index Scan on) (\S+)"
)
SEQ_PATTERN = re.compile(r"Seq Scan on (\S+)")


class Rollback(Exception):
    pass


def endpoints(doctor_index: int) -> list[tuple[str, str, str | None]]:
    """(label, path, email of the caller or None)."""
    from accounts.models import User
    from scheduling.seeding import SCALE_EMAIL

    doctor = User.objects.get(email=SCALE_EMAIL.format(index=doctor_index))
    now = datetime.datetime.now(datetime.UTC)
    window = urllib.parse.urlencode(
        {
            "status": "confirmed",
            "from": now.isoformat().replace("+00:00", "Z"),
            "to": (now + datetime.timedelta(days=14)).isoformat().replace("+00:00", "Z"),
        }
    )
    return [
        ("doctors list (public)", "/api/v1/doctors/", None),
        ("availability, 14 days", f"/api/v1/doctors/{doctor.pk}/availability/", None),
        (
            "appointments: patient's own",
            "/api/v1/appointments/",
            f"patient{doctor_index:05d}-000@scale.medappt",
        ),
        ("appointments: doctor's own", "/api/v1/appointments/", doctor.email),
        ("appointments: admin, filtered", f"/api/v1/appointments/?{window}", "admin@demo.medappt"),
        ("appointments: admin, all", "/api/v1/appointments/", "admin@demo.medappt"),
    ]


def explain(sql: str, *, analyze: bool) -> list[str]:
    from django.db import connection

    options = "ANALYZE, BUFFERS" if analyze else "COSTS"
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ({options}) {sql}")
        return [row[0] for row in cursor.fetchall()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doctors-index", type=int, default=0, help="which scale doctor")
    parser.add_argument("--no-analyze", action="store_true", help="plans without running them")
    parser.add_argument("--sql", action="store_true", help="print each statement in full")
    args = parser.parse_args()

    env = server_environment(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    env["ALLOWED_HOSTS"] = "testserver"
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    if connection.vendor != "postgresql":
        raise SystemExit("explain.py needs PostgreSQL")
    summary = []
    try:
        with transaction.atomic():
            client = Client()
            for label, path, email in endpoints(args.doctors_index):
                headers = {}
                if email:
                    token = AccessToken.for_user(User.objects.get(email=email))
                    headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
                with CaptureQueriesContext(connection) as captured:
                    response = client.get(path, **headers)
                print(
                    f"\n{'=' * 100}\n{label}: GET {path} -> {response.status_code}, "
                    f"{len(captured.captured_queries)} queries"
                )
                indexes, seq_scans = [], []
                for number, query in enumerate(captured.captured_queries, 1):
                    sql = query["sql"]
                    head = sql if args.sql else sql[:160] + ("..." if len(sql) > 160 else "")
                    print(f"\n-- [{number}] {head}")
                    if not sql.lstrip().upper().startswith("SELECT"):
                        print("   (not a SELECT: not explained)")
                        continue
                    plan = explain(sql, analyze=not args.no_analyze)
                    print("\n".join("   " + line for line in plan))
                    text = "\n".join(plan)
                    indexes += [name for name in INDEX_PATTERN.findall(text) if name not in indexes]
                    seq_scans += SEQ_PATTERN.findall(text)
                summary.append((label, indexes, seq_scans))
            raise Rollback
    except Rollback:
        pass
    print(f"\n{'=' * 100}\nSummary (indexes used; sequential scans)")
    for label, indexes, seq_scans in summary:
        seq = f"; SEQ SCAN: {', '.join(sorted(set(seq_scans)))}" if seq_scans else ""
        print(f"  {label:<32} {', '.join(indexes) or '-'}{seq}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
