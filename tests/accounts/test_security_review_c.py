"""Security review round 2, finding 7: a password-reset request does the same work whether or
not the address belongs to an account that can be mailed (no enumeration by timing): the
request records the address and queues one job; the job, after the answer has gone, looks
the account up and mails it (R2-9)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.models import EmailMessage
from tests.accounts.helpers import PASSWORD_RESET_URL, REGISTER_URL
from tests.support.factories import InactivePatientFactory, SuspendedPatientFactory

pytestmark = pytest.mark.django_db

SAVEPOINT_NAME = re.compile(r'"s\d+_x\d+"')
PARAMETERS = re.compile(r" WHERE | VALUES ")


def reset_request(email: str, committed) -> dict:
    """Ask for a reset as a new client would; return the request's SQL (parameters stripped,
    so only its shape counts) and the jobs it queued for the commit, then run them."""
    with CaptureQueriesContext(connection) as captured, committed(execute=False) as callbacks:
        response = APIClient().post(PASSWORD_RESET_URL, {"email": email})
    assert response.status_code == 202
    queued = len(callbacks)
    with committed(execute=True):  # the job, as a worker runs it after the answer
        for callback in callbacks:
            callback()
    return {
        "queries": [
            SAVEPOINT_NAME.sub("s", PARAMETERS.split(query["sql"])[0])
            for query in captured.captured_queries
        ],
        "jobs": queued,
    }


def test_a_known_and_an_unknown_address_do_the_same_work(
    patient, django_capture_on_commit_callbacks
):
    known = reset_request(patient.email, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    unknown = reset_request("nobody-here@example.com", django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1  # no mail for the unknown address
    assert known["jobs"] == unknown["jobs"] == 1
    assert known["queries"] == unknown["queries"]


@pytest.mark.parametrize("factory", [SuspendedPatientFactory, InactivePatientFactory])
def test_an_account_that_gets_no_mail_does_the_same_work_too(
    factory, patient, django_capture_on_commit_callbacks
):
    mailed = reset_request(patient.email, django_capture_on_commit_callbacks)
    refused = reset_request(factory().email, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    assert refused["jobs"] == mailed["jobs"] == 1
    assert refused["queries"] == mailed["queries"]


def test_an_unknown_address_queues_no_mail_and_names_no_account(
    django_capture_on_commit_callbacks,
):
    reset_request("nobody-here@example.com", django_capture_on_commit_callbacks)

    assert mail.outbox == []
    assert not EmailMessage.objects.exists()
    (event,) = AuditEvent.objects.filter(action="auth.password_reset_requested")
    assert (event.target_type, event.target_id) == ("", "")
    assert not AuditEvent.objects.filter(action="auth.password_reset_mailed").exists()


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
