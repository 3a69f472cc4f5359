"""The /fhir/R4/ protocol (DESIGN-R2 §R2-1): metadata, JSON only, OperationOutcome for every
error with its issue code, 401 with WWW-Authenticate: Bearer, the $find throttle, CORS and
FHIR_VALIDATE_RESPONSES."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from rest_framework.throttling import SimpleRateThrottle

from core.exceptions import server_error
from formats.fhir.validation import FHIRBodyInvalid, validate_body
from tests.support.clients import client_for
from tests.support.factories import ConfirmedAppointmentFactory, TimeBlockFactory, in_days
from tests.support.fhir import BASE, fhir_body, fhir_get, outcome

pytestmark = pytest.mark.django_db

APP_ORIGIN = "https://app.example.com"


def z(moment) -> str:
    return moment.isoformat()


def test_anonymous_metadata_lists_the_five_resources_their_searches_and_find(anon_client):
    body = fhir_get(anon_client, "metadata")

    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    rest = body["rest"][0]
    kinds = {r["type"]: r for r in rest["resource"]}
    assert set(kinds) == {"Practitioner", "Schedule", "Slot", "Appointment", "Patient"}
    slot_params = {p["name"] for p in kinds["Slot"]["searchParam"]}
    assert slot_params == {"_id", "schedule", "start", "status", "service-type"}
    appointment_params = {p["name"] for p in kinds["Appointment"]["searchParam"]}
    assert appointment_params == {
        "_id",
        "patient",
        "practitioner",
        "date",
        "status",
        "service-type",
    }
    assert [op["name"] for op in kinds["Appointment"]["operation"]] == ["find"]


@pytest.mark.parametrize(
    "accept", ["application/fhir+json", "application/json", "*/*", "application/json, */*;q=0.1"]
)
def test_json_accepts_get_fhir_json(anon_client, accept):
    response = anon_client.get(f"{BASE}metadata", HTTP_ACCEPT=accept)
    assert fhir_body(response)["resourceType"] == "CapabilityStatement"


@pytest.mark.parametrize(
    ("query", "accept"),
    [("?_format=xml", None), ("?_format=application/fhir+xml", None), ("", "application/fhir+xml")],
)
def test_xml_only_is_a_406_operation_outcome(anon_client, query, accept):
    extra = {"HTTP_ACCEPT": accept} if accept else {}
    response = anon_client.get(f"{BASE}Slot{query}", **extra)
    outcome(fhir_body(response, 406), "not-supported")


def test_a_date_without_offset_is_a_400_invalid(anon_client):
    body = fhir_get(anon_client, "Slot?start=ge2030-01-01T10:00:00", 400)
    assert "start" in outcome(body, "invalid")


def test_a_date_alone_is_a_400_too(anon_client):
    outcome(fhir_get(anon_client, "Slot?start=ge2030-01-01", 400), "invalid")


def test_writes_are_405_not_supported(anon_client):
    response = anon_client.post(f"{BASE}Slot", {}, format="json")
    outcome(fhir_body(response, 405), "not-supported")
    response = anon_client.delete(f"{BASE}Slot/1")
    outcome(fhir_body(response, 405), "not-supported")


@pytest.mark.parametrize("path", ["Nope", "Nope/1", "Slot/abc", "Slot/1/extra", ""])
def test_unknown_paths_and_ids_are_404_not_found(anon_client, path):
    outcome(fhir_get(anon_client, path, 404), "not-found")


def test_outside_r4_is_a_404_operation_outcome_too(anon_client):
    outcome(fhir_get(anon_client, "/fhir/", 404), "not-found")


def test_a_2_mib_find_is_a_413_too_long_and_reads_nothing(anon_client):
    body = json.dumps({"resourceType": "Parameters", "padding": "x" * (2 * 1024 * 1024)})
    response = anon_client.post(
        f"{BASE}Appointment/$find", body, content_type="application/fhir+json"
    )
    outcome(fhir_body(response, 413), "too-long")


def test_anonymous_appointment_read_is_401_login_with_bearer_challenge(anon_client):
    appointment = ConfirmedAppointmentFactory()
    response = anon_client.get(f"{BASE}Appointment/{appointment.pk}")
    outcome(fhir_body(response, 401), "login")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_401_login_with_bearer_challenge():
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = client.get(f"{BASE}Patient")
    outcome(fhir_body(response, 401), "login")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_find_is_throttled_per_address_with_a_429_throttled(anon_client, monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "fhir_find": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    query = f"Appointment/$find?start={in_days(1).isoformat()}&end={in_days(2).isoformat()}"
    query = query.replace("+", "%2B")
    for _ in range(2):
        fhir_get(anon_client, query)
    response = anon_client.get(f"{BASE}{query}")
    outcome(fhir_body(response, 429), "throttled")
    assert int(response["Retry-After"]) > 0
    # Other reads are not counted against $find.
    fhir_get(anon_client, "Slot")


def test_the_settings_default_for_the_find_throttle(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["fhir_find"] == "30/min"
    assert settings.FHIR_VALIDATE_RESPONSES is False


def test_a_server_error_under_fhir_is_a_500_exception_outcome():
    request = RequestFactory().get(f"{BASE}Slot")
    response = server_error(request)
    assert response.status_code == 500
    body = fhir_body(response, 500)
    assert "X-Request-ID" in outcome(body, "exception")


def test_fhir_preflight_passes_cors(anon_client, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP_ORIGIN]
    response = anon_client.options(
        f"{BASE}Appointment/$find",
        HTTP_ORIGIN=APP_ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "authorization" in response["Access-Control-Allow-Headers"]
    read = anon_client.get(f"{BASE}metadata", HTTP_ORIGIN=APP_ORIGIN)
    assert read["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_answers_are_not_cached_by_browsers_or_proxies(anon_client):
    assert anon_client.get(f"{BASE}metadata")["Cache-Control"] == "no-store"


def test_validate_responses_at_run_time_passes_good_bodies(settings, staff, doctor):
    settings.FHIR_VALIDATE_RESPONSES = True
    TimeBlockFactory(doctor=doctor)
    ConfirmedAppointmentFactory(time_block__doctor=doctor)
    client = client_for(staff)
    for path in ("metadata", "Slot", "Appointment", "Practitioner", "Schedule", "Patient"):
        fhir_get(client, path)


@pytest.mark.parametrize(
    "bad",
    [
        {
            "resourceType": "Slot",
            "schedule": {"reference": "Schedule/1"},
            "status": "open",
            "start": "2030-01-01T10:00:00Z",
            "end": "2030-01-01T10:30:00Z",
        },
        {
            "resourceType": "Appointment",
            "status": "booked",
            "participant": [{"actor": {"reference": "Patient/1"}, "status": "accepted"}],
        },
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2030-01-01T10:00:00Z",
            "participant": [{"actor": {"reference": "Patient/1"}, "status": "accepted"}],
        },
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2030-01-01T10:00:00Z",
            "end": "2030-01-01T10:30:00Z",
            "cancelationReason": {"coding": [{"code": "pat"}]},
            "participant": [{"actor": {"reference": "Patient/1"}, "status": "accepted"}],
        },
        {
            "resourceType": "Appointment",
            "status": "cancelled",
            "cancelationReason": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/"
                        "appointment-cancellation-reason",
                        "code": "nope",
                    }
                ]
            },
            "participant": [{"actor": {"reference": "Patient/1"}, "status": "accepted"}],
        },
        {"resourceType": "Appointment", "status": "booked"},
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "oops"}]},
    ],
)
def test_the_validator_refuses_bodies_breaking_value_sets_and_invariants(bad):
    with pytest.raises(FHIRBodyInvalid):
        validate_body(bad)
