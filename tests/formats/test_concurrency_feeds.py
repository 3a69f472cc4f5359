"""Races of calendar feed links on PostgreSQL: real threads, real transactions (STYLE.md
rule 24)."""

from __future__ import annotations

import pytest

from core.exceptions import FEED_LIMIT
from formats.models import CalendarFeedToken
from tests.support.clients import client_for
from tests.support.factories import PatientFactory
from tests.support.races import codes, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ten_feeds_made_at_once_stop_at_the_limit(settings):
    patient = PatientFactory()
    clients = [client_for(patient) for _ in range(10)]

    outcomes = race(
        *(
            (lambda c=c: c.post("/api/v1/calendar-feeds/", {"name": "x"}, format="json"))
            for c in clients
        )
    )

    limit = settings.CALENDAR_FEEDS_PER_USER
    assert codes(outcomes) == {(201, None): limit, (409, FEED_LIMIT): 10 - limit}
    assert CalendarFeedToken.objects.filter(user=patient, revoked_at__isnull=True).count() == limit
