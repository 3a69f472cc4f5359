"""The facade's slot searches and $find read through the block indexes (as availability
does): EXPLAINed on PostgreSQL with sequential scans off (see
tests/scheduling/test_query_plans.py for the method)."""

from __future__ import annotations

import datetime
import re
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    DoctorFactory,
    PatientFactory,
    TimeBlockFactory,
)
from tests.support.fhir import fhir_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def clinic():
    """Three doctors with a block every 12 hours for 60 days, a third of them booked."""
    base = timezone.now().replace(minute=0, second=0, microsecond=0)
    doctors = [DoctorFactory() for _ in range(3)]
    for doctor in doctors:
        patient = PatientFactory()
        for n in range(120):
            block = TimeBlockFactory(doctor=doctor, start=base + n * 12 * HOUR)
            if n % 3 == 0:
                AppointmentFactory(time_block=block, patient=patient, status="confirmed")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_timeblock, scheduling_appointment, accounts_user")
    return doctors


def plans_of(client, path: str) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    with CaptureQueriesContext(connection) as captured:
        fhir_body(client.get(path))
    plans = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN {sql}")
                plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    return plans


def on_blocks(plans: list[tuple[str, str]]) -> list[str]:
    found = [
        p for sql, p in plans if re.search(r'FROM "(\w+)"', sql).group(1) == "scheduling_timeblock"
    ]
    assert found
    for plan in found:
        assert "Seq Scan on scheduling_appointment" not in plan, plan
        assert "Seq Scan on scheduling_timeblock" not in plan, plan
    return found


def assert_index(plans: list[str], index: str) -> None:
    pattern = re.compile(rf"(?:Index Scan|Index Only Scan|Bitmap Index Scan)[^\n]* {index}\b")
    for plan in plans:
        assert pattern.search(plan), plan


def test_a_doctors_free_slots_read_the_doctor_start_index(clinic, anon_client):
    plans = plans_of(anon_client, f"/fhir/R4/Slot?schedule={clinic[0].pk}")
    assert_index(on_blocks(plans), "time_block_doctor_start_unique")


def test_every_doctors_free_slots_read_the_start_index(clinic, anon_client):
    # Either index with `start` in its condition (the planner picks by statistics: on this
    # small clinic the leave anti-joins may tip it to the doctor-start one); never a scan.
    plans = on_blocks(plans_of(anon_client, "/fhir/R4/Slot"))
    pattern = re.compile(
        r"Index[^\n]* (time_block_start_idx|time_block_doctor_start_unique)\b[^\n]*\n"
        r"[^\n]*Index Cond: [^\n]*start >="
    )
    for plan in plans:
        assert pattern.search(plan), plan
        assert "Seq Scan on scheduling_timeblock" not in plan, plan


def test_staff_slot_statuses_read_the_doctor_start_index(clinic, staff):
    plans = plans_of(client_for(staff), f"/fhir/R4/Slot?schedule={clinic[0].pk}")
    assert_index(on_blocks(plans), "time_block_doctor_start_unique")


def test_find_reads_the_block_indexes(clinic, anon_client):
    start = quote((timezone.now() + HOUR).isoformat())
    end = quote((timezone.now() + 30 * 24 * HOUR).isoformat())
    find = f"/fhir/R4/Appointment/$find?start={start}&end={end}"
    plans = plans_of(anon_client, f"{find}&practitioner={clinic[1].pk}&practitioner={clinic[0].pk}")
    assert_index(on_blocks(plans), "time_block_doctor_start_unique")
    on_blocks(plans_of(anon_client, find))


def test_slot_statuses_probe_the_bookable_predicate_per_row(clinic, staff):
    """Never the whole predicate's result hashed (every bookable block of every doctor)."""
    with CaptureQueriesContext(connection) as captured:
        fhir_body(client_for(staff).get(f"/fhir/R4/Slot?schedule={clinic[0].pk}"))
    checked = 0
    for query in captured.captured_queries:
        if "THEN 'free'" in query["sql"] and query["sql"].lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (VERBOSE) {query['sql']}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            assert re.search(r"WHEN \(SubPlan \d+\) THEN 'free'", plan), plan
            checked += 1
    assert checked == 1
