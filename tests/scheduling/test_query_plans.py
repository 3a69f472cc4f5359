"""The hot reads use the indexes made for them (bench/explain.py).

Each endpoint is called for real, the SELECTs it ran are captured and EXPLAINed in the same
transaction with `SET LOCAL enable_seqscan = off`: tiny test tables are always seq-scanned
otherwise, and what matters is which index the planner picks when it has to pick one. Scale
itself (plans and timings on a seeded database) lives in bench/.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling.models import Appointment, TimeBlock
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    DoctorFactory,
    PatientFactory,
    TimeBlockFactory,
    VisitTypeFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
STATUSES = ["pending", "confirmed", "cancelled", "completed", "no_show"]


def z(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def clinic():
    """Two doctors with blocks from a month ago to a month ahead, each with own patients and
    appointments in every status, and fresh planner statistics."""
    base = timezone.now().replace(minute=0, second=0, microsecond=0) - 30 * DAY
    doctors, patients = [], []
    for _ in range(2):
        doctor = DoctorFactory()
        own = [PatientFactory() for _ in range(3)]
        for n in range(120):  # every 12 hours over 60 days
            block = TimeBlockFactory(doctor=doctor, start=base + n * 12 * HOUR)
            if n % 3 == 0:
                AppointmentFactory(
                    time_block=block,
                    patient=own[n // 3 % len(own)],  # 13 or 14 each
                    status=STATUSES[n % len(STATUSES)],
                )
        doctors.append(doctor)
        patients.extend(own)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_timeblock, scheduling_appointment, accounts_user")
    return doctors, patients


def plans_of(client, path: str) -> list[tuple[str, str]]:
    """(sql, plan) of every SELECT the GET ran, planned with sequential scans off."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    plans = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    return plans


def on_table(plans: list[tuple[str, str]], table: str) -> list[str]:
    """Plans of the queries that read `table` (the count and the page of a list)."""
    found = [plan for sql, plan in plans if f'FROM "{table}"' in sql]
    assert found, f"no query on {table}"
    return found


def assert_index(plans: list[str], index: str) -> None:
    """Each plan reads through `index` (an index, index-only or bitmap index scan)."""
    pattern = re.compile(rf"(?:Index Scan|Index Only Scan|Bitmap Index Scan)[^\n]* {index}\b")
    for plan in plans:
        assert pattern.search(plan), plan


def test_availability_scans_the_doctor_start_range_and_anti_joins_active_appointments(
    clinic, anon_client
):
    doctors, _ = clinic

    plans = plans_of(anon_client, f"/api/v1/doctors/{doctors[0].pk}/availability/")

    blocks = on_table(plans, "scheduling_timeblock")
    assert len(blocks) == 2  # the count and the page
    assert_index(blocks, "time_block_doctor_start_unique")
    # The anti-join against active appointments may use either index that covers them
    # (the planner picks by statistics); what matters is that it never scans the table.
    for plan in blocks:
        assert "Seq Scan on scheduling_appointment" not in plan, plan


def test_patient_list_uses_the_patient_start_index(clinic):
    _, patients = clinic

    # Pages of 5 are full, so the count runs too (a short page tells the count).
    plans = plans_of(client_for(patients[0]), "/api/v1/appointments/?page_size=5")

    appointments = on_table(plans, "scheduling_appointment")
    assert len(appointments) == 2
    assert_index(appointments, "appointment_patient_start_idx")


def test_doctor_list_uses_the_doctor_start_index(clinic):
    doctors, _ = clinic

    plans = plans_of(client_for(doctors[0]), "/api/v1/appointments/")

    appointments = on_table(plans, "scheduling_appointment")
    assert len(appointments) == 2
    assert_index(appointments, "appointment_doctor_start_idx")


def test_admin_status_and_window_filter_uses_the_status_index(clinic, clinic_admin_client):
    now = timezone.now()
    window = {
        "status": Appointment.Status.CONFIRMED,
        "from": z(now - 7 * DAY),
        "to": z(now + 7 * DAY),
    }
    query = urllib.parse.urlencode(window)

    page = on_table(
        plans_of(clinic_admin_client, f"/api/v1/appointments/?{query}"), "scheduling_appointment"
    )
    # A full page (one row) makes the count run as well; a short page tells the count.
    counted = plans_of(clinic_admin_client, f"/api/v1/appointments/?{query}&page_size=1")
    count = [plan for sql, plan in counted if "COUNT(" in sql.upper()]

    assert len(page) == 1
    assert_index(page, "appointment_status_order_idx")
    assert len(count) == 1
    assert_index(count, "appointment_status_order_idx")


def test_admin_unfiltered_list_pages_through_the_start_index(clinic, clinic_admin_client):
    plans = plans_of(clinic_admin_client, "/api/v1/appointments/")

    page = [
        plan for sql, plan in plans if 'FROM "scheduling_appointment"' in sql and "LIMIT" in sql
    ]
    assert len(page) == 1
    assert_index(page, "appointment_start_idx")


def reading(plans: list[tuple[str, str]], table: str) -> list[str]:
    """Plans of the queries whose main table is `table` (not those naming it in a subquery)."""
    found = [plan for sql, plan in plans if re.search(r'FROM "(\w+)"', sql).group(1) == table]
    assert found, f"no query on {table}"
    return found


def test_day_view_reads_the_days_appointments_and_blocks_by_start_index(clinic, staff_client):
    today = timezone.localdate()

    plans = plans_of(staff_client, f"/api/v1/day/?date={today}")

    appointments = reading(plans, "scheduling_appointment")
    assert len(appointments) == 1
    assert_index(appointments, "appointment_start_idx")
    blocks = reading(plans, "scheduling_timeblock")
    assert len(blocks) == 1
    assert_index(blocks, "time_block_start_idx")
    for plan in blocks:
        assert "Seq Scan on scheduling_appointment" not in plan, plan


def test_one_doctors_day_reads_through_the_doctor_start_indexes(clinic):
    doctors, _ = clinic

    plans = plans_of(client_for(doctors[0]), "/api/v1/day/")

    assert_index(reading(plans, "scheduling_appointment"), "appointment_doctor_start_idx")
    assert_index(reading(plans, "scheduling_timeblock"), "time_block_doctor_start_unique")


def test_stats_read_the_window_through_the_start_index(clinic, staff_client):
    plans = plans_of(staff_client, "/api/v1/stats/appointments/?group_by=hour")

    appointments = reading(plans, "scheduling_appointment")
    assert len(appointments) == 2  # the grouped counts and the waits
    assert_index(appointments, "appointment_start_idx")


@pytest.fixture
def tagged(clinic):
    """Every other block of the first doctor becomes a 12-hour `tagged` visit (their length)."""
    doctors, _ = clinic
    visit_type = VisitTypeFactory(slug="tagged", duration_minutes=720)
    blocks = TimeBlock.objects.filter(doctor=doctors[0]).order_by("start")
    TimeBlock.objects.filter(pk__in=list(blocks.values_list("pk", flat=True))[::2]).update(
        visit_type=visit_type
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_timeblock")
    return visit_type


def test_availability_of_a_visit_type_still_scans_the_doctor_start_range(
    clinic, tagged, anon_client
):
    doctors, _ = clinic

    plans = plans_of(
        anon_client, f"/api/v1/doctors/{doctors[0].pk}/availability/?visit_type=tagged"
    )

    blocks = on_table(plans, "scheduling_timeblock")  # the page (a short one tells the count)
    # Either range index serves it (the planner picks by statistics); never a table scan.
    pattern = re.compile(
        r"Index[^\n]* (time_block_doctor_start_unique|time_block_visit_type_idx)\b[^\n]*\n"
        r"[^\n]*Index Cond: [^\n]*start >="
    )
    for plan in blocks:
        assert pattern.search(plan), plan
        assert "Seq Scan on scheduling_timeblock" not in plan, plan


def test_clinic_block_list_of_a_visit_type_uses_its_index(clinic, tagged, staff_client):
    plans = plans_of(staff_client, f"/api/v1/time-blocks/?visit_type={tagged.pk}&page_size=5")

    blocks = reading(plans, "scheduling_timeblock")
    assert blocks
    assert_index(blocks, "time_block_visit_type_idx")


def test_availability_anti_joins_leaves_through_the_active_leave_index(clinic, anon_client):
    from scheduling.models import Leave

    doctors, _ = clinic
    now = timezone.now()
    for n in range(40):
        Leave.objects.create(
            doctor=doctors[n % 2],
            start=now - 400 * DAY + n * 3 * DAY,
            end=now - 400 * DAY + n * 3 * DAY + DAY,
            category="vacation",
        )
    Leave.objects.create(doctor=None, start=now + 40 * DAY, end=now + 41 * DAY, category="holiday")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_leave")

    plans = plans_of(anon_client, f"/api/v1/doctors/{doctors[0].pk}/availability/")

    blocks = on_table(plans, "scheduling_timeblock")
    assert_index(blocks, "time_block_doctor_start_unique")
    assert_index(blocks, "leave_active_doctor_end_idx")
    for plan in blocks:
        assert "Seq Scan on scheduling_leave" not in plan, plan


def test_the_booking_rules_read_uses_the_block_and_patient_indexes(clinic):
    """The one statement of a booking's three rules (#25): three scalar subqueries with the
    same conditions as the three reads it replaced, each through an index."""
    from scheduling.services.appointments import _BOOKING_FACTS_SQL

    doctors, patients = clinic
    block = TimeBlockFactory(doctor=doctors[0], start=timezone.now() + 40 * DAY)
    active = ["pending", "confirmed", "arrived"]
    params = [block.pk, *active, patients[0].pk, *active, block.end, block.start]
    params += [patients[0].pk, *active]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {_BOOKING_FACTS_SQL}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    assert "Index Only Scan using appointment_one_active_per_block" in plan, plan
