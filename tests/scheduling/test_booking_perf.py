"""A booking's statements after issue #25, and what its shortcuts must leave unchanged: the
answer (built from the service's instance, no read-back) equals a fresh read, the outbox
row written in one statement carries its own seq, the Redis cache bump in one round trip
moves versions exactly as key-by-key bumps did."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.models import User
from audit.models import AuditEvent
from core import response_cache
from core.locking import constrained_write
from core.models import EmailMessage, OutboxEvent
from core.outbox import outbox_record
from scheduling.models import Appointment, TimeBlock
from tests.medappt.test_cache_backend import REDIS
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url
from tests.support.clients import client_for
from tests.support.factories import (
    DoctorFactory,
    PatientFactory,
    StaffFactory,
    TimeBlockFactory,
    UserFactory,
)

# The statements of a patient's booking in its own transaction (PostgreSQL), after the JWT's
# user and the named block: BEGIN, the doctor's KEY SHARE and the patient's FOR UPDATE (lock
# order step 1), the block FOR UPDATE with its doctor and profile (step 3), one read of the
# three booking rules, the hold FOR UPDATE (step 4), the appointment INSERT (no savepoint:
# the service's transaction is the outermost), its django-auditlog entry, the audit event,
# the outbox event (one statement), the two mails (one INSERT), COMMIT: 12. With the two
# reads before it, the request runs 14 statements; round 2 began at 21 (bench/README.md).
BOOKING_STATEMENTS_POSTGRESQL = 12


def _booking() -> tuple:
    doctor = DoctorFactory(profile__location="Room 4", profile__timezone="Europe/Madrid")
    return doctor, TimeBlockFactory(doctor=doctor)


@pytest.mark.django_db
def test_the_answer_of_a_booking_is_what_a_read_of_it_shows():
    _, block = _booking()
    patient = PatientFactory(first_name="Ana", last_name="Ruiz")
    client = client_for(patient)
    booked = client.post(APPOINTMENTS_URL, {"time_block": block.pk, "reason": "Cough"})
    assert booked.status_code == 201, booked.content
    read = client.get(appointment_url(booked.json()["id"]))
    assert read.status_code == 200
    assert booked.json() == read.json()
    assert list(booked.json()) == list(read.json())  # key order too
    assert booked.json()["doctor_location"] == "Room 4"
    assert booked.json()["patient_name"] == "Ana Ruiz"


@pytest.mark.django_db
def test_a_staff_booking_answers_like_a_read_and_audits_the_view_once():
    _, block = _booking()
    patient = PatientFactory()
    staff = client_for(StaffFactory())
    booked = staff.post(APPOINTMENTS_URL, {"time_block": block.pk, "patient": patient.pk})
    assert booked.status_code == 201, booked.content
    views = AuditEvent.objects.filter(action="patient_record.viewed", target_id=str(patient.pk))
    assert views.count() == 1
    assert booked.json() == staff.get(appointment_url(booked.json()["id"])).json()


@pytest.mark.django_db
def test_a_booking_for_a_doctor_without_profile_answers_like_a_read():
    doctor = UserFactory(role=User.Role.DOCTOR)  # no DoctorProfile row
    block = TimeBlockFactory(doctor=doctor)
    client = client_for(PatientFactory())
    booked = client.post(APPOINTMENTS_URL, {"time_block": block.pk})
    assert booked.status_code == 201, booked.content
    assert booked.json() == client.get(appointment_url(booked.json()["id"])).json()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_booking_runs_its_pinned_statements():
    doctor, first = _booking()
    block = TimeBlockFactory(doctor=doctor)
    client = client_for(PatientFactory())
    # A first booking warms the process's caches (django-auditlog's content type, which a
    # transactional test's flush clears), as any running server has.
    assert client.post(APPOINTMENTS_URL, {"time_block": first.pk}).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        booked = client.post(APPOINTMENTS_URL, {"time_block": block.pk})
    assert booked.status_code == 201, booked.content
    sql = [query["sql"] for query in queries.captured_queries]
    # The JWT's user, the named block, then the booking's transaction; after the COMMIT
    # only the mail and outbox jobs run here (in-process without a broker), no read-back.
    request = sql[: sql.index("COMMIT") + 1]
    assert not [s for s in request if "SAVEPOINT" in s], request
    assert len(request) == 2 + BOOKING_STATEMENTS_POSTGRESQL, "\n".join(request)
    appointment = Appointment.objects.get(pk=booked.json()["id"])
    assert EmailMessage.objects.filter(context__appointment_id=appointment.pk).count() == 2
    event = OutboxEvent.objects.latest("pk")
    assert event.payload["seq"] == event.pk
    assert event.payload["type"] == "appointment.booked"
    assert event.payload["data"]["appointment"]["id"] == appointment.pk


def _refused_write(block: TimeBlock) -> None:
    """A second block at the same start: the unique constraint refuses it."""
    with constrained_write():
        TimeBlock.objects.create(doctor=block.doctor, start=block.start, end=block.end)


@pytest.mark.django_db(transaction=True)
def test_a_refused_write_in_the_outermost_transaction_takes_no_savepoint_and_rolls_back():
    block = TimeBlockFactory()

    def outermost() -> None:
        with transaction.atomic():
            TimeBlockFactory(doctor=block.doctor)  # rolled back with the refused write
            _refused_write(block)

    with CaptureQueriesContext(connection) as queries, pytest.raises(IntegrityError):
        outermost()
    assert not [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
    assert TimeBlock.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_refused_write_of_a_nested_service_is_a_savepoint_the_service_goes_on_after():
    block = TimeBlockFactory()
    # The caller's transaction, then the nested service's.
    with transaction.atomic(), transaction.atomic():
        with pytest.raises(IntegrityError):
            _refused_write(block)
        TimeBlockFactory(doctor=block.doctor)  # usable: only the savepoint rolled back
    assert TimeBlock.objects.count() == 2


@pytest.mark.django_db
def test_outbox_events_carry_their_id_as_seq():
    first = outbox_record(type="appointment.booked", data={"appointment": {"id": 1}})
    second = outbox_record(type="appointment.cancelled", data={"previous_status": "pending"})
    for event in (first, second):
        stored = OutboxEvent.objects.get(pk=event.pk)
        assert stored.payload == event.payload
        assert stored.payload["seq"] == stored.pk
        assert set(stored.payload) == {"id", "seq", "type", "created", "data"}
        assert stored.payload["id"] == str(stored.event_id)
    assert second.pk > first.pk


@pytest.fixture
def redis_public_cache(settings):
    settings.PUBLIC_CACHE_SECONDS = 10
    with override_settings(CACHES=REDIS):
        cache = caches.create_connection("default")
        try:
            cache.delete(response_cache._version_key("availability:7"))
        except RedisConnectionError:
            pytest.skip("Redis is not reachable on 127.0.0.1:6379")
        yield cache
        cache.delete_many([response_cache._version_key(s) for s in ("availability:7", "x:1")])
        cache.close()


def test_a_redis_bump_moves_each_version_on_by_one_in_one_call(redis_public_cache):
    before = response_cache.versions(["availability:7", "x:1"])
    response_cache._bump_now(("availability:7", "x:1"))
    assert response_cache.versions(["availability:7", "x:1"]) == [v + 1 for v in before]
    client = redis_public_cache._cache.get_client(write=True)
    key = redis_public_cache.make_and_validate_key(response_cache._version_key("x:1"))
    assert 0 < client.ttl(key) <= response_cache.version_timeout()


def test_a_redis_bump_of_a_missing_version_makes_a_fresh_one(redis_public_cache):
    response_cache._bump_now(("availability:7",))
    first = response_cache.version("availability:7")
    assert first > 1  # random, not INCR's 1 from nothing
    response_cache._bump_now(("availability:7",))
    assert response_cache.version("availability:7") == first + 1
