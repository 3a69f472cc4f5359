"""Waitlist rounds: a freed block is offered to the first waiting patients, who share one hold;
accept books it, decline or the hold's expiry passes it on (DESIGN-R2 §R2-3, acceptance (1)-(7)
with WAITLIST_OFFER_TTL_SECONDS=3 and WAITLIST_OFFER_BATCH=2)."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from core.exceptions import OFFER_EXPIRED, OFFER_TAKEN, SLOT_HELD, WAITLIST_DUPLICATE
from scheduling.models import Appointment, SlotHold, TimeBlock, WaitlistEntry, WaitlistOffer
from scheduling.services import waitlist_process
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url, audit_rows
from tests.support.clients import client_for
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    DoctorFactory,
    DoctorVisitTypeFactory,
    PatientFactory,
    TimeBlockFactory,
    VisitTypeFactory,
)

pytestmark = pytest.mark.django_db
WAITLIST_URL = "/api/v1/waitlist/"
OFFERS_URL = "/api/v1/waitlist/offers/"
TTL = 3


@pytest.fixture(autouse=True)
def _short_rounds(settings):
    settings.WAITLIST_OFFER_TTL_SECONDS = TTL
    settings.WAITLIST_OFFER_BATCH = 2
    settings.HOLD_TTL_SECONDS = TTL
    settings.WAITLIST_MAX_MISSED = 3
    settings.WAITLIST_OFFER_URL = "https://clinic.example/portal/waitlist/offers/{offer_id}/"


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run what commits queue (the waitlist job, the mails), as a worker would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def later(seconds: float):
    return time_machine.travel(timezone.now() + datetime.timedelta(seconds=seconds), tick=False)


def wait_for(patient, doctor=None, **extra):
    today = timezone.localdate()
    body = {
        "date_from": today.isoformat(),
        "date_to": (today + datetime.timedelta(days=30)).isoformat(),
        **({"doctor": doctor.pk} if doctor is not None else {}),
        **extra,
    }
    response = client_for(patient).post(WAITLIST_URL, body, format="json")
    assert response.status_code == 201, response.json()
    return WaitlistEntry.objects.get(pk=response.json()["id"])


def offer_of(patient) -> WaitlistOffer | None:
    return WaitlistOffer.objects.filter(entry__patient=patient).order_by("-id").first()


def accept(patient, offer, **headers):
    return client_for(patient).post(f"{OFFERS_URL}{offer.pk}/accept/", **headers)


def decline(patient, offer, **headers):
    return client_for(patient).post(f"{OFFERS_URL}{offer.pk}/decline/", **headers)


@pytest.fixture
def doctor_d():
    return DoctorFactory(profile__specialties=["Cardiology"])


@pytest.fixture
def block_x(doctor_d):
    return TimeBlockFactory(doctor=doctor_d)


@pytest.fixture
def booked_x(block_x):
    return ConfirmedAppointmentFactory(time_block=block_x, patient=PatientFactory())


def free_x(booked_x, run_jobs) -> None:
    """B cancels their visit in X; the waitlist job runs on commit."""
    with run_jobs():
        response = client_for(booked_x.patient).post(
            appointment_url(booked_x.pk, "cancel"), {}, format="json"
        )
    assert response.status_code == 200, response.json()


# (1) A waits for D; B cancels D's X -> A gets an offer and a mail in A's language; C books X:
# 409 slot_held.
def test_a_cancelled_block_is_offered_with_a_mail_in_the_patients_language(
    doctor_d, block_x, booked_x, run_jobs
):
    a = PatientFactory(language="es")
    entry = wait_for(a, doctor_d)
    mail.outbox.clear()

    free_x(booked_x, run_jobs)

    offer = offer_of(a)
    assert offer is not None
    assert (offer.time_block_id, offer.status) == (block_x.pk, "pending")
    entry.refresh_from_db()
    assert entry.status == "offered"
    hold = offer.hold
    assert hold.patient_id is None
    assert hold.expires_at == offer.expires_at
    [message] = [m for m in mail.outbox if m.to == [a.email]]
    assert f"https://clinic.example/portal/waitlist/offers/{offer.pk}/" in message.body
    assert "Hola" in message.body  # Spanish, A's language
    assert message.subject.startswith("Hay una hora libre para usted")
    assert audit_rows("waitlist_offer.made", target_id=str(offer.pk))

    c = PatientFactory()
    response = client_for(c).post(APPOINTMENTS_URL, {"time_block": block_x.pk}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == SLOT_HELD

    listed = client_for(a).get(OFFERS_URL).json()["results"]
    assert [row["id"] for row in listed] == [offer.pk]
    assert set(listed[0]) == {"id", "entry", "time_block", "start", "end", "expires_at", "status"}
    assert client_for(c).get(OFFERS_URL).json()["results"] == []


# (2) A accepts -> 201 with the appointment, the entry booked, the hold converted.
def test_accepting_books_the_block_and_the_entry(doctor_d, block_x, booked_x, run_jobs):
    a = PatientFactory()
    entry = wait_for(a, doctor_d)
    free_x(booked_x, run_jobs)
    offer = offer_of(a)

    response = accept(a, offer)

    assert response.status_code == 201, response.json()
    assert response.json()["time_block"] == block_x.pk
    assert response.json()["patient"] == a.pk
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert appointment.status == "pending"
    entry.refresh_from_db()
    offer.refresh_from_db()
    assert (entry.status, offer.status) == ("booked", "accepted")
    hold = SlotHold.objects.get(pk=offer.hold_id)
    assert hold.appointment_id == appointment.pk
    assert hold.converted_at is not None
    assert audit_rows("waitlist_offer.accepted", target_id=str(offer.pk))


# (3) A and E are offered X together; A accepts first, E's accept is 409 offer_taken and E
# waits again.
def test_the_second_acceptance_is_offer_taken(doctor_d, block_x, booked_x, run_jobs):
    a, e = PatientFactory(), PatientFactory()
    wait_for(a, doctor_d)
    entry_e = wait_for(e, doctor_d)
    free_x(booked_x, run_jobs)
    offer_a, offer_e = offer_of(a), offer_of(e)
    assert offer_a.hold_id == offer_e.hold_id

    assert accept(a, offer_a).status_code == 201
    taken = accept(e, offer_e)

    assert taken.status_code == 409
    assert taken.json()["code"] == OFFER_TAKEN
    offer_e.refresh_from_db()
    entry_e.refresh_from_db()
    assert (offer_e.status, entry_e.status, entry_e.missed_offers) == ("superseded", "active", 0)
    assert Appointment.objects.filter(time_block=block_x, status="pending").count() == 1


# (4) A, E, F, G wait in that order: A and E are offered X; after the TTL and process_waitlist
# F and G are; A and E wait again with one missed offer.
def test_an_expired_round_passes_the_block_to_the_next_patients(
    doctor_d, block_x, booked_x, run_jobs
):
    a, e, f, g = (PatientFactory() for _ in range(4))
    for patient in (a, e, f, g):
        wait_for(patient, doctor_d)
    free_x(booked_x, run_jobs)
    assert {o.entry.patient_id for o in WaitlistOffer.objects.all()} == {a.pk, e.pk}

    with later(TTL + 1), run_jobs():
        out = StringIO()
        call_command("process_waitlist", stdout=out)

    assert "1 rounds ended" in out.getvalue()
    offers = {o.entry.patient_id: o.status for o in WaitlistOffer.objects.all()}
    assert offers == {a.pk: "expired", e.pk: "expired", f.pk: "pending", g.pk: "pending"}
    for patient in (a, e):
        entry = WaitlistEntry.objects.get(patient=patient)
        assert (entry.status, entry.missed_offers) == ("active", 1)
    assert len(SlotHold.objects.filter(time_block=block_x, released_at__isnull=True)) == 1


def test_an_entry_expires_after_max_missed_offers(doctor_d, block_x, booked_x, run_jobs, settings):
    settings.WAITLIST_MAX_MISSED = 1
    a = PatientFactory()
    entry = wait_for(a, doctor_d)
    free_x(booked_x, run_jobs)
    with later(TTL + 1):
        waitlist_process()
    entry.refresh_from_db()
    assert (entry.status, entry.missed_offers) == ("expired", 1)


def test_process_waitlist_runs_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["process-waitlist"]
    assert entry == {"task": "scheduling.tasks.process_waitlist", "schedule": 60.0}


# (5) A mismatching (weekday, times), a suspended and an overlapping patient get no offer.
def test_mismatched_suspended_and_overlapping_patients_get_no_offer(
    doctor_d, block_x, booked_x, run_jobs
):
    zone_start = block_x.start.astimezone(timezone.get_current_timezone())
    wrong_day = wait_for(PatientFactory(), doctor_d, weekdays=[(zone_start.weekday() + 1) % 7])
    # An hour after the start, but never past midnight (a 23:00 block would wrap to 00:00,
    # which the block fits: the factory's hour depends on how many blocks came before).
    an_hour_later = zone_start + datetime.timedelta(hours=1)
    late = "23:59" if an_hour_later.date() != zone_start.date() else an_hour_later.strftime("%H:%M")
    too_early = wait_for(PatientFactory(), doctor_d, time_from=late)
    suspended = PatientFactory()
    wait_for(suspended, doctor_d)
    suspended.suspended_at = timezone.now()
    suspended.save(update_fields=["suspended_at"])
    busy = PatientFactory()
    wait_for(busy, doctor_d)
    other_block = TimeBlockFactory(start=block_x.start, end=block_x.end)
    ConfirmedAppointmentFactory(patient=busy, time_block=other_block)
    other_doctor = wait_for(PatientFactory(), DoctorFactory())
    fits = PatientFactory()
    wait_for(fits, doctor_d)

    free_x(booked_x, run_jobs)

    assert [o.entry.patient_id for o in WaitlistOffer.objects.all()] == [fits.pk]
    for entry in (wrong_day, too_early, other_doctor):
        entry.refresh_from_db()
        assert entry.status == "active"


def test_a_specialty_entry_is_offered_its_doctors_blocks(doctor_d, block_x, booked_x, run_jobs):
    a = PatientFactory()
    wait_for(a, specialty="cardiology")
    free_x(booked_x, run_jobs)
    assert offer_of(a).time_block_id == block_x.pk


def test_a_suspended_candidate_is_skipped_inside_the_round(doctor_d, block_x, run_jobs):
    """Picked before the transaction (step (a)), re-checked under the locks (step (b))."""
    from scheduling.services import waitlist_offers

    a, b = PatientFactory(), PatientFactory()
    wait_for(a, doctor_d)
    wait_for(b, doctor_d)
    block = TimeBlock.objects.select_related("doctor").get(pk=block_x.pk)
    candidates = waitlist_offers.waitlist_candidates(block, now=timezone.now())
    a.suspended_at = timezone.now()
    a.save(update_fields=["suspended_at"])
    offers = waitlist_offers._round_start(
        block_id=block.pk, doctor_id=block.doctor_id, candidates=candidates
    )
    assert [o.entry.patient_id for o in offers] == [b.pk]


def test_a_block_inside_the_lead_time_is_not_offered(doctor_d, run_jobs, settings, staff_client):
    settings.WAITLIST_MIN_LEAD_MINUTES = 180
    soon = TimeBlockFactory(
        doctor=doctor_d,
        start=timezone.now() + datetime.timedelta(minutes=120),
        end=timezone.now() + datetime.timedelta(minutes=150),
    )
    visit = ConfirmedAppointmentFactory(time_block=soon, patient=PatientFactory())
    wait_for(PatientFactory(), doctor_d)
    with run_jobs():  # the clinic cancels (a patient may not, inside the notice window)
        response = staff_client.post(appointment_url(visit.pk, "cancel"), {}, format="json")
    assert response.status_code == 200, response.json()
    assert not WaitlistOffer.objects.exists()


def test_a_new_block_is_offered(doctor_d, run_jobs):
    a = PatientFactory()
    wait_for(a, doctor_d)
    start = timezone.now() + datetime.timedelta(days=4)
    with run_jobs():
        response = client_for(doctor_d).post(
            "/api/v1/time-blocks/",
            {
                "start": start.isoformat(),
                "end": (start + datetime.timedelta(minutes=30)).isoformat(),
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    assert offer_of(a).time_block_id == response.json()["id"]


# (6) A duplicate entry and a sixth entry: 409 (tests/scheduling/test_api_waitlist.py); an
# entry booked through an offer no longer counts.
def test_after_booking_the_patient_may_wait_again(doctor_d, block_x, booked_x, run_jobs):
    a = PatientFactory()
    wait_for(a, doctor_d)
    free_x(booked_x, run_jobs)
    assert accept(a, offer_of(a)).status_code == 201
    wait_for(a, doctor_d)
    again = client_for(a).post(
        WAITLIST_URL,
        {"doctor": doctor_d.pk, "date_from": "2030-01-01", "date_to": "2030-01-02"},
        format="json",
    )
    assert again.json()["code"] == WAITLIST_DUPLICATE


# (7) A late accept is 409 offer_expired.
def test_a_late_accept_is_offer_expired(doctor_d, block_x, booked_x, run_jobs):
    a = PatientFactory()
    wait_for(a, doctor_d)
    free_x(booked_x, run_jobs)
    offer = offer_of(a)
    with later(TTL + 1):
        response = accept(a, offer)
    assert response.status_code == 409
    assert response.json()["code"] == OFFER_EXPIRED
    assert not Appointment.objects.filter(time_block=block_x, status="pending").exists()


def test_declining_passes_the_block_on_once_all_declined(doctor_d, block_x, booked_x, run_jobs):
    a, e, f = PatientFactory(), PatientFactory(), PatientFactory()
    for patient in (a, e, f):
        wait_for(patient, doctor_d)
    free_x(booked_x, run_jobs)
    with run_jobs():
        first = decline(a, offer_of(a))
    assert first.status_code == 200
    assert first.json()["status"] == "declined"
    assert offer_of(f) is None  # E still decides
    with run_jobs():
        assert decline(e, offer_of(e)).status_code == 200
    assert offer_of(f).status == "pending"
    entry_a = WaitlistEntry.objects.get(patient=a)
    assert (entry_a.status, entry_a.missed_offers) == ("active", 0)
    again = decline(a, offer_of(a))
    assert again.status_code == 200
    assert accept(a, WaitlistOffer.objects.get(entry=entry_a)).status_code == 409


def test_accept_and_decline_honour_the_idempotency_key(doctor_d, block_x, booked_x, run_jobs):
    a, e = PatientFactory(), PatientFactory()
    wait_for(a, doctor_d)
    wait_for(e, doctor_d)
    free_x(booked_x, run_jobs)
    first = accept(a, offer_of(a), HTTP_IDEMPOTENCY_KEY="k-1")
    replay = accept(a, offer_of(a), HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    declined = decline(e, offer_of(e), HTTP_IDEMPOTENCY_KEY="k-2")
    assert declined.status_code == 409  # taken by A
    assert decline(e, offer_of(e), HTTP_IDEMPOTENCY_KEY="k-2").status_code == 409


@pytest.mark.parametrize(
    ("role", "expected"), [("anon", 401), ("doctor", 403), ("staff", 403), ("other", 404)]
)
def test_only_the_offers_patient_answers_it(
    doctor_d, block_x, booked_x, run_jobs, role_clients, role, expected
):
    a = PatientFactory()
    wait_for(a, doctor_d)
    free_x(booked_x, run_jobs)
    client = client_for(PatientFactory()) if role == "other" else role_clients[role]
    assert client.post(f"{OFFERS_URL}{offer_of(a).pk}/accept/").status_code == expected
    assert client.post(f"{OFFERS_URL}{offer_of(a).pk}/decline/").status_code == expected


def test_staff_list_a_blocks_offers(staff_client, doctor_d, block_x, booked_x, run_jobs):
    a, e = PatientFactory(), PatientFactory()
    wait_for(a, doctor_d)
    wait_for(e, doctor_d)
    free_x(booked_x, run_jobs)
    rows = staff_client.get(OFFERS_URL, {"time_block": block_x.pk}).json()["results"]
    assert len(rows) == 2
    assert staff_client.get(OFFERS_URL, {"time_block": block_x.pk + 1000}).json()["results"] == []


def test_a_typed_entry_is_offered_only_blocks_of_its_type(doctor_d, block_x, booked_x, run_jobs):
    follow_up = VisitTypeFactory(duration_minutes=30)
    DoctorVisitTypeFactory(doctor=doctor_d, visit_type=follow_up)
    typed, any_type = PatientFactory(), PatientFactory()
    wait_for(typed, doctor_d, visit_type=follow_up.pk)
    wait_for(any_type, doctor_d)

    free_x(booked_x, run_jobs)  # a general block

    assert offer_of(typed) is None
    assert offer_of(any_type).time_block_id == block_x.pk
