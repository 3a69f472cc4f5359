"""The seal chain: audit_seal, audit_verify, tampering, truncation and concurrent sealers."""

from __future__ import annotations

import datetime
import io
import re
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit import sealing, services
from audit.models import AuditEvent
from audit.services import audit_record
from core.context import RequestContext, reset_context, set_context
from tests.audit.helpers import (
    append_only_trigger_disabled,
    expected_canonical,
    expected_hash,
    raw_sql,
)

HEX64 = re.compile(r"[0-9a-f]{64}")
THREAD_TIMEOUT = 30


def record(count: int, action: str = "test.event") -> list[AuditEvent]:
    return [audit_record(action=action, actor=None, data={"n": n}) for n in range(count)]


def seal() -> str:
    out = io.StringIO()
    call_command("audit_seal", stdout=out)
    return out.getvalue()


def verify(*args: str) -> str:
    out = io.StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def head_of(output: str) -> str:
    match = re.search(r"(\d+):([0-9a-f]{64})", output)
    assert match, output
    return match.group(0)


def assert_one_intact_chain(expected_length: int) -> None:
    """seq 1..n without gaps, prev_hash links, and hashes recomputed from the canonical form."""
    chain = list(AuditEvent.objects.filter(seq__isnull=False).order_by("seq"))
    assert [event.seq for event in chain] == list(range(1, expected_length + 1))
    prev_hash = ""
    for event in chain:
        assert event.prev_hash == prev_hash
        assert HEX64.fullmatch(event.hash)
        assert event.hash == expected_hash(prev_hash, event)
        prev_hash = event.hash
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()


# ---------------------------------------------------------------------------
# Sealing
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_sealing_in_several_runs_continues_one_chain_in_id_order():
    first = record(3)
    services.audit_seal()
    second = record(2)
    services.audit_seal()

    assert_one_intact_chain(5)
    by_seq = list(AuditEvent.objects.filter(seq__isnull=False).order_by("seq"))
    assert [event.pk for event in by_seq] == [event.pk for event in first + second]


@pytest.mark.django_db
def test_hash_covers_request_context_non_ascii_text_and_exact_microseconds():
    token = set_context(
        RequestContext(ip="2001:db8::7", user_agent="Navigateur Zoë/1.0", request_id="req-7.a")
    )
    try:
        with time_machine.travel(
            datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), tick=False
        ):
            on_the_second = audit_record(action="test.event", data={"city": "Kraków"})
        with time_machine.travel(
            datetime.datetime(2030, 1, 2, 3, 4, 5, 67, tzinfo=datetime.UTC), tick=False
        ):
            with_micros = audit_record(action="test.event", data={"name": "Ærø"})
    finally:
        reset_context(token)

    services.audit_seal()

    assert_one_intact_chain(2)
    first = AuditEvent.objects.get(pk=on_the_second.pk)
    second = AuditEvent.objects.get(pk=with_micros.pk)
    assert '"at":"2030-01-02T03:04:05.000000Z"' in expected_canonical(first)
    assert '"at":"2030-01-02T03:04:05.000067Z"' in expected_canonical(second)
    assert '"city":"Kraków"' in expected_canonical(first)  # ensure_ascii=False
    assert first.ip == "2001:db8::7"


@pytest.mark.django_db
def test_audit_seal_prints_the_head_it_sealed_to():
    record(4)

    output = seal()

    head = AuditEvent.objects.get(seq=4)
    assert head_of(output) == f"4:{head.hash}"
    assert "sealed 4 events" in output


@pytest.mark.django_db
def test_audit_seal_with_nothing_new_keeps_the_head():
    record(2)
    first = seal()

    again = seal()

    assert head_of(again) == head_of(first)
    assert "sealed 0 events" in again


@pytest.mark.django_db
def test_audit_verify_passes_on_an_intact_chain_and_seals_pending_events_first():
    record(3)
    seal()
    record(2)  # not sealed yet: verify seals them first

    output = verify()

    assert "intact" in output
    assert_one_intact_chain(5)
    assert head_of(output) == f"5:{AuditEvent.objects.get(seq=5).hash}"


@pytest.mark.django_db
def test_audit_verify_passes_on_an_empty_log():
    assert "intact" in verify()


# ---------------------------------------------------------------------------
# Tampering
# ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "user.promoted"),
        ("actor_label", "someone.else@example.com"),
        ("target_id", "999"),
        ("hash", "0" * 64),
    ],
)
def test_a_sealed_row_changed_through_sql_fails_verification_naming_its_seq(column, value):
    record(4)
    seal()
    victim = AuditEvent.objects.get(seq=2)

    with append_only_trigger_disabled():
        # The column comes from the parametrize list above, never from input.
        sql = f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s"  # noqa: S608
        changed = raw_sql(sql, [value, victim.pk])
    assert changed == 1

    with pytest.raises(CommandError, match="FAILED") as failure:
        verify()
    assert "seq 2" in str(failure.value)
    assert f"id {victim.pk}" in str(failure.value)
    assert failure.value.returncode != 0


@pytest.mark.django_db
def test_a_deleted_sealed_row_fails_verification_naming_the_gap_and_the_next_event():
    record(5)
    seal()
    deleted, after = AuditEvent.objects.get(seq=3), AuditEvent.objects.get(seq=4)

    with append_only_trigger_disabled():
        assert raw_sql("DELETE FROM audit_auditevent WHERE id = %s", [deleted.pk]) == 1

    with pytest.raises(CommandError) as failure:
        verify()
    assert "seq 3" in str(failure.value)
    assert f"id {after.pk}" in str(failure.value)


@pytest.mark.django_db
def test_truncating_the_newest_events_is_caught_by_the_expected_head():
    record(5)
    head = head_of(seal())

    with append_only_trigger_disabled():
        assert raw_sql("DELETE FROM audit_auditevent WHERE seq >= 4") == 2

    # What is left is a consistent chain: only the head kept elsewhere can tell.
    assert "intact" in verify()
    with pytest.raises(CommandError, match="ends at seq 3"):
        verify("--expect-head", head)


@pytest.mark.django_db
def test_truncation_refilled_with_new_events_is_caught_by_the_expected_head():
    record(5)
    head = head_of(seal())
    with append_only_trigger_disabled():
        raw_sql("DELETE FROM audit_auditevent WHERE seq >= 4")
    record(3)  # sealed by verify into seq 4..6: seq 5 now holds another event

    with pytest.raises(CommandError, match="seq 5"):
        verify("--expect-head", head)


@pytest.mark.django_db
def test_an_older_head_keeps_passing_as_the_chain_grows():
    record(3)
    old_head = head_of(seal())
    record(4)
    current_head = head_of(seal())
    record(1)

    assert "intact" in verify("--expect-head", old_head)
    assert "intact" in verify("--expect-head", current_head)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "3",
        "3:",
        "head",
        "x:" + "a" * 64,
        "3:" + "A" * 64,
        "3:" + "a" * 63,
        "-3:" + "a" * 64,
        "3:" + "a" * 64 + ":more",
    ],
)
def test_a_malformed_expected_head_is_a_command_error(malformed):
    record(3)
    seal()

    with pytest.raises(CommandError, match="SEQ:HASH"):
        verify(f"--expect-head={malformed}")


# ---------------------------------------------------------------------------
# PostgreSQL concurrency: real connections, real commits
# ---------------------------------------------------------------------------
def run_in_thread(target, *args) -> tuple[threading.Thread, list[BaseException]]:
    """Run target on its own database connection; exceptions are collected, not lost."""
    errors: list[BaseException] = []

    def body() -> None:
        try:
            target(*args)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=body)
    thread.start()
    return thread, errors


def join(thread: threading.Thread, errors: list[BaseException]) -> None:
    thread.join(THREAD_TIMEOUT)
    assert not thread.is_alive(), "thread did not finish"
    assert not errors, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_events_committed_out_of_id_order_are_all_sealed_and_the_chain_verifies():
    inserted, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with transaction.atomic():
            audit_record(action="test.slow", actor=None)
            inserted.set()
            assert release.wait(THREAD_TIMEOUT)

    thread, errors = run_in_thread(slow_writer)
    assert inserted.wait(THREAD_TIMEOUT)
    fast = audit_record(action="test.fast", actor=None)  # autocommit: a later id, committed first
    services.audit_seal()

    assert AuditEvent.objects.get(pk=fast.pk).seq == 1
    assert not AuditEvent.objects.filter(action="test.slow").exists()  # not committed yet

    release.set()
    join(thread, errors)
    services.audit_seal()

    slow = AuditEvent.objects.get(action="test.slow")
    assert slow.pk < fast.pk
    assert slow.seq == 2
    assert_one_intact_chain(2)
    assert "intact" in verify()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sealers_at_once_build_one_chain_without_gaps_or_duplicates(monkeypatch):
    AuditEvent.objects.bulk_create(
        [AuditEvent(action="test.bulk", actor_role="system", data={"n": n}) for n in range(200)]
    )
    # Small batches, so the two sealers take turns many times instead of one doing it all.
    monkeypatch.setattr(sealing, "SEAL_BATCH", 25)
    barrier = threading.Barrier(2)
    sealed: list[int] = []

    def sealer() -> None:
        barrier.wait(THREAD_TIMEOUT)
        count, _head = services.audit_seal()
        sealed.append(count)

    runs = [run_in_thread(sealer) for _ in range(2)]
    for thread, errors in runs:
        join(thread, errors)

    assert sum(sealed) == 200
    assert_one_intact_chain(200)
    by_seq = list(AuditEvent.objects.order_by("seq").values_list("id", flat=True))
    assert by_seq == sorted(by_seq)
    assert "intact" in verify()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_writer_is_not_blocked_while_another_connection_holds_the_seal_lock():
    locked, release = threading.Event(), threading.Event()

    def lock_holder() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [sealing.SEAL_LOCK_KEY])
            locked.set()
            assert release.wait(THREAD_TIMEOUT)
            cursor.execute("SELECT pg_advisory_unlock(%s)", [sealing.SEAL_LOCK_KEY])

    thread, errors = run_in_thread(lock_holder)
    assert locked.wait(THREAD_TIMEOUT)
    try:
        with transaction.atomic():
            # A writer that waited for the lock would fail here instead of hanging the suite.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = '5s'")
            event = audit_record(action="test.while_locked", actor=None)
    finally:
        release.set()
        join(thread, errors)

    assert AuditEvent.objects.filter(pk=event.pk, seq__isnull=True).exists()  # committed
    services.audit_seal()
    assert_one_intact_chain(1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_writer_is_not_blocked_by_a_sealer_in_the_middle_of_a_batch(monkeypatch):
    record(3)
    hashing, release = threading.Event(), threading.Event()
    real_chain_hash = sealing.chain_hash

    def paused_chain_hash(prev_hash: str, event: AuditEvent) -> str:
        if event.seq == 2:  # seq 1 is already written: the sealer holds its lock and a row
            hashing.set()
            assert release.wait(THREAD_TIMEOUT)
        return real_chain_hash(prev_hash, event)

    monkeypatch.setattr(sealing, "chain_hash", paused_chain_hash)
    thread, errors = run_in_thread(services.audit_seal)
    assert hashing.wait(THREAD_TIMEOUT)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = '5s'")
            late = audit_record(action="test.during_seal", actor=None)
    finally:
        release.set()
        join(thread, errors)

    monkeypatch.setattr(sealing, "chain_hash", real_chain_hash)
    assert AuditEvent.objects.get(pk=late.pk).seq is None  # after the sealer's snapshot
    services.audit_seal()
    assert_one_intact_chain(4)
