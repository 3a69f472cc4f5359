"""PostgreSQL timestamps are parsed in C (core/db.py) and read back exactly as before."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

from core.db import TIMESTAMPTZ_OID, UTCTimestamptzLoader
from scheduling.models import Appointment
from tests.support.factories import AppointmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _select(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_new_connections_load_timestamps_with_the_c_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert loader is UTCTimestamptzLoader
    with connection.cursor() as cursor:  # Django's cursor keeps it: the time zones agree
        assert cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT) is UTCTimestamptzLoader


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-31 09:00:00+02", datetime.datetime(2030, 1, 31, 7, 0, tzinfo=datetime.UTC)),
        (
            "2030-06-30 23:59:59.123456-05:30",
            datetime.datetime(2030, 7, 1, 5, 29, 59, 123456, tzinfo=datetime.UTC),
        ),
        ("1999-12-31 23:00:00Z", datetime.datetime(1999, 12, 31, 23, 0, tzinfo=datetime.UTC)),
    ],
)
def test_timestamps_read_as_utc_instants(text, expected):
    value = _select(f"SELECT '{text}'::timestamptz")
    assert value == expected
    assert value.tzinfo is datetime.UTC
    assert value.isoformat() == expected.isoformat()


def test_null_timestamps_stay_none():
    assert _select("SELECT NULL::timestamptz") is None


def test_model_datetimes_are_what_djangos_own_loader_gives():
    appointment = AppointmentFactory()
    fast = Appointment.objects.get(pk=appointment.pk)
    register_tzloader(datetime.UTC, connection.connection)  # Django's default, in Python
    try:
        slow = Appointment.objects.get(pk=appointment.pk)
    finally:
        connection.connection.adapters.register_loader("timestamptz", UTCTimestamptzLoader)
    for field in ("start", "end", "created_at", "updated_at"):
        assert getattr(fast, field) == getattr(slow, field) == getattr(appointment, field)
        assert getattr(fast, field).tzinfo is datetime.UTC
