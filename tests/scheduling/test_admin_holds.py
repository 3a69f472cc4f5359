"""Holds and Idempotency-Keys in the console: read-only; keys without their stored answers."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import IdempotencyRecord
from scheduling.models import SlotHold
from tests.scheduling.appointment_helpers import audit_rows
from tests.support.factories import TimeBlockFactory

pytestmark = pytest.mark.django_db


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admins_read_holds_but_cannot_add_change_or_delete_them(clinic_admin, patient):
    block = TimeBlockFactory()
    hold = SlotHold.objects.create(
        time_block=block,
        doctor=block.doctor,
        patient=patient,
        expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )
    client = console(clinic_admin)

    listing = client.get(reverse("admin:scheduling_slothold_changelist"))
    page = client.get(reverse("admin:scheduling_slothold_change", args=[hold.pk]))

    assert (listing.status_code, page.status_code) == (200, 200)
    assert client.get(reverse("admin:scheduling_slothold_add")).status_code == 403
    assert (
        client.post(reverse("admin:scheduling_slothold_delete", args=[hold.pk])).status_code == 403
    )
    assert SlotHold.objects.filter(pk=hold.pk).exists()
    assert len(audit_rows("patient_record.viewed", target_id=str(patient.pk))) == 2


def test_idempotency_records_show_without_their_stored_answer(clinic_admin):
    record = IdempotencyRecord.objects.create(
        user_id=7,
        key="key-1",
        request_hash="h",
        state=IdempotencyRecord.State.COMPLETED,
        response_status=201,
        response_body={"reason": "answer-is-not-shown"},
    )
    client = console(clinic_admin)

    page = client.get(reverse("admin:core_idempotencyrecord_change", args=[record.pk]))
    listing = client.get(reverse("admin:core_idempotencyrecord_changelist"))

    assert (page.status_code, listing.status_code) == (200, 200)
    assert b"key-1" in listing.content
    assert b"answer-is-not-shown" not in page.content
