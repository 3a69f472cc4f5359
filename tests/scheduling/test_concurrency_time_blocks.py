"""Time blocks under concurrency, on PostgreSQL: real threads, real transactions.

Each thread has its own database connection (Django's are per thread) and closes it when
done. A Barrier starts the contenders together.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audit.models import AuditEvent
from core.exceptions import BLOCK_OVERLAP, BLOCK_WITHDRAWN, Conflict
from scheduling.models import TimeBlock
from scheduling.services import BulkResult, time_block_bulk_create, time_block_create
from tests.support.clients import client_for
from tests.support.factories import (
    CancelledAppointmentFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
)

MINUTE = datetime.timedelta(minutes=1)
TIMEOUT = 30


def run_together(*calls: Callable[[], object]) -> list[object]:
    """Run each call in its own thread, released together; its result or its exception."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            results[index] = call()
        except Exception as error:  # the test inspects what each contender got
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a contender hung"
    return results


def overlapping_pairs(doctor) -> list[int]:
    """Ids of the doctor's unwithdrawn blocks that overlap another unwithdrawn block."""
    other = TimeBlock.objects.filter(
        doctor=OuterRef("doctor"),
        withdrawn_at__isnull=True,
        start__lt=OuterRef("end"),
        end__gt=OuterRef("start"),
    ).exclude(pk=OuterRef("pk"))
    return list(
        TimeBlock.objects.filter(doctor=doctor, withdrawn_at__isnull=True)
        .filter(Exists(other))
        .values_list("pk", flat=True)
    )


def day_ahead(days: int, hour: int, minute: int = 0) -> datetime.datetime:
    moment = timezone.now() + datetime.timedelta(days=days)
    return moment.replace(hour=hour, minute=minute, second=0, microsecond=0)


# ---------------------------------------------------------------------------
# The exclusion constraint itself
# ---------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db
def test_exclusion_constraint_refuses_an_overlapping_insert(doctor):
    block = TimeBlockFactory(doctor=doctor, start=day_ahead(5, 10))

    with pytest.raises(IntegrityError) as error, transaction.atomic():
        TimeBlock.objects.create(
            doctor=doctor, start=block.start + 10 * MINUTE, end=block.end + 10 * MINUTE
        )

    assert "time_block_no_overlap" in str(error.value)
    assert TimeBlock.objects.filter(doctor=doctor).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_exclusion_constraint_allows_touching_withdrawn_and_other_doctors_blocks(
    doctor, other_doctor
):
    block = TimeBlockFactory(doctor=doctor, start=day_ahead(5, 10))

    with transaction.atomic():
        TimeBlock.objects.create(doctor=doctor, start=block.end, end=block.end + 30 * MINUTE)
        TimeBlock.objects.create(doctor=other_doctor, start=block.start, end=block.end)
        WithdrawnTimeBlockFactory(doctor=doctor, start=block.start + MINUTE, end=block.end)

    assert TimeBlock.objects.count() == 4


# ---------------------------------------------------------------------------
# Races
# ---------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_creations_of_overlapping_blocks_only_one_wins(doctor):
    start = day_ahead(6, 9)

    def create(offset: int) -> Callable[[], object]:
        return lambda: time_block_create(
            actor=doctor,
            doctor=doctor,
            start=start + offset * MINUTE,
            end=start + (offset + 30) * MINUTE,
        )

    results = run_together(create(0), create(10))

    created = [r for r in results if isinstance(r, TimeBlock)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 1, results
    assert len(conflicts) == 1, results
    assert conflicts[0].code == BLOCK_OVERLAP
    assert list(TimeBlock.objects.filter(doctor=doctor).values_list("pk", flat=True)) == [
        created[0].pk
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_api_creations_of_the_same_block_only_one_wins(doctor, staff):
    start = day_ahead(6, 9)
    body = {
        "doctor": doctor.pk,
        "start": start.isoformat(),
        "end": (start + 30 * MINUTE).isoformat(),
    }
    clients = [client_for(doctor), client_for(staff)]

    def post(client) -> Callable[[], object]:
        return lambda: client.post("/api/v1/time-blocks/", body, format="json")

    responses = run_together(*(post(c) for c in clients))

    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409], [getattr(r, "content", r) for r in responses]
    conflict = next(r for r in responses if r.status_code == 409)
    assert conflict.json()["code"] == BLOCK_OVERLAP
    assert TimeBlock.objects.filter(doctor=doctor).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bulk_racing_single_creations_never_leaves_overlapping_blocks(doctor, staff):
    first_day = (timezone.now() + datetime.timedelta(days=10)).date()
    last_day = first_day + datetime.timedelta(days=4)

    def bulk() -> BulkResult:
        return time_block_bulk_create(
            actor=staff,
            doctor=doctor,
            date_from=first_day,
            date_to=last_day,
            weekdays=list(range(7)),
            start_time=datetime.time(9),
            end_time=datetime.time(12),
            slot_minutes=30,
            timezone_name="UTC",
        )

    def single(day: datetime.date, minute: int) -> Callable[[], object]:
        start = datetime.datetime.combine(day, datetime.time(9), tzinfo=datetime.UTC)
        start += minute * MINUTE
        return lambda: time_block_create(
            actor=doctor, doctor=doctor, start=start, end=start + 45 * MINUTE
        )

    singles = [
        single(first_day + datetime.timedelta(days=i), minute)
        for i in range(5)
        for minute in (15, 100)
    ]

    results = run_together(bulk, *singles)

    bulk_result, single_results = results[0], results[1:]
    assert isinstance(bulk_result, BulkResult), bulk_result
    assert bulk_result.total == 5 * 6
    for result in single_results:
        assert isinstance(result, TimeBlock | Conflict), result
        if isinstance(result, Conflict):
            assert result.code == BLOCK_OVERLAP
    won = [r for r in single_results if isinstance(r, TimeBlock)]
    blocks = TimeBlock.objects.filter(doctor=doctor, withdrawn_at__isnull=True)
    assert blocks.count() == bulk_result.created + len(won)
    assert overlapping_pairs(doctor) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_bulk_creations_of_one_pattern_create_each_slot_once(doctor, staff):
    first_day = (timezone.now() + datetime.timedelta(days=10)).date()

    def bulk(minutes: int) -> Callable[[], object]:
        return lambda: time_block_bulk_create(
            actor=staff,
            doctor=doctor,
            date_from=first_day,
            date_to=first_day + datetime.timedelta(days=2),
            weekdays=list(range(7)),
            start_time=datetime.time(9),
            end_time=datetime.time(12),
            slot_minutes=minutes,
            timezone_name="UTC",
        )

    results = run_together(bulk(30), bulk(45))

    assert all(isinstance(r, BulkResult) for r in results), results
    assert sum(r.created for r in results) == TimeBlock.objects.filter(doctor=doctor).count()
    assert overlapping_pairs(doctor) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deletes_of_one_block_one_wins_the_other_is_404(doctor, staff):
    block = TimeBlockFactory(doctor=doctor, start=day_ahead(6, 9))
    path = f"/api/v1/time-blocks/{block.pk}/"
    clients = [client_for(doctor), client_for(staff)]

    responses = run_together(*(lambda c=c: c.delete(path) for c in clients))

    assert sorted(r.status_code for r in responses) == [204, 404], responses
    assert not TimeBlock.objects.filter(pk=block.pk).exists()
    assert AuditEvent.objects.filter(action="time_block.deleted").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_withdrawals_of_one_block_are_audited_once(doctor, staff):
    block = TimeBlockFactory(doctor=doctor, start=day_ahead(6, 9))
    CancelledAppointmentFactory(time_block=block)
    path = f"/api/v1/time-blocks/{block.pk}/"
    clients = [client_for(doctor), client_for(staff)]

    responses = run_together(*(lambda c=c: c.delete(path) for c in clients))

    codes = sorted(r.status_code for r in responses)
    assert codes[0] == 204, responses
    assert codes[1] in (404, 409), responses  # gone from the visible set, or withdrawn meanwhile
    if codes[1] == 409:
        assert next(r for r in responses if r.status_code == 409).json()["code"] == (
            BLOCK_WITHDRAWN
        )
    block.refresh_from_db()
    assert block.withdrawn_at is not None
    assert AuditEvent.objects.filter(action="time_block.withdrawn").count() == 1
