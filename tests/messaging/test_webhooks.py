"""Signed webhooks against a real receiver on the loopback (DESIGN-R2 R2-6 acceptance)."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.utils import timezone

from core.models import OutboxEvent
from messaging import services
from messaging.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from messaging.signing import verify
from scheduling.services.appointments import appointment_book, appointment_confirm
from tests.messaging.receiver import Receiver
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL
from tests.support.factories import DoctorFactory, TimeBlockFactory

pytestmark = pytest.mark.django_db
SUBSCRIPTIONS_URL = "/api/v1/webhooks/subscriptions/"
DELIVERIES_URL = "/api/v1/webhooks/deliveries/"
Status = WebhookDelivery.Status


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_INSECURE_TARGETS = True
    with Receiver() as server:
        yield server


def _subscribe(client, url: str, **extra) -> dict:
    response = client.post(SUBSCRIPTIONS_URL, {"url": url, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _book(patient, block=None, run=None):
    block = block or TimeBlockFactory()
    with run(execute=True):
        return appointment_book(actor=patient, patient=patient, time_block=block)


# (1) ------------------------------------------------------------------------
def test_secret_is_shown_once_and_staff_are_refused(
    receiver, clinic_admin_client, staff_client, caplog
):
    created = _subscribe(clinic_admin_client, receiver.url)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 30

    listed = clinic_admin_client.get(SUBSCRIPTIONS_URL).content.decode()
    detail = clinic_admin_client.get(f"{SUBSCRIPTIONS_URL}{created['id']}/").content.decode()
    audit = clinic_admin_client.get("/api/v1/audit/events/").content.decode()
    for text in (listed, detail, audit, caplog.text):
        assert secret not in text
    assert "webhook_subscription.created" in audit

    assert staff_client.get(SUBSCRIPTIONS_URL).status_code == 403
    assert staff_client.post(SUBSCRIPTIONS_URL, {"url": receiver.url}).status_code == 403
    assert staff_client.get(DELIVERIES_URL).status_code == 403


# (2) ------------------------------------------------------------------------
def test_a_booking_posts_once_signed_with_the_event_id_and_no_names(
    receiver, clinic_admin_client, patient, django_capture_on_commit_callbacks
):
    secret = _subscribe(clinic_admin_client, receiver.url)["secret"]
    _book(patient, run=django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 1
    post = receiver.requests[0]
    assert verify(secret, post.headers["Medappt-Signature"], post.body)
    assert not verify("wrong", post.headers["Medappt-Signature"], post.body)
    body = json.loads(post.body)
    assert post.headers["Medappt-Event-Id"] == body["id"]
    assert body["type"] == "appointment.booked"
    assert body["seq"] == OutboxEvent.objects.get().pk
    for name in (patient.first_name, patient.last_name, patient.email):
        assert name.encode() not in post.body
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.SUCCEEDED
    assert delivery.attempts == 1
    assert OutboxEvent.objects.get().dispatched_at is not None


# (3) ------------------------------------------------------------------------
def test_type_and_doctor_filters_hold(
    receiver, clinic_admin_client, patient, django_capture_on_commit_callbacks
):
    doctor, other = DoctorFactory(), DoctorFactory()
    _subscribe(
        clinic_admin_client, receiver.url + "/confirmed", event_types=["appointment.confirmed"]
    )
    _subscribe(clinic_admin_client, receiver.url + "/doctor", doctors=[doctor.pk])

    mine = _book(patient, TimeBlockFactory(doctor=doctor), run=django_capture_on_commit_callbacks)
    _book(patient, TimeBlockFactory(doctor=other), run=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_confirm(actor=doctor, appointment=mine)

    seen = sorted((r.path, json.loads(r.body)["type"]) for r in receiver.requests)
    assert seen == [
        ("/hook/confirmed", "appointment.confirmed"),
        ("/hook/doctor", "appointment.booked"),
        ("/hook/doctor", "appointment.confirmed"),
    ]
    assert all(
        json.loads(r.body)["data"]["appointment"]["doctor"] == doctor.pk for r in receiver.requests
    )


# (4) ------------------------------------------------------------------------
def test_500_500_200_is_three_attempts_with_the_same_body_and_a_new_t(
    receiver, clinic_admin_client, patient, django_capture_on_commit_callbacks
):
    secret = _subscribe(clinic_admin_client, receiver.url)["secret"]
    receiver.statuses.extend([500, 500, 200])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _book(patient, run=django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.PENDING
    first_retry = delivery.next_attempt_at - start
    assert datetime.timedelta(seconds=30) <= first_retry <= datetime.timedelta(seconds=33)

    with time_machine.travel(start + datetime.timedelta(seconds=40), tick=False):
        assert services.webhook_deliver_due() == 0
    delivery.refresh_from_db()
    second_retry = delivery.next_attempt_at - (start + datetime.timedelta(seconds=40))
    assert datetime.timedelta(seconds=60) <= second_retry <= datetime.timedelta(seconds=66)
    with time_machine.travel(start + datetime.timedelta(seconds=45), tick=False):
        assert services.webhook_deliver_due() == 0  # not due yet
    with time_machine.travel(start + datetime.timedelta(seconds=200), tick=False):
        assert services.webhook_deliver_due() == 1

    delivery.refresh_from_db()
    assert delivery.status == Status.SUCCEEDED
    assert delivery.attempts == 3
    assert [a.status_code for a in WebhookAttempt.objects.order_by("id")] == [500, 500, 200]
    bodies = {r.body for r in receiver.requests}
    assert len(receiver.requests) == 3
    assert len(bodies) == 1
    stamps = [r.headers["Medappt-Signature"].split(",")[0] for r in receiver.requests]
    assert len(set(stamps)) == 3
    last = receiver.requests[-1]
    with time_machine.travel(start + datetime.timedelta(seconds=200), tick=False):
        assert verify(secret, last.headers["Medappt-Signature"], last.body)


def test_a_redirect_fails(
    receiver, clinic_admin_client, patient, django_capture_on_commit_callbacks
):
    _subscribe(clinic_admin_client, receiver.url)
    receiver.statuses.append(302)
    _book(patient, run=django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.PENDING
    assert delivery.last_error == "HTTP 302"


# (5) ------------------------------------------------------------------------
def test_a_409_booking_adds_no_event_and_posts_nothing(
    receiver, clinic_admin_client, patient_client, other_patient, django_capture_on_commit_callbacks
):
    _subscribe(clinic_admin_client, receiver.url)
    block = TimeBlockFactory()
    _book(other_patient, block, run=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk}, format="json")
    assert response.status_code == 409
    assert OutboxEvent.objects.count() == 1
    assert len(receiver.requests) == 1


# (6) ------------------------------------------------------------------------
def test_exhausted_is_failed_and_a_replay_delivers_the_same_event_id(
    receiver, settings, clinic_admin_client, patient, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    subscription = _subscribe(clinic_admin_client, receiver.url)
    receiver.statuses.extend([500, 503])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _book(patient, run=django_capture_on_commit_callbacks)
    with time_machine.travel(start + datetime.timedelta(hours=1), tick=False):
        services.webhook_deliver_due()
    failed = WebhookDelivery.objects.get()
    assert failed.status == Status.FAILED
    assert failed.attempts == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = clinic_admin_client.post(f"{DELIVERIES_URL}{failed.pk}/replay/")
    assert response.status_code == 202
    assert response.json()["event_id"] == str(failed.event.event_id)
    replay = WebhookDelivery.objects.get(replay_of=failed)
    assert replay.status == Status.SUCCEEDED
    ids = {r.headers["Medappt-Event-Id"] for r in receiver.requests}
    assert ids == {str(failed.event.event_id)}
    assert len(receiver.requests) == 3

    # The subscription's replay re-delivers its failed ones too.
    receiver.statuses.append(200)
    with django_capture_on_commit_callbacks(execute=True):
        response = clinic_admin_client.post(f"{SUBSCRIPTIONS_URL}{subscription['id']}/replay/")
    assert response.status_code == 202
    assert response.json() == {"deliveries": 1}
    assert len(receiver.requests) == 4
    assert OutboxEvent.objects.count() == 1


# (7) ------------------------------------------------------------------------
def test_webhook_deliver_twice_posts_once(receiver, clinic_admin_client, patient):
    _subscribe(clinic_admin_client, receiver.url)
    appointment_book(actor=patient, patient=patient, time_block=TimeBlockFactory())
    services.outbox_dispatch()  # on-commit callbacks do not run here: nothing sent yet
    delivery = WebhookDelivery.objects.get()

    assert services.webhook_deliver(delivery_id=delivery.pk) is True
    assert services.webhook_deliver(delivery_id=delivery.pk) is False
    assert len(receiver.requests) == 1
    assert services.outbox_dispatch() == 0
    assert WebhookDelivery.objects.count() == 1


def test_a_delivery_killed_halfway_through_is_redelivered_without_a_second_event(
    receiver, clinic_admin_client, patient
):
    _subscribe(clinic_admin_client, receiver.url)
    appointment_book(actor=patient, patient=patient, time_block=TimeBlockFactory())
    services.outbox_dispatch()
    delivery = WebhookDelivery.objects.get()
    start = timezone.now()
    # A worker claimed it and died before posting: in flight with a lease.
    assert services._claim(delivery.pk, start)
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        assert services.webhook_deliver_due() == 0  # the lease still runs
    assert receiver.requests == []
    with time_machine.travel(start + services.LEASE + datetime.timedelta(seconds=1), tick=False):
        assert services.webhook_deliver_due() == 1

    assert len(receiver.requests) == 1
    event = OutboxEvent.objects.get()
    assert receiver.requests[0].headers["Medappt-Event-Id"] == str(event.event_id)
    delivery.refresh_from_db()
    assert delivery.status == Status.SUCCEEDED
    assert delivery.attempts == 2


# (8) ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
    ],
)
def test_other_schemes_are_400_even_when_insecure_targets_are_allowed(
    receiver, clinic_admin_client, url
):
    response = clinic_admin_client.post(SUBSCRIPTIONS_URL, {"url": url}, format="json")
    assert response.status_code == 400
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://0.0.0.0/hook",
        "https://localhost/hook",
    ],
)
def test_without_the_test_switch_only_https_to_a_public_address_is_accepted(
    settings, clinic_admin_client, url
):
    settings.WEBHOOK_ALLOW_INSECURE_TARGETS = False
    response = clinic_admin_client.post(SUBSCRIPTIONS_URL, {"url": url}, format="json")
    assert response.status_code == 400
    assert "url" in response.json()


def test_the_guard_is_checked_again_at_each_send(
    receiver, settings, clinic_admin_client, patient, django_capture_on_commit_callbacks
):
    _subscribe(clinic_admin_client, receiver.url)
    settings.WEBHOOK_ALLOW_INSECURE_TARGETS = False  # now the loopback is refused
    _book(patient, run=django_capture_on_commit_callbacks)
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("target refused")


def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
    receiver, clinic_admin_client, patient, django_capture_on_commit_callbacks
):
    created = _subscribe(clinic_admin_client, receiver.url)
    response = clinic_admin_client.post(f"{SUBSCRIPTIONS_URL}{created['id']}/rotate-secret/")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new != created["secret"]
    detail = clinic_admin_client.get(f"{SUBSCRIPTIONS_URL}{created['id']}/").content.decode()
    assert new not in detail
    assert created["secret"] not in detail

    _book(patient, run=django_capture_on_commit_callbacks)
    post = receiver.requests[-1]
    assert post.headers["Medappt-Signature"].count("v1=") == 2
    assert verify(new, post.headers["Medappt-Signature"], post.body)
    assert verify(created["secret"], post.headers["Medappt-Signature"], post.body)

    later = timezone.now() + datetime.timedelta(hours=25)
    with time_machine.travel(later, tick=False):
        _book(patient, run=django_capture_on_commit_callbacks)
    post = receiver.requests[-1]
    assert post.headers["Medappt-Signature"].count("v1=") == 1
    assert not verify(
        created["secret"], post.headers["Medappt-Signature"], post.body, now=later.timestamp()
    )


def test_verify_refuses_an_old_timestamp():
    from messaging.signing import sign

    header = sign(["s3cret"], b"{}", timestamp=1_000_000)
    assert verify("s3cret", header, b"{}", now=1_000_000 + 300)
    assert not verify("s3cret", header, b"{}", now=1_000_000 + 301)
    assert not verify("s3cret", header, b"{} ", now=1_000_000)
    assert not verify("s3cret", "garbage", b"{}")


def test_subscriptions_are_edited_and_deleted_by_admins_only(
    receiver, clinic_admin_client, staff_client, doctor_client
):
    created = _subscribe(clinic_admin_client, receiver.url)
    url = f"{SUBSCRIPTIONS_URL}{created['id']}/"
    for client in (staff_client, doctor_client):
        assert client.patch(url, {"active": False}, format="json").status_code == 403
        assert client.post(f"{url}rotate-secret/").status_code == 403
        assert client.post(f"{url}replay/").status_code == 403
        assert client.delete(url).status_code == 403

    bad = clinic_admin_client.patch(url, {"url": "ftp://127.0.0.1/x"}, format="json")
    assert bad.status_code == 400
    changed = clinic_admin_client.patch(
        url, {"event_types": ["appointment.cancelled"], "active": False}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["event_types"] == ["appointment.cancelled"]
    assert changed.json()["active"] is False
    assert "secret" not in changed.json()
    unknown = clinic_admin_client.patch(url, {"event_types": ["nope"]}, format="json")
    assert unknown.status_code == 400

    assert clinic_admin_client.delete(url).status_code == 204
    assert not WebhookSubscription.objects.exists()
    actions = clinic_admin_client.get("/api/v1/audit/events/").content.decode()
    for action in ("webhook_subscription.updated", "webhook_subscription.deleted"):
        assert action in actions
