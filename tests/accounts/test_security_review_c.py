"""Security review round 2, finding 7: a password-reset request does the same work whether or
not the address belongs to an account that can be mailed (no enumeration by timing): the same
queries, the same templates rendered, a reset token made; only the mail itself differs."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.accounts.helpers import PASSWORD_RESET_URL, REGISTER_URL
from tests.support.factories import InactivePatientFactory, SuspendedPatientFactory

pytestmark = pytest.mark.django_db

SAVEPOINT_NAME = re.compile(r'"s\d+_x\d+"')
PARAMETERS = re.compile(r" WHERE | VALUES ")


def reset_request(email: str, committed) -> dict:
    """Ask for a reset as a new client would, running what the commit would run; return the
    SQL (with parameters stripped, so only its shape counts) and the templates rendered."""
    rendered: list[str] = []

    def on_render(sender, template, context, **kwargs) -> None:
        rendered.append(template.name)

    template_rendered.connect(on_render)
    try:
        with CaptureQueriesContext(connection) as captured, committed(execute=True):
            response = APIClient().post(PASSWORD_RESET_URL, {"email": email})
    finally:
        template_rendered.disconnect(on_render)
    assert response.status_code == 202
    return {
        "queries": [
            SAVEPOINT_NAME.sub("s", PARAMETERS.split(query["sql"])[0])
            for query in captured.captured_queries
        ],
        "templates": rendered,
    }


MAIL_TEMPLATES = [
    "emails/password_reset.subject.txt",
    "emails/password_reset.txt",
    "emails/password_reset.html",
]


def test_a_known_and_an_unknown_address_do_the_same_work(
    patient, django_capture_on_commit_callbacks
):
    known = reset_request(patient.email, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    unknown = reset_request("nobody-here@example.com", django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1  # no mail for the unknown address
    assert known["templates"] == unknown["templates"] == MAIL_TEMPLATES
    assert len(known["queries"]) == len(unknown["queries"])
    assert known["queries"] == unknown["queries"]


@pytest.mark.parametrize("factory", [SuspendedPatientFactory, InactivePatientFactory])
def test_an_account_that_gets_no_mail_does_the_same_work_too(
    factory, patient, django_capture_on_commit_callbacks
):
    mailed = reset_request(patient.email, django_capture_on_commit_callbacks)
    refused = reset_request(factory().email, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    assert refused["templates"] == mailed["templates"] == MAIL_TEMPLATES
    assert refused["queries"] == mailed["queries"]


def test_the_stand_in_mail_is_never_sent_nor_saved(django_capture_on_commit_callbacks):
    reset_request("nobody-here@example.com", django_capture_on_commit_callbacks)

    assert mail.outbox == []
    (event,) = AuditEvent.objects.filter(action="auth.password_reset_requested")
    assert (event.target_type, event.target_id, event.data["sent"]) == ("", "", False)


def test_registration_by_a_taken_email_stays_a_throttled_400(patient, throttle_rates):
    throttle_rates(register="2/min")
    body = {
        "email": patient.email,
        "password": "violet-Harbor-lantern-93",
        "first_name": "Pat",
        "last_name": "Doe",
    }
    client = APIClient()

    answers = [client.post(REGISTER_URL, body) for _ in range(3)]

    assert [a.status_code for a in answers] == [400, 400, 429]
    assert "email" in answers[0].json()
