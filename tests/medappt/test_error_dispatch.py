"""One error dispatcher formats the errors Django and the middleware answer by path prefix:
JSON under /api/, plain text under /calendar/, an HTML page under /portal/, Django's own
pages elsewhere; CORS covers the machine-readable prefixes."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_an_unrouted_path_under_each_prefix_gets_its_format():
    client = Client()

    api = client.get("/api/v1/nowhere/")
    assert (api.status_code, api["Content-Type"]) == (404, "application/json")
    assert api.json() == {"detail": "Not found."}

    calendar = client.get("/calendar/nowhere.ics")
    assert calendar.status_code == 404
    assert calendar["Content-Type"] == "text/plain; charset=utf-8"
    assert calendar.content == b"Not found.\n"

    portal = client.get("/portal/nowhere/")
    assert portal.status_code == 404
    assert portal["Content-Type"] == "text/html; charset=utf-8"
    assert b"<h1>Not found.</h1>" in portal.content


def test_an_oversized_body_under_calendar_is_a_plain_413(settings):
    response = Client().generic(
        "POST",
        "/calendar/x.ics",
        b"x" * (settings.MAX_JSON_BODY_BYTES + 1),
        content_type="text/plain",
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("path", ["/api/v1/doctors/", "/fhir/R4/metadata", "/calendar/x.ics"])
def test_machine_readable_prefixes_answer_cors_preflights(settings, path):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = Client().options(
        path,
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="idempotency-key",
    )
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "idempotency-key" in response["Access-Control-Allow-Headers"]


def test_cors_exposes_the_round_2_headers(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = Client().get("/api/v1/doctors/", HTTP_ORIGIN="https://app.example.com")
    exposed = {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert {"retry-after", "x-request-id", "idempotent-replayed", "etag"} <= exposed


def test_the_portal_and_admin_are_not_cors_endpoints(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = Client().get("/portal/nowhere/", HTTP_ORIGIN="https://app.example.com")
    assert "Access-Control-Allow-Origin" not in response
