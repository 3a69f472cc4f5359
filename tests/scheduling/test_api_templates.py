"""Standing schedules (DESIGN-R2 R2-5, templates half): acceptance (1)-(5) with DST in
Europe/Madrid and none in America/Argentina/Buenos_Aires, exceptions, edits that keep used
blocks, the daily job, permissions and the field history of bulk writes."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core.management import call_command

from audit.models import AuditEvent
from scheduling.models import AvailabilityTemplate, TimeBlock
from tests.support.clients import client_for
from tests.support.factories import (
    DoctorFactory,
    DoctorVisitTypeFactory,
    PatientFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/availability-templates/"
PREVIEW_URL = f"{URL}preview/"
MADRID = "Europe/Madrid"
UTC = datetime.UTC


def z(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def travel(moment: datetime.datetime):
    return time_machine.travel(moment, tick=False)


def template_body(**extra) -> dict:
    return {
        "rrule": "FREQ=WEEKLY;BYDAY=MO,WE",
        "valid_from": "2031-03-01",
        "valid_until": "2031-03-31",
        "start_time": "09:00",
        "end_time": "12:00",
        "slot_minutes": 30,
        "timezone": MADRID,
        **extra,
    }


def starts(doctor) -> list[datetime.datetime]:
    return list(
        TimeBlock.objects.filter(doctor=doctor, withdrawn_at__isnull=True)
        .order_by("start")
        .values_list("start", flat=True)
    )


@pytest.fixture
def horizon(settings):
    settings.AVAILABILITY_HORIZON_DAYS = 90


# ---------------------------------------------------------------------------
# (1), (2), (5) Weekly in Madrid across the March change; reruns; preview = materialised
# ---------------------------------------------------------------------------
def test_weekly_madrid_template_keeps_local_time_across_dst(horizon, doctor):
    with travel(utc(2031, 2, 20, 12)):
        client = client_for(doctor)
        preview = client.post(PREVIEW_URL, template_body(), format="json")
        response = client.post(URL, template_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["removed"], body["kept_booked"]) == (54, 0, 0)
    assert body["template"]["rrule"] == "FREQ=WEEKLY;BYDAY=MO,WE"
    assert body["template"]["timezone"] == MADRID
    blocks = starts(doctor)
    # Mondays and Wednesdays of March 2031: 9 days x 6 slots; 09:00 local each day.
    assert len(blocks) == 54
    firsts = sorted({b for b in blocks if b.astimezone(UTC).minute == 0 and b.hour in (7, 8)})
    assert blocks[0] == utc(2031, 3, 3, 8)  # CET: 09:00 local is 08:00Z
    assert utc(2031, 3, 26, 8) in firsts  # the last Wednesday before the change
    assert blocks[-6] == utc(2031, 3, 31, 7)  # CEST after 30 March: 07:00Z
    assert {b.end - b.start for b in TimeBlock.objects.all()} == {datetime.timedelta(minutes=30)}
    assert set(TimeBlock.objects.values_list("source", flat=True)) == {"template"}
    # (5) The preview showed exactly these.
    assert preview.status_code == 200, preview.content
    assert preview.json()["count"] == 54
    assert [s["start"] for s in preview.json()["slots"]] == [z(b) for b in blocks]


def test_an_identical_second_template_and_the_daily_job_create_nothing(horizon, doctor):
    with travel(utc(2031, 2, 20, 12)):
        client = client_for(doctor)
        first = client.post(URL, template_body(), format="json")
        second = client.post(URL, template_body(), format="json")
        out = StringIO()
        call_command("materialize_availability", stdout=out)
        call_command("materialize_availability", stdout=out)

    assert first.json()["created"] == 54
    assert second.status_code == 201
    assert second.json()["created"] == 0
    assert TimeBlock.objects.count() == 54
    assert "0 blocks created for 1 doctors" in out.getvalue()


def test_the_daily_job_fills_the_moving_horizon(settings, doctor):
    settings.AVAILABILITY_HORIZON_DAYS = 7
    body = template_body(rrule="FREQ=DAILY", valid_until="2031-03-20", timezone="UTC")
    with travel(utc(2031, 2, 28, 12)):
        response = client_for(doctor).post(URL, body, format="json")
    assert response.json()["created"] == 7 * 6  # 1 to 7 March (the horizon ends 7 March 12:00Z)

    with travel(utc(2031, 3, 5, 12)):
        call_command("materialize_availability", stdout=StringIO())

    assert TimeBlock.objects.count() == 12 * 6  # then to 12 March
    event = AuditEvent.objects.filter(action="time_block.bulk_created").get()
    assert event.data["created"] == 30
    assert event.data["source"] == "template"
    assert event.actor_role == "system"
    # (R2-0) No per-block field history for materialised blocks.
    assert LogEntry.objects.get_for_model(TimeBlock).count() == 0


# ---------------------------------------------------------------------------
# (3) The RRULE subset and the zone
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rrule", "timezone"),
    [
        ("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", MADRID),
        ("FREQ=WEEKLY;COUNT=3", MADRID),
        ("FREQ=WEEKLY;UNTIL=20310401T000000Z", MADRID),
        ("FREQ=SECONDLY", MADRID),
        ("FREQ=WEEKLY;DTSTART=20310101T000000", MADRID),
        ("FREQ=WEEKLY;BYDAY=XX", MADRID),
        ("FREQ=WEEKLY;FREQ=DAILY", MADRID),
        ("BYDAY=MO", MADRID),
        ("FREQ=WEEKLY;INTERVAL=0", MADRID),
        ("FREQ=WEEKLY", "Mars/Olympus_Mons"),
    ],
)
def test_rules_outside_the_subset_and_bad_zones_are_400(horizon, doctor, rrule, timezone):
    with travel(utc(2031, 2, 20, 12)):
        client = client_for(doctor)
        body = template_body(rrule=rrule, timezone=timezone)
        created = client.post(URL, body, format="json")
        previewed = client.post(PREVIEW_URL, body, format="json")

    assert created.status_code == previewed.status_code == 400, created.content
    field = "timezone" if timezone != MADRID else "rrule"
    assert field in created.json()
    assert not AvailabilityTemplate.objects.exists()
    assert not TimeBlock.objects.exists()


def test_too_many_slots_is_400(horizon, settings, doctor):
    settings.TEMPLATE_MAX_SLOTS = 10
    with travel(utc(2031, 2, 20, 12)):
        response = client_for(doctor).post(URL, template_body(), format="json")

    assert response.status_code == 400
    assert not AvailabilityTemplate.objects.exists()


def test_a_validity_over_366_days_is_400(horizon, doctor):
    with travel(utc(2031, 2, 20, 12)):
        response = client_for(doctor).post(
            URL, template_body(valid_until="2032-03-02"), format="json"
        )

    assert response.status_code == 400
    assert "valid_until" in response.json()


# ---------------------------------------------------------------------------
# (4) DST edges in Madrid; Buenos Aires has none
# ---------------------------------------------------------------------------
def test_spring_forward_gap_keeps_only_the_real_slot(horizon, doctor):
    body = template_body(
        rrule="FREQ=DAILY",
        valid_from="2031-03-30",
        valid_until="2031-03-30",
        start_time="02:00",
        end_time="03:30",
    )
    with travel(utc(2031, 3, 1, 12)):
        client = client_for(doctor)
        preview = client.post(PREVIEW_URL, body, format="json").json()
        response = client.post(URL, body, format="json")

    assert response.json()["created"] == 1
    # 03:00 CEST is 01:00Z; 02:00 and 02:30 do not exist that night.
    assert starts(doctor) == [utc(2031, 3, 30, 1)]
    assert preview == {
        "count": 1,
        "slots": [{"start": "2031-03-30T01:00:00Z", "end": "2031-03-30T01:30:00Z"}],
    }


def test_fall_back_ambiguous_hour_takes_its_first_occurrence(horizon, doctor):
    body = template_body(
        rrule="FREQ=DAILY",
        valid_from="2031-10-26",
        valid_until="2031-10-26",
        start_time="02:00",
        end_time="03:00",
        slot_minutes=60,
    )
    with travel(utc(2031, 10, 1, 12)):
        response = client_for(doctor).post(URL, body, format="json")

    assert response.json()["created"] == 1
    [block] = TimeBlock.objects.all()
    # 02:00 +02:00 (fold=0) is 00:00Z, one hour long.
    assert (block.start, block.end) == (utc(2031, 10, 26, 0), utc(2031, 10, 26, 1))


def test_buenos_aires_has_no_dst(horizon, doctor):
    body = template_body(
        rrule="FREQ=WEEKLY;BYDAY=MO", timezone="America/Argentina/Buenos_Aires", end_time="09:30"
    )
    with travel(utc(2031, 2, 20, 12)):
        client_for(doctor).post(URL, body, format="json")

    # 09:00 at -03:00 is 12:00Z every Monday of March.
    assert starts(doctor) == [utc(2031, 3, day, 12) for day in (3, 10, 17, 24, 31)]


# ---------------------------------------------------------------------------
# Exceptions, edits, deletion
# ---------------------------------------------------------------------------
def make(doctor, **extra) -> dict:
    response = client_for(doctor).post(URL, template_body(**extra), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_exceptions_close_a_day_and_change_its_hours(horizon, doctor):
    with travel(utc(2031, 2, 20, 12)):
        client = client_for(doctor)
        template = make(doctor)["template"]
        exceptions = f"{URL}{template['id']}/exceptions/"
        closed = client.post(exceptions, {"date": "2031-03-03", "kind": "closed"}, format="json")
        custom = client.post(
            exceptions,
            {"date": "2031-03-05", "kind": "custom", "start_time": "15:00", "end_time": "16:00"},
            format="json",
        )
        duplicate = client.post(exceptions, {"date": "2031-03-03", "kind": "closed"})
        bad = client.post(exceptions, {"date": "2031-03-10", "kind": "custom"}, format="json")
        listed = client.get(exceptions).json()["results"]

    assert closed.status_code == custom.status_code == 201, closed.content
    assert closed.json()["kind"] == "closed"
    assert custom.json()["start_time"] == "15:00"
    assert duplicate.status_code == bad.status_code == 400
    assert [e["date"] for e in listed] == ["2031-03-03", "2031-03-05"]
    days = {}
    for start in starts(doctor):
        days.setdefault(start.date(), []).append(start)
    assert datetime.date(2031, 3, 3) not in days
    assert days[datetime.date(2031, 3, 5)] == [utc(2031, 3, 5, 14), utc(2031, 3, 5, 14, 30)]
    assert len(starts(doctor)) == 54 - 6 - 6 + 2

    with travel(utc(2031, 2, 20, 12)):
        removed = client_for(doctor).delete(f"{exceptions}{closed.json()['id']}/")
    assert removed.status_code == 204
    assert len(starts(doctor)) == 54 - 6 + 2


def test_an_edit_regenerates_only_never_used_free_blocks(horizon, doctor):
    with travel(utc(2031, 2, 20, 12)):
        template = make(doctor)["template"]
        booked = TimeBlock.objects.get(start=utc(2031, 3, 3, 8))
        PendingAppointmentFactory(time_block=booked, patient=PatientFactory())
        early = TimeBlock.objects.filter(
            start__gte=utc(2031, 3, 5), start__lt=utc(2031, 3, 5, 10)
        ).values_list("pk", flat=True)
        kept_ids = sorted(early)
        response = client_for(doctor).patch(
            f"{URL}{template['id']}/", {"end_time": "11:00"}, format="json"
        )

    assert response.status_code == 200, response.content
    body = response.json()
    # The 11:00 and 11:30 slots of the 8 other days go; the booked block stays.
    assert (body["created"], body["removed"], body["kept_booked"]) == (0, 9 * 2, 1)
    assert TimeBlock.objects.filter(pk=booked.pk).exists()
    # Unchanged slots keep their blocks (and ids): 09:00 to 10:30 local, 08:00Z to 09:30Z.
    day = TimeBlock.objects.filter(start__gte=utc(2031, 3, 5), start__lt=utc(2031, 3, 6))
    assert len(kept_ids) == 4
    assert sorted(day.values_list("pk", flat=True)) == kept_ids


def test_deleting_a_template_removes_its_free_blocks_and_keeps_used_ones(horizon, doctor):
    with travel(utc(2031, 2, 20, 12)):
        template = make(doctor)["template"]
        booked = TimeBlock.objects.get(start=utc(2031, 3, 3, 8))
        PendingAppointmentFactory(time_block=booked, patient=PatientFactory())
        response = client_for(doctor).delete(f"{URL}{template['id']}/")

    assert response.status_code == 204
    assert list(TimeBlock.objects.values_list("pk", flat=True)) == [booked.pk]
    booked.refresh_from_db()
    assert booked.template_id is None
    assert not AvailabilityTemplate.objects.exists()
    event = AuditEvent.objects.get(action="availability_template.deleted")
    assert (event.data["removed"], event.data["kept_booked"]) == (53, 1)
    assert (
        LogEntry.objects.get_for_model(TimeBlock).filter(action=LogEntry.Action.DELETE).count() == 0
    )


def test_deactivating_removes_free_blocks(horizon, doctor):
    with travel(utc(2031, 2, 20, 12)):
        template = make(doctor)["template"]
        response = client_for(doctor).patch(
            f"{URL}{template['id']}/", {"active": False}, format="json"
        )

    assert response.json()["removed"] == 54
    assert response.json()["template"]["active"] is False
    assert not TimeBlock.objects.exists()


def test_templates_skip_slots_overlapping_other_blocks(horizon, doctor):
    with travel(utc(2031, 2, 20, 12)):
        TimeBlockFactory(doctor=doctor, start=utc(2031, 3, 3, 8, 15), end=utc(2031, 3, 3, 8, 45))
        body = make(doctor)

    assert body["created"] == 52  # 08:00 and 08:30 overlap the manual block


def test_a_tagged_template_lasts_the_types_duration(horizon, doctor):
    offer = DoctorVisitTypeFactory(doctor=doctor, visit_type__duration_minutes=20)
    with travel(utc(2031, 2, 20, 12)):
        client = client_for(doctor)
        wrong = client.post(
            URL, template_body(visit_type=offer.visit_type.pk, slot_minutes=30), format="json"
        )
        body = client.post(
            URL,
            template_body(visit_type=offer.visit_type.pk, slot_minutes=None, end_time="10:00"),
            format="json",
        )

    assert wrong.status_code == 400
    assert "slot_minutes" in wrong.json()
    assert body.status_code == 201, body.content
    assert body.json()["template"]["slot_minutes"] == 20
    assert body.json()["created"] == 9 * 3
    assert set(TimeBlock.objects.values_list("visit_type_id", flat=True)) == {offer.visit_type.pk}


# ---------------------------------------------------------------------------
# Who may do what
# ---------------------------------------------------------------------------
def test_staff_names_the_doctor_and_patients_are_refused(horizon, doctor, staff):
    with travel(utc(2031, 2, 20, 12)):
        nameless = client_for(staff).post(URL, template_body(), format="json")
        named = client_for(staff).post(URL, template_body(doctor=doctor.pk), format="json")
        patient = client_for(PatientFactory()).post(URL, template_body(), format="json")
        other = client_for(DoctorFactory())
        hidden = other.get(f"{URL}{named.json()['template']['id']}/")
        listed = other.get(URL).json()["results"]

    assert nameless.status_code == 400
    assert named.status_code == 201
    assert patient.status_code == 403
    assert hidden.status_code == 404
    assert listed == []


def test_template_list_queries_stay_flat(horizon, doctor, django_assert_max_num_queries):
    with travel(utc(2031, 2, 20, 12)):
        client = client_for(doctor)
        for month in range(3, 6):
            body = template_body(valid_from=f"2031-0{month}-01", valid_until=f"2031-0{month}-28")
            client.post(URL, body, format="json")
        with django_assert_max_num_queries(2):  # the caller, the page
            assert len(client.get(URL).json()["results"]) == 3


def test_template_writes_reach_the_cached_availability(
    horizon, public_cache, doctor, anon_client, django_capture_on_commit_callbacks
):
    url = f"/api/v1/doctors/{doctor.pk}/availability/"
    window = {"from": "2031-03-01T00:00:00Z", "to": "2031-03-08T00:00:00Z"}
    with travel(utc(2031, 2, 20, 12)):
        assert anon_client.get(url, window).json()["results"] == []
        with django_capture_on_commit_callbacks(execute=True):
            make(doctor)
        listed = anon_client.get(url, window).json()["results"]

    assert len(listed) == 12  # Monday 3 and Wednesday 5 March
