"""Schemathesis against our own OpenAPI schema: every operation, three roles.

Every generated request is sent as a patient, a doctor and a clinic admin with real JWTs,
through the whole WSGI stack, against a small clinic made in the fixture. A response must
never be a 5xx and must match what the schema documents for that operation: the status
code, the content type and the body.

Bounded and reproducible: a fixed seed, deterministic generation, a few examples per
operation, no shrinking. The database is the test's transaction, so nothing outlives it.
The schema itself is fetched through the WSGI app when the module is collected, so each
operation becomes its own test item (named `[METHOD path]`).
"""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from medappt.wsgi import application
from scheduling.services import review_create
from tests.support.factories import (
    AdminFactory,
    CancelledAppointmentFactory,
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    StartedConfirmedAppointmentFactory,
    TimeBlockFactory,
)

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

# Bounded for CI; FUZZ_EXAMPLES=200 FUZZ_SEED=7 pytest -m fuzz digs deeper locally.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "20260214"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            "database": "none",
        },
    }
)


# Ids of the rows the fixture made: generated path ids are steered onto them (below).
KNOWN_IDS: list[str] = []


@pytest.fixture
def clinic(db) -> dict[str, object]:
    """Users of every role, a doctor's free and booked blocks, visits in several states."""
    patient = PatientFactory(email="fuzz.patient@example.com")
    doctor = DoctorFactory(email="fuzz.doctor@example.com")
    admin = AdminFactory(email="fuzz.admin@example.com")
    staff = StaffFactory()
    other_doctor = DoctorFactory()
    blocks = [
        *TimeBlockFactory.create_batch(4, doctor=doctor),
        *TimeBlockFactory.create_batch(2, doctor=other_doctor),
    ]
    appointments = [
        PendingAppointmentFactory(patient=patient, time_block__doctor=doctor),
        ConfirmedAppointmentFactory(patient=patient, time_block__doctor=doctor),
        CancelledAppointmentFactory(patient=patient, time_block__doctor=doctor),
        StartedConfirmedAppointmentFactory(patient=patient, time_block__doctor=doctor),
        CompletedAppointmentFactory(patient=patient, time_block__doctor=doctor),
        CompletedAppointmentFactory(patient=patient, time_block__doctor=other_doctor),
    ]
    review = review_create(
        actor=patient, appointment=appointments[4], rating=4, comment="Kind and thorough."
    )
    rows = [patient, doctor, admin, staff, other_doctor, *blocks, *appointments, review]
    KNOWN_IDS[:] = sorted({str(row.pk) for row in rows})
    yield {"patient": patient, "doctor": doctor, "admin": admin}
    KNOWN_IDS.clear()


@pytest.fixture(autouse=True)
def _wsgi_requests_in_the_test_transaction(monkeypatch):
    """Throttles high enough to reach the views; requests keep the test's connection open."""
    # Django's test client does this too: the end of a request must not close the
    # connection that holds the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        dict.fromkeys(SimpleRateThrottle.THROTTLE_RATES, "100000/min"),
    )
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def role_headers(clinic) -> dict[str, dict[str, str]]:
    return {
        role: {"Authorization": f"Bearer {RefreshToken.for_user(clinic[role]).access_token}"}
        for role in ("patient", "doctor", "admin")
    }


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)


@schema.hook
def map_path_parameters(context, path_parameters: dict[str, object] | None):
    """Even generated ids become ids of real rows, so requests reach past the 404s."""
    if not path_parameters:
        return path_parameters
    return {name: _steered(value) for name, value in path_parameters.items()}


def _steered(value: object) -> object:
    if KNOWN_IDS and isinstance(value, str) and value.isdigit() and int(value) % 2 == 0:
        return KNOWN_IDS[int(value) // 2 % len(KNOWN_IDS)]
    return value


@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_every_operation_conforms_to_the_schema_for_every_role(case, role_headers):
    for headers in role_headers.values():
        case.call_and_validate(headers=headers, checks=CHECKS)
