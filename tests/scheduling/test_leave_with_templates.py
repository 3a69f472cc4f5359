"""Where leave meets standing schedules and visit types (DESIGN-R2 R2-5, R2-8): templates never
fill a leave, cancelling a leave lets them fill it again, and resolving by reschedule keeps the
visit's type."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from scheduling.models import TimeBlock
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    DoctorVisitTypeFactory,
    TimeBlockFactory,
    VisitTypeFactory,
    in_days,
)

pytestmark = pytest.mark.django_db
TEMPLATES_URL = "/api/v1/availability-templates/"
LEAVES_URL = "/api/v1/leaves/"
ZONE = "America/Argentina/Buenos_Aires"  # UTC-3 all year: 09:00 local is 12:00Z
DAY = datetime.timedelta(days=1)


def iso_z(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def daily_template(days: int = 12) -> dict:
    today = timezone.localdate()
    return {
        "rrule": "FREQ=DAILY",
        "valid_from": (today + DAY).isoformat(),
        "valid_until": (today + days * DAY).isoformat(),
        "start_time": "09:00",
        "end_time": "10:00",
        "slot_minutes": 30,
        "timezone": ZONE,
    }


def leave_span() -> tuple[datetime.datetime, datetime.datetime]:
    start = in_days(4, hour=0)
    return start, start + 2 * DAY


def live_starts_between(doctor, start, end) -> list[datetime.datetime]:
    return list(
        TimeBlock.objects.filter(
            doctor=doctor, withdrawn_at__isnull=True, start__gte=start, start__lt=end
        )
        .order_by("start")
        .values_list("start", flat=True)
    )


def available_ids(client, doctor) -> set[int]:
    response = client.get(f"/api/v1/doctors/{doctor.pk}/availability/?page_size=100")
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_a_template_made_during_a_leave_leaves_it_empty_and_its_preview_agrees(
    doctor, doctor_client
):
    start, end = leave_span()
    leave = doctor_client.post(
        LEAVES_URL, {"start": iso_z(start), "end": iso_z(end), "category": "vacation"}
    )
    assert leave.status_code == 201, leave.json()

    preview = doctor_client.post(f"{TEMPLATES_URL}preview/", daily_template(), format="json")
    created = doctor_client.post(TEMPLATES_URL, daily_template(), format="json")

    assert created.status_code == 201, created.json()
    assert live_starts_between(doctor, start, end) == []
    assert created.json()["created"] == preview.json()["count"] == 20  # 12 days, 2 in leave
    assert not any(start <= _parse(s["start"]) < end for s in preview.json()["slots"])


def test_the_daily_job_skips_a_leave_and_cancelling_it_fills_the_span_again(
    doctor, doctor_client, anon_client
):
    assert doctor_client.post(TEMPLATES_URL, daily_template(), format="json").status_code == 201
    start, end = leave_span()
    before = live_starts_between(doctor, start, end)
    assert len(before) == 4  # two days, two half-hour slots each

    leave = doctor_client.post(
        LEAVES_URL, {"start": iso_z(start), "end": iso_z(end), "category": "sick"}
    ).json()
    assert leave["removed_blocks"] == 4
    call_command("materialize_availability", stdout=StringIO())
    assert live_starts_between(doctor, start, end) == []

    response = doctor_client.delete(f"{LEAVES_URL}{leave['leave']['id']}/")

    assert response.status_code in (200, 204)
    assert live_starts_between(doctor, start, end) == before
    refilled = set(
        TimeBlock.objects.filter(
            doctor=doctor, withdrawn_at__isnull=True, start__gte=start, start__lt=end
        ).values_list("pk", flat=True)
    )
    assert refilled <= available_ids(anon_client, doctor)


def test_cancelling_a_closure_refills_every_doctor_with_a_template(
    doctor, doctor_client, other_doctor, clinic_admin_client
):
    assert doctor_client.post(TEMPLATES_URL, daily_template(), format="json").status_code == 201
    start, end = leave_span()
    closure = clinic_admin_client.post(
        LEAVES_URL,
        {"doctor": None, "start": iso_z(start), "end": iso_z(end), "category": "holiday"},
        format="json",
    ).json()
    assert live_starts_between(doctor, start, end) == []

    response = clinic_admin_client.delete(f"{LEAVES_URL}{closure['leave']['id']}/")

    assert response.status_code in (200, 204)
    assert len(live_starts_between(doctor, start, end)) == 4
    assert live_starts_between(other_doctor, start, end) == []  # no template, nothing made


def test_resolve_reschedule_moves_a_visit_to_a_block_of_its_own_type(doctor, doctor_client):
    follow_up = VisitTypeFactory(slug="follow-up", duration_minutes=30)
    DoctorVisitTypeFactory(doctor=doctor, visit_type=follow_up)
    base = in_days(4, hour=9)
    appointment = ConfirmedAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=base, visit_type=follow_up),
        visit_type=follow_up,
    )
    # After the leave: an earlier general block of the same length, then one of the type.
    TimeBlockFactory(doctor=doctor, start=base + 25 * datetime.timedelta(hours=1))
    tagged = TimeBlockFactory(
        doctor=doctor, start=base + 27 * datetime.timedelta(hours=1), visit_type=follow_up
    )
    leave = doctor_client.post(
        LEAVES_URL,
        {"start": iso_z(base), "end": iso_z(base + DAY), "category": "training"},
    ).json()

    response = doctor_client.post(
        f"{LEAVES_URL}{leave['leave']['id']}/resolve/", {"action": "reschedule"}
    )

    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["rescheduled"]] == [appointment.pk]
    appointment.refresh_from_db()
    assert (appointment.time_block_id, appointment.visit_type_id) == (tagged.pk, follow_up.pk)


def _parse(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
