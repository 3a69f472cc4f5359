"""Standing schedules in the console: the desk previews, saves and edits templates and adds
exceptions, through the services (the same plan as the API)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from scheduling.models import AvailabilityException, AvailabilityTemplate, TimeBlock

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
PREVIEW = reverse("admin:scheduling_availabilitytemplate_preview")
ADD = reverse("admin:scheduling_availabilitytemplate_add")


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def frozen(settings):
    settings.AVAILABILITY_HORIZON_DAYS = 90
    with time_machine.travel(datetime.datetime(2031, 2, 20, 12, tzinfo=UTC), tick=False):
        yield


def form(doctor, **extra) -> dict:
    return {
        "doctor": doctor.pk,
        "rrule": "FREQ=WEEKLY;BYDAY=MO,WE",
        "valid_from": "2031-03-01",
        "valid_until": "2031-03-31",
        "start_time": "09:00",
        "end_time": "12:00",
        "slot_minutes": 30,
        "visit_type": "",
        "timezone": "Europe/Madrid",
        "active": "on",
        **extra,
    }


def test_the_desk_previews_then_saves_a_template(frozen, staff, doctor):
    client = console(staff)

    preview = client.post(PREVIEW, {**form(doctor), "_preview": ""})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "54 blocks would be created" in page
    assert not TimeBlock.objects.exists()

    saved = client.post(ADD, form(doctor))
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert TimeBlock.objects.filter(doctor=doctor).count() == 54
    assert AuditEvent.objects.filter(action="availability_template.created").count() == 1


def test_a_bad_rule_in_the_console_is_a_message(frozen, staff, doctor):
    client = console(staff)

    preview = client.post(PREVIEW, {**form(doctor, rrule="FREQ=WEEKLY;COUNT=2"), "_preview": ""})
    saved = client.post(ADD, form(doctor, rrule="FREQ=WEEKLY;COUNT=2"), follow=True)

    assert "COUNT is not allowed" in preview.content.decode()
    assert "COUNT is not allowed" in saved.content.decode()
    assert not AvailabilityTemplate.objects.exists()


def test_the_desk_closes_a_day_and_edits_the_hours(frozen, staff, doctor):
    client = console(staff)
    client.post(ADD, form(doctor))
    template = AvailabilityTemplate.objects.get()

    added = client.post(
        reverse("admin:scheduling_availabilityexception_add"),
        {"template": template.pk, "date": "2031-03-03", "kind": "closed"},
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    assert AvailabilityException.objects.count() == 1
    assert TimeBlock.objects.count() == 48

    change = reverse("admin:scheduling_availabilitytemplate_change", args=[template.pk])
    edited = client.post(change, form(doctor, end_time="11:00"))
    assert edited.status_code == 302
    assert TimeBlock.objects.count() == 8 * 4
