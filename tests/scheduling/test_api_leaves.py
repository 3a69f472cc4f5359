"""Leave and clinic closures: leaves/ (preview, create, cancel, resolve) and what an active
leave does to blocks, booking, holds, availability and the waitlist (DESIGN-R2 §R2-5,
acceptance (6)-(8))."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from core.exceptions import DOCTOR_ON_LEAVE, ILLEGAL_TRANSITION, LEAVE_OVERLAP
from scheduling.models import (
    Appointment,
    Leave,
    SlotHold,
    TimeBlock,
    WaitlistEntry,
    WaitlistOffer,
)
from scheduling.services import waitlist_process_block
from tests.scheduling.appointment_helpers import (
    APPOINTMENTS_URL,
    appointment_url,
    audit_rows,
    iso_z,
)
from tests.support.clients import client_for
from tests.support.factories import (
    AdminFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    TimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db
LEAVES_URL = "/api/v1/leaves/"
HOUR = datetime.timedelta(hours=1)
HALF = datetime.timedelta(minutes=30)


def leave_url(leave, action: str | None = None) -> str:
    pk = getattr(leave, "pk", leave)
    return f"{LEAVES_URL}{pk}/{action}/" if action else f"{LEAVES_URL}{pk}/"


def leave_body(start, end, doctor=None, category="vacation", **extra) -> dict:
    body = {"start": iso_z(start), "end": iso_z(end), "category": category, **extra}
    if doctor is not None:
        body["doctor"] = getattr(doctor, "pk", doctor)
    return body


def availability(client, doctor) -> list[int]:
    response = client.get(f"/api/v1/doctors/{doctor.pk}/availability/")
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run what commits queue (the waitlist job, the mails, cache bumps), as a worker would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def week(doctor):
    """Four half-hour blocks of the doctor on day 5 (09:00-11:00 UTC), the second booked."""
    base = in_days(5, hour=9)
    blocks = [TimeBlockFactory(doctor=doctor, start=base + n * HALF) for n in range(4)]
    booked = ConfirmedAppointmentFactory(time_block=blocks[1], patient=PatientFactory())
    return base, blocks, booked


# ---------------------------------------------------------------------------
# Create, preview
# ---------------------------------------------------------------------------
def test_preview_reports_what_a_leave_would_do_and_changes_nothing(doctor_client, week):
    base, _blocks, booked = week

    response = doctor_client.post(
        f"{LEAVES_URL}preview/", leave_body(base, base + 2 * HOUR), format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "free_blocks": 3,
        "affected_appointments": [
            {
                "id": booked.pk,
                "patient": booked.patient_id,
                "start": iso_z(booked.start),
                "status": "confirmed",
            }
        ],
    }
    assert Leave.objects.count() == 0
    assert TimeBlock.objects.filter(withdrawn_at__isnull=False).count() == 0
    assert audit_rows("patient_record.viewed")  # the doctor read their patient's visit


def test_a_doctor_creates_leave_free_blocks_go_booked_ones_stay_and_are_reported(
    doctor_client, doctor, week
):
    base, blocks, booked = week

    response = doctor_client.post(
        LEAVES_URL, leave_body(base, base + 2 * HOUR, note="Conference"), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"leave", "removed_blocks", "affected_appointments"}
    assert body["removed_blocks"] == 3
    assert [a["id"] for a in body["affected_appointments"]] == [booked.pk]
    leave = Leave.objects.get()
    assert body["leave"] == {
        "id": leave.pk,
        "doctor": doctor.pk,
        "start": iso_z(base),
        "end": iso_z(base + 2 * HOUR),
        "category": "vacation",
        "note": "Conference",
        "active": True,
        "cancelled_at": None,
        "created_by": doctor.pk,
        "created_at": iso_z(leave.created_at),
    }
    withdrawn = set(
        TimeBlock.objects.filter(withdrawn_at__isnull=False).values_list("pk", flat=True)
    )
    assert withdrawn == {blocks[0].pk, blocks[2].pk, blocks[3].pk}
    booked.refresh_from_db()
    assert booked.status == "confirmed"
    [event] = audit_rows("leave.created")
    assert (event.data["removed_blocks"], event.data["affected_appointments"]) == (3, 1)
    assert "Conference" not in str(event.data)  # free text stays out of the audit log
    # Bulk: no field-history entry per withdrawn block.
    assert not LogEntry.objects.filter(
        content_type__model="timeblock",
        object_pk__in=[str(pk) for pk in withdrawn],
        action=LogEntry.Action.UPDATE,
    ).exists()


def test_a_block_in_leave_is_refused_and_bulk_skips_it(doctor_client, doctor):
    base = in_days(6, hour=8)
    assert (
        doctor_client.post(LEAVES_URL, leave_body(base, base + 4 * HOUR), format="json").status_code
        == 201
    )

    inside = doctor_client.post(
        "/api/v1/time-blocks/",
        {"start": iso_z(base + HOUR), "end": iso_z(base + 2 * HOUR)},
        format="json",
    )
    assert (inside.status_code, inside.json()["code"]) == (409, DOCTOR_ON_LEAVE)
    outside = TimeBlockFactory(doctor=doctor, start=base + 5 * HOUR)
    moved = doctor_client.patch(
        f"/api/v1/time-blocks/{outside.pk}/",
        {"start": iso_z(base + 3 * HOUR), "end": iso_z(base + 4 * HOUR)},
        format="json",
    )
    assert (moved.status_code, moved.json()["code"]) == (409, DOCTOR_ON_LEAVE)

    day = timezone.localdate(base)
    local = base.astimezone(timezone.get_default_timezone())
    bulk = doctor_client.post(
        "/api/v1/time-blocks/bulk/",
        {
            "date_from": day.isoformat(),
            "date_to": day.isoformat(),
            "weekdays": [day.weekday()],
            "start_time": (local - 2 * HOUR).strftime("%H:%M"),
            "end_time": (local + 2 * HOUR).strftime("%H:%M"),
            "slot_minutes": 60,
            "timezone": str(timezone.get_default_timezone()),
        },
        format="json",
    )
    assert bulk.status_code == 201, bulk.json()
    assert bulk.json() == {"created": 2, "skipped": 2, "total": 4, "on_leave": 2}


def test_overlapping_leaves_conflict_but_a_closure_may_overlap_a_doctors_leave(
    doctor_client, clinic_admin_client, doctor
):
    base = in_days(10, hour=8)
    assert (
        doctor_client.post(LEAVES_URL, leave_body(base, base + 4 * HOUR), format="json").status_code
        == 201
    )

    again = doctor_client.post(
        LEAVES_URL, leave_body(base + HOUR, base + 6 * HOUR, category="sick"), format="json"
    )
    assert (again.status_code, again.json()["code"]) == (409, LEAVE_OVERLAP)
    closure = leave_body(base, base + 8 * HOUR, doctor=None, category="holiday")
    closure["doctor"] = None
    assert clinic_admin_client.post(LEAVES_URL, closure, format="json").status_code == 201
    second = clinic_admin_client.post(LEAVES_URL, closure, format="json")
    assert (second.status_code, second.json()["code"]) == (409, LEAVE_OVERLAP)
    # Touching (end == start) is no overlap.
    after = leave_body(base + 4 * HOUR, base + 5 * HOUR, category="training")
    assert doctor_client.post(LEAVES_URL, after, format="json").status_code == 201
    assert Leave.objects.count() == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "holiday"}, "category"),  # a closure's category for a doctor
        ({"end_before_start": True}, "end"),
        ({"past": True}, "end"),
        ({"category": "nap"}, "category"),
    ],
)
def test_bad_leave_input_is_a_400_that_changes_nothing(doctor_client, body, field):
    start = in_days(4)
    end = start + HOUR
    if body.pop("end_before_start", False):
        start, end = end, start
    if body.pop("past", False):
        start, end = in_days(-3), in_days(-2)
    response = doctor_client.post(LEAVES_URL, leave_body(start, end, **body), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Leave.objects.count() == 0


# ---------------------------------------------------------------------------
# Who may do what
# ---------------------------------------------------------------------------
def test_leave_permissions(patient_client, doctor_client, other_doctor, doctor, staff_client):
    base = in_days(8)
    other = Leave.objects.create(
        doctor=other_doctor, start=base, end=base + HOUR, category="vacation"
    )
    closure = Leave.objects.create(doctor=None, start=base, end=base + HOUR, category="holiday")

    assert patient_client.get(LEAVES_URL).status_code == 403
    assert (
        patient_client.post(LEAVES_URL, leave_body(base, base + HOUR), format="json").status_code
        == 403
    )
    # A doctor sees their own leave and the closures, never another doctor's.
    assert [row["id"] for row in doctor_client.get(LEAVES_URL).json()["results"]] == [closure.pk]
    assert doctor_client.get(leave_url(other)).status_code == 404
    assert doctor_client.delete(leave_url(other)).status_code == 404
    assert doctor_client.delete(leave_url(closure)).status_code == 403
    naming = doctor_client.post(
        LEAVES_URL, leave_body(base + 2 * HOUR, base + 3 * HOUR, doctor=other_doctor), format="json"
    )
    assert naming.status_code == 403
    # Staff name the doctor; closures are admins' only.
    assert (
        staff_client.post(
            LEAVES_URL, leave_body(base + 2 * HOUR, base + 3 * HOUR), format="json"
        ).status_code
        == 400
    )
    staff_closure = leave_body(base + 2 * HOUR, base + 3 * HOUR, category="holiday")
    staff_closure["doctor"] = None
    assert staff_client.post(LEAVES_URL, staff_closure, format="json").status_code == 403
    assert staff_client.delete(leave_url(closure)).status_code == 403
    created = staff_client.post(
        LEAVES_URL, leave_body(base + 2 * HOUR, base + 3 * HOUR, doctor=doctor), format="json"
    )
    assert created.status_code == 201
    assert created.json()["leave"]["created_by"] != doctor.pk
    assert len(staff_client.get(LEAVES_URL).json()["results"]) == 3
    assert Leave.objects.count() == 3


def test_the_leave_list_filters_and_its_queries_stay_flat(
    staff_client, doctor, other_doctor, django_assert_max_num_queries
):
    base = in_days(20)
    for n in range(6):
        Leave.objects.create(
            doctor=doctor if n % 2 else other_doctor,
            start=base + n * 2 * HOUR,
            end=base + (n * 2 + 1) * HOUR,
            category="training",
            cancelled_at=timezone.now() if n == 5 else None,
        )

    with django_assert_max_num_queries(4):
        response = staff_client.get(LEAVES_URL)
    assert len(response.json()["results"]) == 6

    mine = staff_client.get(LEAVES_URL, {"doctor": doctor.pk, "active": "true"}).json()
    assert len(mine["results"]) == 2
    window = staff_client.get(
        LEAVES_URL, {"from": iso_z(base + 3 * HOUR), "to": iso_z(base + 5 * HOUR)}
    ).json()
    assert len(window["results"]) == 1
    assert staff_client.get(LEAVES_URL, {"active": "maybe"}).status_code == 400


# ---------------------------------------------------------------------------
# The bookable predicate: a block freed during a leave stays unbookable (acceptance (7))
# ---------------------------------------------------------------------------
def test_a_kept_block_freed_during_the_leave_is_not_offered_booked_or_held(
    doctor, doctor_client, week, anon_client, run_jobs
):
    base, blocks, booked = week
    waiting = PatientFactory()
    today = timezone.localdate()
    entry = client_for(waiting).post(
        "/api/v1/waitlist/",
        {
            "doctor": doctor.pk,
            "date_from": today.isoformat(),
            "date_to": (today + datetime.timedelta(days=30)).isoformat(),
        },
        format="json",
    )
    assert entry.status_code == 201, entry.json()
    with run_jobs():
        assert (
            doctor_client.post(
                LEAVES_URL, leave_body(base, base + 2 * HOUR), format="json"
            ).status_code
            == 201
        )
    with run_jobs():
        cancelled = client_for(booked.patient).post(appointment_url(booked, "cancel"))
    assert cancelled.status_code == 200

    assert blocks[1].pk not in availability(anon_client, doctor)
    other = PatientFactory()
    refused = client_for(other).post(APPOINTMENTS_URL, {"time_block": blocks[1].pk}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, DOCTOR_ON_LEAVE)
    held = client_for(other).post("/api/v1/holds/", {"time_block": blocks[1].pk}, format="json")
    assert (held.status_code, held.json()["code"]) == (409, DOCTOR_ON_LEAVE)
    assert not WaitlistOffer.objects.exists()  # the waitlist job ran and offered nothing
    leave = Leave.objects.get()
    start = iso_z(base - HOUR)
    directory = anon_client.get(
        "/api/v1/doctors/", {"available_from": start, "available_to": iso_z(base + 2 * HOUR)}
    )
    assert doctor.pk not in [row["id"] for row in directory.json()["results"]]

    # Cancelling the leave gives the block back: now the waiting patient is offered it.
    with run_jobs():
        assert doctor_client.delete(leave_url(leave)).status_code == 204
    offer = WaitlistOffer.objects.get()
    assert (offer.time_block_id, offer.entry.patient_id) == (blocks[1].pk, waiting.pk)


def test_creating_a_leave_releases_live_holds_and_the_cache_shows_it_at_once(
    public_cache, doctor, doctor_client, anon_client, run_jobs
):
    base = in_days(5, hour=14)
    held_block = TimeBlockFactory(doctor=doctor, start=base)
    free_block = TimeBlockFactory(doctor=doctor, start=base + HOUR)
    holder = PatientFactory()
    with run_jobs():
        hold = client_for(holder).post(
            "/api/v1/holds/", {"time_block": held_block.pk}, format="json"
        )
    assert hold.status_code == 201
    assert availability(anon_client, doctor) == [free_block.pk]  # cached now

    with run_jobs():
        created = doctor_client.post(
            LEAVES_URL, leave_body(base - HOUR, base + 3 * HOUR), format="json"
        )

    assert created.json()["removed_blocks"] == 2
    assert availability(anon_client, doctor) == []
    released = SlotHold.objects.get(pk=hold.json()["id"])
    assert (released.release_reason, released.released_at is not None) == ("released", True)
    assert audit_rows("slot_hold.released")


# ---------------------------------------------------------------------------
# Cancel (DELETE)
# ---------------------------------------------------------------------------
def test_delete_cancels_the_leave_and_frees_what_it_kept(doctor, doctor_client, week, anon_client):
    base, blocks, booked = week
    created = doctor_client.post(LEAVES_URL, leave_body(base, base + 2 * HOUR), format="json")
    leave_id = created.json()["leave"]["id"]
    client_for(booked.patient).post(appointment_url(booked, "cancel"))
    assert blocks[1].pk not in availability(anon_client, doctor)

    response = doctor_client.delete(leave_url(leave_id))

    assert response.status_code == 204
    leave = Leave.objects.get(pk=leave_id)
    assert leave.cancelled_at is not None
    assert blocks[1].pk in availability(anon_client, doctor)  # withdrawn ones stay withdrawn
    assert audit_rows("leave.cancelled")
    again = doctor_client.delete(leave_url(leave_id))
    assert (again.status_code, again.json()["code"]) == (409, ILLEGAL_TRANSITION)
    assert doctor_client.get(leave_url(leave_id)).json()["active"] is False


# ---------------------------------------------------------------------------
# Resolve (acceptance (8))
# ---------------------------------------------------------------------------
def test_resolve_cancel_cancels_with_code_leave_and_mails_in_each_language(
    staff_client, doctor, run_jobs
):
    base = in_days(2, hour=9)  # inside any patient notice window: the clinic ignores it
    spanish = PatientFactory(language="es")
    first = ConfirmedAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=base), patient=spanish
    )
    second = PendingAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=base + HOUR)
    )
    leave = staff_client.post(
        LEAVES_URL, leave_body(base, base + 2 * HOUR, doctor=doctor, category="sick"), format="json"
    ).json()["leave"]
    mail.outbox.clear()

    with run_jobs():
        response = staff_client.post(
            leave_url(leave["id"], "resolve"), {"action": "cancel"}, format="json"
        )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [a["id"] for a in body["cancelled"]] == [first.pk, second.pk]
    assert (body["rescheduled"], body["unresolved"]) == ([], [])
    for appointment in (first, second):
        appointment.refresh_from_db()
        assert (appointment.status, appointment.cancellation_code) == ("cancelled", "leave")
    [to_spanish] = [m for m in mail.outbox if m.to == [spanish.email]]
    assert "Hola" in to_spanish.body
    assert [m for m in mail.outbox if m.to == [second.patient.email]]
    assert audit_rows("leave.resolved")

    rerun = staff_client.post(
        leave_url(leave["id"], "resolve"), {"action": "cancel"}, format="json"
    )
    assert rerun.json() == {"cancelled": [], "rescheduled": [], "unresolved": []}


def test_resolve_reschedule_moves_to_the_earliest_same_length_block_or_reports_it(
    doctor_client, doctor, run_jobs
):
    base = in_days(4, hour=9)
    moving = ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=base))
    stuck = ConfirmedAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=base + HOUR, end=base + 2 * HOUR)
    )
    # After the leave: an hour-long block taken, a later half-hour one and an earlier one.
    TimeBlockFactory(doctor=doctor, start=base + 26 * HOUR, end=base + 27 * HOUR)
    target = TimeBlockFactory(doctor=doctor, start=base + 25 * HOUR)
    later = TimeBlockFactory(doctor=doctor, start=base + 28 * HOUR)
    ConfirmedAppointmentFactory(
        time_block=TimeBlock.objects.get(doctor=doctor, start=base + 26 * HOUR)
    )
    leave = doctor_client.post(
        LEAVES_URL, leave_body(base, base + 3 * HOUR, category="training"), format="json"
    ).json()["leave"]
    mail.outbox.clear()

    with run_jobs():
        response = doctor_client.post(
            leave_url(leave["id"], "resolve"), {"action": "reschedule"}, format="json"
        )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(a["id"], a["start"], a["status"]) for a in body["rescheduled"]] == [
        (moving.pk, iso_z(target.start), "pending")
    ]
    assert [(u["id"], u["code"]) for u in body["unresolved"]] == [(stuck.pk, "no_free_block")]
    moving.refresh_from_db()
    assert (moving.time_block_id, moving.status) == (target.pk, "pending")
    assert [m for m in mail.outbox if m.to == [moving.patient.email]]
    assert later.pk != moving.time_block_id

    rerun = doctor_client.post(
        leave_url(leave["id"], "resolve"), {"action": "reschedule"}, format="json"
    ).json()
    assert (rerun["rescheduled"], [u["id"] for u in rerun["unresolved"]]) == ([], [stuck.pk])


def test_resolve_refuses_a_cancelled_leave_and_a_bad_action(doctor_client, doctor):
    base = in_days(9)
    leave = Leave.objects.create(doctor=doctor, start=base, end=base + HOUR, category="other")
    bad = doctor_client.post(leave_url(leave, "resolve"), {"action": "ignore"}, format="json")
    assert bad.status_code == 400
    leave.cancelled_at = timezone.now()
    leave.save()
    gone = doctor_client.post(leave_url(leave, "resolve"), {"action": "cancel"}, format="json")
    assert (gone.status_code, gone.json()["code"]) == (409, ILLEGAL_TRANSITION)


# ---------------------------------------------------------------------------
# Closures
# ---------------------------------------------------------------------------
def test_a_closure_spans_every_doctor(clinic_admin_client, anon_client, run_jobs):
    base = in_days(7, hour=8)
    doctors = [DoctorFactory() for _ in range(3)]
    blocks = [TimeBlockFactory(doctor=d, start=base + HOUR) for d in doctors]
    booked = ConfirmedAppointmentFactory(time_block=blocks[2])
    outside = TimeBlockFactory(doctor=doctors[0], start=base + 30 * HOUR)
    body = leave_body(base, base + 10 * HOUR, category="holiday")
    body["doctor"] = None

    with run_jobs():
        response = clinic_admin_client.post(LEAVES_URL, body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["removed_blocks"] == 2
    assert [a["id"] for a in response.json()["affected_appointments"]] == [booked.pk]
    assert response.json()["leave"]["doctor"] is None
    assert availability(anon_client, doctors[0]) == [outside.pk]
    assert audit_rows("leave.created")[0].data["doctors"] == sorted(d.pk for d in doctors)
    # A new block of any doctor inside the closure is refused.
    inside = client_for(doctors[1]).post(
        "/api/v1/time-blocks/",
        {"start": iso_z(base + 2 * HOUR), "end": iso_z(base + 3 * HOUR)},
        format="json",
    )
    assert (inside.status_code, inside.json()["code"]) == (409, DOCTOR_ON_LEAVE)
    admin_other = AdminFactory()
    assert client_for(admin_other).get(LEAVES_URL).status_code == 200
    assert StaffFactory() is not None
    assert Appointment.objects.get(pk=booked.pk).status == "confirmed"


def test_leave_conflicts_are_explained_in_the_callers_language(doctor, doctor_client):
    base = in_days(6, hour=9)
    Leave.objects.create(doctor=doctor, start=base, end=base + HOUR, category="vacation")
    spanish = client_for(PatientFactory(language="es"))
    block = TimeBlock.objects.create(doctor=doctor, start=base, end=base + HALF)

    response = spanish.post(APPOINTMENTS_URL, {"time_block": block.pk}, format="json")

    assert response.json() == {
        "detail": "El médico está de baja o de permiso en ese horario.",
        "code": DOCTOR_ON_LEAVE,
    }
    overlap = doctor_client.post(
        LEAVES_URL, leave_body(base, base + HOUR), format="json", HTTP_ACCEPT_LANGUAGE="es"
    )
    assert overlap.json() == {
        "detail": "Se superpone con otra ausencia o cierre activo.",
        "code": LEAVE_OVERLAP,
    }


def test_a_waitlist_round_on_a_withdrawn_block_ends_without_a_missed_offer(
    doctor, doctor_client, run_jobs
):
    block = TimeBlockFactory(doctor=doctor, start=in_days(5, hour=11))
    today = timezone.localdate()
    entry = WaitlistEntry.objects.create(
        patient=PatientFactory(),
        doctor=doctor,
        date_from=today,
        date_to=today + datetime.timedelta(days=20),
    )
    with run_jobs():
        assert waitlist_process_block(block_id=block.pk) == 1
    offer = WaitlistOffer.objects.get()

    with run_jobs():
        created = doctor_client.post(LEAVES_URL, leave_body(block.start, block.end), format="json")

    assert created.json()["removed_blocks"] == 1
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert offer.status == "superseded"
    assert (entry.status, entry.missed_offers) == ("active", 0)
    assert offer.hold.released_at is not None
    assert audit_rows("waitlist_offer.withdrawn")
    assert audit_rows("leave.created")[0].data["withdrawn_offers"] == 1


@pytest.mark.parametrize(
    ("role", "method", "path", "expected"),
    [
        ("anon", "get", "", 401),
        ("anon", "get", "{id}/", 401),
        ("anon", "delete", "{id}/", 401),
        ("anon", "post", "{id}/resolve/", 401),
        ("patient", "get", "", 403),
        ("patient", "get", "{id}/", 403),
        ("patient", "post", "preview/", 403),
        ("patient", "delete", "{id}/", 403),
        ("patient", "post", "{id}/resolve/", 403),
        ("other_doctor", "get", "", 200),
        ("other_doctor", "get", "{id}/", 404),
        ("other_doctor", "delete", "{id}/", 404),
        ("other_doctor", "post", "{id}/resolve/", 404),
        ("doctor", "get", "{id}/", 200),
        ("doctor", "post", "{id}/resolve/", 200),
        ("doctor", "delete", "{id}/", 204),
        ("staff", "get", "{id}/", 200),
        ("staff", "post", "{id}/resolve/", 200),
        ("staff", "delete", "{id}/", 204),
        ("admin", "get", "{id}/", 200),
        ("admin", "delete", "{id}/", 204),
        ("anon", "put", "{id}/", 405),
        ("admin", "put", "{id}/", 405),
    ],
)
def test_leave_permission_matrix(role, method, path, expected, doctor, other_doctor, staff):
    base = in_days(9)
    leave = Leave.objects.create(doctor=doctor, start=base, end=base + HOUR, category="other")
    users = {
        "patient": PatientFactory(),
        "doctor": doctor,
        "other_doctor": other_doctor,
        "staff": staff,
        "admin": AdminFactory(),
    }
    client = client_for(users[role]) if role != "anon" else APIClient()
    body = (
        {"action": "cancel"}
        if path.endswith("resolve/")
        else leave_body(base + 2 * HOUR, base + 3 * HOUR)
    )

    response = getattr(client, method)(
        LEAVES_URL + path.format(id=leave.pk), body if method == "post" else None, format="json"
    )

    assert response.status_code == expected, response.content


def test_the_day_view_lists_no_free_block_inside_a_leave(doctor, staff_client):
    base = in_days(5, hour=9)
    inside = TimeBlockFactory(doctor=doctor, start=base)
    outside = TimeBlockFactory(doctor=doctor, start=base + 3 * HOUR)
    Leave.objects.create(doctor=doctor, start=base, end=base + HOUR, category="sick")
    day = timezone.localdate(base)

    response = staff_client.get("/api/v1/day/", {"date": day.isoformat(), "doctor": doctor.pk})

    assert response.status_code == 200, response.json()
    [entry] = response.json()["doctors"]
    assert [b["id"] for b in entry["free_blocks"]] == [outside.pk]
    assert inside.pk not in [b["id"] for b in entry["free_blocks"]]
