"""PostgreSQL timestamps parsed by psycopg's C loader.

Django's psycopg 3 backend registers its own `timestamptz` loader, a Python subclass of
psycopg's pure-Python one that parses the text and then sets the connection's time zone.
The C loader of psycopg[binary] cannot be subclassed, so every timestamp Django reads is
parsed in Python: two thirds of the CPU of loading a page of appointments (seven
timestamps a row). With USE_TZ and the session in UTC (Django's default), the C loader
gives the same aware datetimes, in `datetime.UTC`, so each new connection gets it.
"""

from __future__ import annotations

import datetime

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import Format

TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid


class UTCTimestamptzLoader(Loader):
    """psycopg's fastest text `timestamptz` loader, for a session whose TimeZone is UTC.

    `timezone` is what Django's cursor compares with the connection's before it registers
    its own loader again; `load` is the C loader's own method, set on each instance, so no
    Python frame runs per value.
    """

    timezone = datetime.UTC

    def __init__(self, oid: int, context=None) -> None:
        super().__init__(oid, context)
        fastest = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        self.load = fastest(oid, context).load

    def load(self, data):  # replaced per instance in __init__ (the ABC wants it defined)
        raise NotImplementedError


def use_c_timestamp_loader(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: UTC PostgreSQL sessions load timestamps in C."""
    if connection.vendor != "postgresql" or connection.timezone != datetime.UTC:
        return
    connection.connection.adapters.register_loader("timestamptz", UTCTimestamptzLoader)
