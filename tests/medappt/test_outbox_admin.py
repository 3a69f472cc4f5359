"""The mail outbox in the console: admins read it; nobody edits it; no link or context shows."""

import pytest
from django.test import Client
from django.urls import reverse

from core.models import EmailMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def message():
    return EmailMessage.objects.create(
        template="appointment_booked",
        recipient="pat@example.com",
        user_id=7,
        context={"patient_name": "Pat Doe", "secret_marker": "context-is-not-shown"},
        dedupe_key="appointment:1:booked:7",
        last_error="ConnectionRefusedError",
    )


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admins_read_the_outbox_without_its_context(clinic_admin, message):
    client = console(clinic_admin)
    listing = client.get(reverse("admin:core_emailmessage_changelist"))
    assert listing.status_code == 200
    assert b"pat@example.com" in listing.content
    page = client.get(reverse("admin:core_emailmessage_change", args=[message.pk]))
    assert page.status_code == 200
    assert b"ConnectionRefusedError" in page.content
    assert b"context-is-not-shown" not in page.content


def test_nobody_adds_changes_or_deletes_a_mail(clinic_admin, message):
    client = console(clinic_admin)
    assert client.get(reverse("admin:core_emailmessage_add")).status_code == 403
    delete = client.post(reverse("admin:core_emailmessage_delete", args=[message.pk]))
    assert delete.status_code == 403
    assert EmailMessage.objects.filter(pk=message.pk).exists()


def test_the_front_desk_does_not_see_the_outbox(staff, message):
    response = console(staff).get(reverse("admin:core_emailmessage_changelist"))
    assert response.status_code == 403
