"""Fixtures shared by the whole suite (a pytest plugin, loaded by the root conftest): role
users and clients with real JWTs, test isolation, the race and cache helpers."""

import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from core.throttles import CacheRateThrottle
from tests.support.clients import client_for
from tests.support.factories import (
    AdminFactory,
    DoctorFactory,
    PatientFactory,
    StaffFactory,
)


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests when the suite runs on SQLite."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _flush_may_truncate_the_audit_log():
    """After a transactional test Django flushes the test database with TRUNCATE, which the
    audit table's trigger refuses on PostgreSQL (audit migration 0003): the flush, and only
    the flush, lifts that trigger for its own transaction."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush
    trigger = "audit_auditevent {} TRIGGER audit_event_no_truncate"

    def sql_flush(self, style, tables, **kwargs):
        sql = original(self, style, tables, **kwargs)
        if not sql or "audit_auditevent" not in tables:
            return sql
        return [
            f"ALTER TABLE {trigger.format('DISABLE')}",
            *sql,
            f"ALTER TABLE {trigger.format('ENABLE')}",
        ]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    """A fast hasher, locmem mail, empty throttle counters and no public cache per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # No collectstatic in tests: the manifest storage of production would have no manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Public reads uncached unless a test asks for it (the public_cache fixture): a test's
    # transaction never commits, so the invalidations waiting for the commit never run.
    settings.PUBLIC_CACHE_SECONDS = 0
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _throttle_windows_start_with_the_test(monkeypatch):
    """Start each test at a day boundary of the throttles' clock.

    Throttle counters start again each minute, hour and day (core/throttles.py), so a test
    that counts up to a limit must not straddle a boundary. time_machine still moves this clock.
    """
    offset = time.time() % 86400
    monkeypatch.setattr(CacheRateThrottle, "timer", staticmethod(lambda: time.time() - offset))


@pytest.fixture
def lock_order_alone_suffices(caplog):
    """For race tests: the lock order itself prevents the deadlocks, so the retry safety net
    of core/locking.py never fires."""
    yield
    assert [r.getMessage() for r in caplog.records if r.name == "medappt.transactions"] == []


@pytest.fixture
def public_cache(settings):
    """Cache the public directory and availability, as production does with Redis.

    Invalidations run on commit: wrap writes in django_capture_on_commit_callbacks(execute=True).
    """
    settings.PUBLIC_CACHE_SECONDS = 10
    return settings


@pytest.fixture
def patient(db):
    return PatientFactory()


@pytest.fixture
def other_patient(db):
    return PatientFactory()


@pytest.fixture
def doctor(db):
    return DoctorFactory()


@pytest.fixture
def other_doctor(db):
    return DoctorFactory()


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def clinic_admin(db):
    return AdminFactory()


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def patient_client(patient):
    return client_for(patient)


@pytest.fixture
def doctor_client(doctor):
    return client_for(doctor)


@pytest.fixture
def staff_client(staff):
    return client_for(staff)


@pytest.fixture
def clinic_admin_client(clinic_admin):
    return client_for(clinic_admin)


@pytest.fixture
def role_clients(patient, doctor, staff, clinic_admin):
    """One client per role, keyed by the names the permission matrices use."""
    return {
        "anon": APIClient(),
        "patient": client_for(patient),
        "doctor": client_for(doctor),
        "staff": client_for(staff),
        "admin": client_for(clinic_admin),
    }
