"""Slot holds: POST/GET/DELETE holds/, and what a live hold does to booking, reschedule, the
public lists and block writes (DESIGN-R2 §R2-2, acceptance with HOLD_TTL_SECONDS=3)."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from core.exceptions import (
    HOLD_EXPIRED,
    HOLD_LIMIT,
    ILLEGAL_TRANSITION,
    PATIENT_OVERLAP,
    SLOT_HELD,
    SLOT_TAKEN,
)
from scheduling.models import Appointment, SlotHold, TimeBlock
from scheduling.services import slot_holds_expire
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url, audit_rows
from tests.support.clients import client_for
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    DoctorFactory,
    TimeBlockFactory,
)

HOLDS_URL = "/api/v1/holds/"
TTL = 3


@pytest.fixture(autouse=True)
def _short_holds(settings):
    settings.HOLD_TTL_SECONDS = TTL
    settings.HOLD_MAX_PER_PATIENT = 3


def hold(client, block: TimeBlock, **extra):
    return client.post(HOLDS_URL, {"time_block": block.pk, **extra}, format="json")


def book(client, block: TimeBlock, **extra):
    return client.post(APPOINTMENTS_URL, {"time_block": block.pk, **extra}, format="json")


def later(seconds: float):
    return time_machine.travel(timezone.now() + datetime.timedelta(seconds=seconds), tick=False)


# ---------------------------------------------------------------------------
# (1) A holds X; B can neither hold nor book it; A books it and the hold converts
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_hold_keeps_the_block_for_its_patient_and_converts_when_they_book(
    patient_client, patient, other_patient
):
    block = TimeBlockFactory()
    other = client_for(other_patient)

    created = hold(patient_client, block)

    assert created.status_code == 201
    body = created.json()
    assert set(body) == {
        "id",
        "time_block",
        "patient",
        "visit_type",
        "start",
        "end",
        "status",
        "expires_at",
    }
    assert (body["time_block"], body["patient"], body["status"]) == (block.pk, patient.pk, "live")
    assert hold(other, block).json()["code"] == SLOT_HELD
    refused = book(other, block)
    assert (refused.status_code, refused.json()["code"]) == (409, SLOT_HELD)

    booked = book(patient_client, block)  # the hold is not named: it converts all the same

    assert booked.status_code == 201
    converted = SlotHold.objects.get(pk=body["id"])
    assert converted.converted_at is not None
    assert converted.appointment_id == booked.json()["id"]
    assert audit_rows("appointment.booked")[0].data["hold"] == converted.pk
    assert len(audit_rows("slot_hold.created")) == 1


@pytest.mark.django_db
def test_a_named_hold_converts_and_a_named_hold_of_another_patient_is_400(
    patient_client, other_patient
):
    block = TimeBlockFactory()
    mine = hold(patient_client, block).json()["id"]

    theirs = book(client_for(other_patient), block, hold=mine)
    booked = book(patient_client, block, hold=mine)

    assert theirs.status_code == 400
    assert set(theirs.json()) == {"hold"}
    assert booked.status_code == 201
    assert SlotHold.objects.get(pk=mine).appointment_id == booked.json()["id"]


@pytest.mark.django_db
def test_booking_with_an_expired_or_released_hold_is_hold_expired(patient_client):
    expired_block, released_block = TimeBlockFactory(), TimeBlockFactory()
    expired = hold(patient_client, expired_block).json()["id"]
    released = hold(patient_client, released_block).json()["id"]
    assert patient_client.delete(f"{HOLDS_URL}{released}/").status_code == 204

    with later(TTL + 1):
        late = book(patient_client, expired_block, hold=expired)
        statuses = {h["id"]: h["status"] for h in patient_client.get(HOLDS_URL).json()["results"]}
    gone = book(patient_client, released_block, hold=released)

    assert (late.status_code, late.json()["code"]) == (409, HOLD_EXPIRED)
    assert (gone.status_code, gone.json()["code"]) == (409, HOLD_EXPIRED)
    assert statuses == {expired: "expired", released: "released"}
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_staff_hold_for_a_named_patient_and_reschedule_converts_the_patients_hold(
    staff_client, patient
):
    appointment = ConfirmedAppointmentFactory(patient=patient)
    target = TimeBlockFactory(doctor=appointment.doctor)
    created = hold(staff_client, target, patient=patient.pk)
    assert created.json()["patient"] == patient.pk
    assert hold(staff_client, TimeBlockFactory()).status_code == 400  # staff name the patient

    moved = staff_client.post(
        appointment_url(appointment.pk, "reschedule"), {"time_block": target.pk}, format="json"
    )

    assert moved.status_code == 200
    assert SlotHold.objects.get(pk=created.json()["id"]).appointment_id == appointment.pk


@pytest.mark.django_db
def test_reschedule_into_another_patients_held_block_is_slot_held(patient_client, other_patient):
    appointment = ConfirmedAppointmentFactory(patient=other_patient)
    target = TimeBlockFactory(doctor=appointment.doctor)
    hold(patient_client, target)

    moved = client_for(other_patient).post(
        appointment_url(appointment.pk, "reschedule"), {"time_block": target.pk}, format="json"
    )

    assert (moved.status_code, moved.json()["code"]) == (409, SLOT_HELD)


# ---------------------------------------------------------------------------
# Booking rules apply to holds
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_hold_follows_the_booking_rules_and_the_patients_own_holds_count_as_overlap(
    patient_client, patient
):
    booked = ConfirmedAppointmentFactory()
    first = TimeBlockFactory()
    overlapping = TimeBlockFactory(
        doctor=DoctorFactory(),
        start=first.start + datetime.timedelta(minutes=10),
        end=first.end + datetime.timedelta(minutes=10),
    )

    assert hold(patient_client, booked.time_block).json()["code"] == SLOT_TAKEN
    assert hold(patient_client, first).status_code == 201
    assert hold(patient_client, overlapping).json()["code"] == PATIENT_OVERLAP


@pytest.mark.django_db
def test_a_patient_keeps_at_most_hold_max_per_patient_live_holds(patient_client):
    for _ in range(3):
        assert hold(patient_client, TimeBlockFactory()).status_code == 201

    refused = hold(patient_client, TimeBlockFactory())

    assert (refused.status_code, refused.json()["code"]) == (409, HOLD_LIMIT)
    with later(TTL + 1):  # expired holds no longer count
        assert hold(patient_client, TimeBlockFactory()).status_code == 201


@pytest.mark.django_db
def test_holds_permissions(doctor_client, anon_client):
    block = TimeBlockFactory()

    assert anon_client.post(HOLDS_URL, {"time_block": block.pk}, format="json").status_code == 401
    assert hold(doctor_client, block).status_code == 403
    assert doctor_client.get(HOLDS_URL).status_code == 403


# ---------------------------------------------------------------------------
# (2) Public lists hide held blocks, the holder's too; the cache follows
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_held_block_is_hidden_from_availability_and_the_directory_until_released(
    public_cache, patient_client, anon_client, django_capture_on_commit_callbacks
):
    block = TimeBlockFactory()
    availability = f"/api/v1/doctors/{block.doctor_id}/availability/"
    start = (block.start - datetime.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    directory = f"/api/v1/doctors/?available_from={start}"

    def shown() -> tuple[list[int], list[int]]:
        free = [b["id"] for b in anon_client.get(availability).json()["results"]]
        doctors = [d["id"] for d in anon_client.get(directory).json()["results"]]
        return free, doctors

    assert shown() == ([block.pk], [block.doctor_id])  # cached now
    with django_capture_on_commit_callbacks(execute=True):  # the bump runs on commit
        created = hold(patient_client, block).json()["id"]
    with_hold = shown()
    own_view = [b["id"] for b in patient_client.get(availability).json()["results"]]
    with django_capture_on_commit_callbacks(execute=True):
        patient_client.delete(f"{HOLDS_URL}{created}/")

    assert with_hold == ([], [])
    assert own_view == []  # the holder's own hold hides it too: one answer for every caller
    assert shown() == ([block.pk], [block.doctor_id])


# ---------------------------------------------------------------------------
# (3) Expiry is by time: no job needed
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_after_the_ttl_another_patient_holds_the_block_without_any_job(
    patient_client, other_patient
):
    block = TimeBlockFactory()
    first = hold(patient_client, block).json()["id"]

    with later(TTL + 1):
        second = hold(client_for(other_patient), block)

    assert second.status_code == 201
    closed = SlotHold.objects.get(pk=first)
    assert (closed.release_reason, closed.released_at is not None) == ("expired", True)
    assert [e.actor_id for e in audit_rows("slot_hold.expired")] == [None]  # the system


@pytest.mark.django_db
def test_the_hold_list_shows_the_last_day_with_status_live_first(
    patient_client, other_patient, staff_client, patient
):
    old, expired, live = TimeBlockFactory(), TimeBlockFactory(), TimeBlockFactory()
    with later(-2 * 86400):
        hold(patient_client, old)
    first = hold(patient_client, expired).json()["id"]
    hold(client_for(other_patient), TimeBlockFactory())
    with later(TTL + 1):
        second = hold(patient_client, live).json()["id"]
        mine = patient_client.get(HOLDS_URL).json()
        staff_view = staff_client.get(HOLDS_URL, {"patient": patient.pk}).json()

    assert [(h["id"], h["status"]) for h in mine["results"]] == [
        (second, "live"),
        (first, "expired"),
    ]
    assert [h["id"] for h in staff_view["results"]] == [second, first]
    assert staff_client.get(HOLDS_URL, {"patient": "x"}).status_code == 400


# ---------------------------------------------------------------------------
# DELETE holds/{id}/
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_releasing_a_hold_twice_is_204_and_a_converted_one_is_illegal_transition(
    patient_client, other_patient
):
    free, booked = TimeBlockFactory(), TimeBlockFactory()
    released = hold(patient_client, free).json()["id"]
    converted = hold(patient_client, booked).json()["id"]
    book(patient_client, booked)

    assert patient_client.delete(f"{HOLDS_URL}{released}/").status_code == 204
    assert patient_client.delete(f"{HOLDS_URL}{released}/").status_code == 204
    assert client_for(other_patient).delete(f"{HOLDS_URL}{released}/").status_code == 404
    refused = patient_client.delete(f"{HOLDS_URL}{converted}/")
    assert (refused.status_code, refused.json()["code"]) == (409, ILLEGAL_TRANSITION)
    assert SlotHold.objects.get(pk=released).release_reason == "released"
    assert len(audit_rows("slot_hold.released")) == 1


# ---------------------------------------------------------------------------
# (5) Block writes: a live hold keeps the block; a once-held block is withdrawn
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_held_block_cannot_be_moved_or_deleted_and_once_released_is_withdrawn(
    patient_client, doctor
):
    block = TimeBlockFactory(doctor=doctor)
    doctor_client = client_for(doctor)
    url = f"/api/v1/time-blocks/{block.pk}/"
    created = hold(patient_client, block).json()["id"]

    moved = doctor_client.patch(
        url, {"end": (block.end + datetime.timedelta(minutes=5)).isoformat()}, format="json"
    )
    deleted = doctor_client.delete(url)
    patient_client.delete(f"{HOLDS_URL}{created}/")
    after_release = doctor_client.delete(url)

    assert (moved.status_code, moved.json()["code"]) == (409, SLOT_HELD)
    assert (deleted.status_code, deleted.json()["code"]) == (409, SLOT_HELD)
    assert after_release.status_code == 204
    block.refresh_from_db()
    assert block.withdrawn_at is not None  # withdrawn: the hold still names it


# ---------------------------------------------------------------------------
# The expire_holds job and command
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_expire_holds_closes_expired_open_holds_once(patient_client, other_patient):
    stale, fresh = TimeBlockFactory(), TimeBlockFactory()
    stale_id = hold(patient_client, stale).json()["id"]

    with later(TTL + 1):
        fresh_id = hold(client_for(other_patient), fresh).json()["id"]
        out = StringIO()
        call_command("expire_holds", stdout=out)
        again = slot_holds_expire()

    assert out.getvalue().strip() == "1 holds expired"
    assert again == 0
    assert SlotHold.objects.get(pk=stale_id).release_reason == "expired"
    assert SlotHold.objects.get(pk=fresh_id).released_at is None
    assert len(audit_rows("slot_hold.expired")) == 1


def test_expire_holds_runs_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["expire-holds"]
    assert entry == {"task": "scheduling.tasks.expire_holds", "schedule": 60.0}


@pytest.mark.django_db
def test_the_hold_list_takes_a_fixed_number_of_queries(
    patient_client, django_assert_max_num_queries
):
    for _ in range(3):
        hold(patient_client, TimeBlockFactory())

    with django_assert_max_num_queries(3):  # the user, the count, the page
        response = patient_client.get(HOLDS_URL)

    assert response.json()["count"] == 3
