"""CPU and statements of the FHIR facade's reads, measured in-process on PostgreSQL.

Seeds `seed_demo --scale N` data (idempotent: doctors already there are kept), then sends
each request below R times through the whole stack (Django test client, real JWTs) and prints
the median process CPU per request, its wall time and its SQL statements:

- GET /fhir/R4/Slot?schedule=…&_count=100 (a page of 100 free slots of one doctor),
- GET /fhir/R4/Appointment/$find, 14 days, one practitioner (a page of 20, and of 100),
- GET /fhir/R4/Appointment/$find, 14 days, every doctor (a page of 20),
- for comparison, REST availability of the same doctor with page_size=100.

Then it times building the 100-slot bundle alone: as the views do (plain dicts in the R4B
models' shape, json.dumps) against fhir.resources' R4B models, and what checking it with the
models costs (FHIR_VALIDATE_RESPONSES), so the models' cost is measured, not guessed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medappt_bench_fhir \\
      .venv/bin/python bench/fhir_cpu.py [--scale 200] [--requests 200]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/medappt_bench_fhir"


def configure() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medappt.settings")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdef")
    os.environ.setdefault("AUDIT_CHAIN_KEY", "bench-audit-chain-key")
    os.environ.setdefault("EMAIL_URL", "memorymail://")
    os.environ.setdefault("PUBLIC_BASE_URL", "https://bench.example")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("PUBLIC_CACHE_SECONDS", "0")
    os.environ["THROTTLE_FHIR_FIND"] = "1000000/min"
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)


def measure(client, path: str, requests: int, token: str | None = None) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    for _ in range(10):
        response = client.get(path, **extra)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.content[:300]!r}")
    cpu, wall = [], []
    for _ in range(requests):
        c0, w0 = time.process_time(), time.perf_counter()
        client.get(path, **extra)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    with CaptureQueriesContext(connection) as captured:
        body = json.loads(client.get(path, **extra).content)
    entries = body.get("entry") or body.get("results") or []
    return {
        "cpu_ms": round(statistics.median(cpu) * 1000, 2),
        "wall_ms": round(statistics.median(wall) * 1000, 2),
        "statements": len(captured),
        "entries": len(entries),
        "total": body.get("total", body.get("count")),
    }


def build_cost(blocks: list, rounds: int = 200) -> dict:
    """The 100-slot bundle alone, three ways: as the views build it (formats.fhir.mapping's
    dicts, json.dumps), with fhir.resources' R4B models (model_dump_json), and what
    FHIR_VALIDATE_RESPONSES adds (formats.fhir.validation.validate_body on the JSON)."""
    from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch
    from fhir.resources.R4B.codeableconcept import CodeableConcept
    from fhir.resources.R4B.coding import Coding
    from fhir.resources.R4B.reference import Reference
    from fhir.resources.R4B.slot import Slot

    from formats.fhir import mapping
    from formats.fhir.renderers import FHIRJSONRenderer
    from formats.fhir.validation import validate_body

    def with_models() -> str:
        entries = [
            BundleEntry(
                fullUrl=f"https://x/fhir/R4/Slot/{b.pk}",
                resource=Slot(
                    id=str(b.pk),
                    serviceType=[
                        CodeableConcept(
                            coding=[Coding(system="urn:medappt:visit-type", code="general")]
                        )
                    ],
                    schedule=Reference(reference=f"Schedule/{b.doctor_id}"),
                    status=b.fhir_status,
                    start=b.start,
                    end=b.end,
                ),
                search=BundleEntrySearch(mode="match"),
            )
            for b in blocks
        ]
        return Bundle(type="searchset", total=len(blocks), entry=entries).model_dump_json()

    def with_dicts() -> bytes:
        entries = [
            {
                "fullUrl": f"https://x/fhir/R4/Slot/{b.pk}",
                "resource": mapping.slot(b),
                "search": {"mode": "match"},
            }
            for b in blocks
        ]
        body = {"resourceType": "Bundle", "type": "searchset", "total": len(blocks)}
        return FHIRJSONRenderer().render({**body, "entry": entries})

    rendered = with_dicts()
    result = {}
    for name, build in (
        ("models", with_models),
        ("dicts", with_dicts),
        ("validation", lambda: validate_body(rendered)),
    ):
        build()
        times = []
        for _ in range(rounds):
            c0 = time.process_time()
            build()
            times.append(time.process_time() - c0)
        result[name] = round(statistics.median(times) * 1000, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20, help="seed_demo --scale N")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    configure()

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from formats.fhir import selectors
    from scheduling.seeding import SCALE_EMAIL

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("seed_demo", scale=args.scale, allow_demo_admin=True, verbosity=0)
    print(f"seeded --scale {args.scale} in {time.perf_counter() - started:.0f} s")
    from django.db import connection

    with connection.cursor() as cursor:  # fresh statistics, as after a night of autovacuum
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    doctor = User.objects.get(email=SCALE_EMAIL.format(index=0))
    now = timezone.now()
    start, end = now, now + datetime.timedelta(days=14)
    wide = now + datetime.timedelta(days=60)
    client = Client()

    def z(moment: datetime.datetime) -> str:
        return moment.isoformat()

    slots = "/fhir/R4/Slot?" + urlencode(
        {"schedule": doctor.pk, "start": [f"ge{z(start)}", f"lt{z(wide)}"], "_count": 100},
        doseq=True,
    )
    find = "/fhir/R4/Appointment/$find?" + urlencode({"start": z(start), "end": z(end)})
    rows = {
        "FHIR Slot search, 100 slots of one doctor": slots,
        "FHIR $find, 14 d, one practitioner, 20": f"{find}&practitioner={doctor.pk}",
        "FHIR $find, 14 d, one practitioner, 100": f"{find}&practitioner={doctor.pk}&_count=100",
        "FHIR $find, 14 d, every doctor, 20": find,
        "REST availability, page_size=100": f"/api/v1/doctors/{doctor.pk}/availability/?"
        + urlencode({"from": z(start), "to": z(wide), "page_size": 100}),
    }
    staff = User.objects.filter(role=User.Role.ADMIN).first()
    token = str(AccessToken.for_user(staff)) if staff else None
    if token:
        rows["FHIR Slot search as admin (every status), 100"] = slots
    print(f"{'request':<48} {'CPU ms':>8} {'wall ms':>8} {'stmts':>6} {'entries':>8} {'total':>7}")
    for label, path in rows.items():
        use = token if "admin" in label else None
        r = measure(client, path, args.requests, use)
        print(
            f"{label:<48} {r['cpu_ms']:>8} {r['wall_ms']:>8} {r['statements']:>6}"
            f" {r['entries']:>8} {r['total']!s:>7}"
        )
    blocks = list(
        selectors.slot_list_free(start=start, end=wide).filter(doctor=doctor).order_by()[:100]
    )
    cost = build_cost(blocks)
    print(
        f"the {len(blocks)}-slot bundle alone (median CPU): as the views build it (dicts)"
        f" {cost['dicts']} ms; with the R4B models {cost['models']} ms;"
        f" FHIR_VALIDATE_RESPONSES adds {cost['validation']} ms"
    )


if __name__ == "__main__":
    main()
