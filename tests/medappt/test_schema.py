"""The OpenAPI 3 schema and its UIs."""

import json
import re
from io import StringIO

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

# Every code a 409 may carry (docs/api-rules.md).
CONFLICT_CODES = {
    "slot_taken",
    "block_in_past",
    "block_too_soon",
    "block_withdrawn",
    "patient_overlap",
    "too_many_active",
    "block_overlap",
    "illegal_transition",
    "cancellation_too_late",
    "not_started",
    "block_has_appointment",
    "doctor_unavailable",
    "already_doctor",
    "not_a_patient",
    "already_suspended",
    "not_suspended",
    "cannot_target_self",
    "not_completed",
    "already_reviewed",
    "own_review",
    "review_locked",
    # Round 2
    "slot_held",
    "hold_expired",
    "hold_limit",
    "idempotency_in_progress",
    "waitlist_duplicate",
    "waitlist_limit",
    "offer_expired",
    "offer_taken",
    "checkin_not_open",
    "doctor_on_leave",
    "leave_overlap",
    "feed_limit",
    "illegal_role_change",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "fonts.googleapis.com")


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def resolve(schema: dict, ref: str) -> dict:
    node = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_schema_command_validates_without_warnings(tmp_path):
    target = tmp_path / "openapi.yaml"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(target),
        stdout=StringIO(),
        stderr=StringIO(),
    )
    document = yaml.safe_load(target.read_text())
    assert document["openapi"].startswith("3.")
    assert any(path.startswith("/api/v1/") for path in document["paths"])


@pytest.mark.django_db
def test_schema_endpoint_serves_openapi_3_as_json(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "medappt API"


@pytest.mark.django_db
def test_schema_endpoint_honours_the_accept_header(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


@pytest.mark.django_db
def test_schema_endpoint_serves_yaml_by_default(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_use_only_local_static_files(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for host in CDN_HOSTS:
        assert host not in html
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets, "the page loads its UI from somewhere"
    for asset in assets:
        if asset.startswith(f"{url}?"):  # Swagger UI's start script: the view serves it (CSP)
            continue
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file"


def test_every_operation_documents_401(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, op in operations(schema)
        if "401" not in op["responses"]
    ]
    assert missing == []


def test_every_write_operation_documents_400(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, op in operations(schema)
        if method in WRITE_METHODS and "400" not in op["responses"]
    ]
    assert missing == []


def test_write_operations_document_409_and_413_with_their_shapes(schema):
    for path, method, op in operations(schema):
        if method not in WRITE_METHODS:
            continue
        conflict = op["responses"]["409"]["content"]["application/json"]["schema"]
        assert conflict == {"$ref": "#/components/schemas/Conflict"}, (method, path)
        too_large = op["responses"]["413"]["content"]["application/json"]["schema"]
        assert resolve(schema, too_large["$ref"])["properties"] == {"detail": {"type": "string"}}


def test_throttled_operations_document_429(schema):
    for path in ("/api/v1/auth/token/", "/api/v1/auth/register/", "/api/v1/auth/password/reset/"):
        assert "429" in schema["paths"][path]["post"]["responses"], path


def test_role_restricted_operations_document_403_and_public_ones_do_not(schema):
    assert "403" in schema["paths"]["/api/v1/users/"]["get"]["responses"]
    assert "403" not in schema["paths"]["/api/v1/doctors/"]["get"]["responses"]


def test_conflict_schema_enumerates_the_contract_codes(schema):
    conflict = schema["components"]["schemas"]["Conflict"]
    assert set(conflict["required"]) == {"detail", "code"}
    code = conflict["properties"]["code"]
    if "$ref" in code:
        code = resolve(schema, code["$ref"])
    assert set(code["enum"]) == CONFLICT_CODES


def test_api_is_documented_with_bearer_jwt(schema):
    scheme = schema["components"]["securitySchemes"]["jwtAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schema["paths"]["/api/v1/auth/me/"]["get"]["security"] == [{"jwtAuth": []}]


def test_operations_with_a_body_document_415(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, op in operations(schema)
        if "requestBody" in op and "415" not in op["responses"]
    ]
    assert missing == []
    assert "415" not in schema["paths"]["/api/v1/appointments/{id}/confirm/"]["post"]["responses"]


@pytest.mark.django_db
def test_a_body_in_an_unparsed_media_type_is_a_json_415(client):
    response = client.post("/api/v1/auth/register/", "email=a", content_type="text/plain")
    assert response.status_code == 415
    assert set(response.json()) == {"detail"}


def test_errors_of_the_csv_export_are_documented_as_json(schema):
    responses = schema["paths"]["/api/v1/audit/events/export/"]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"text/csv"}
    for code in ("400", "401", "403", "404"):
        assert set(responses[code]["content"]) == {"application/json"}, code


@pytest.mark.django_db
def test_errors_of_the_csv_export_are_json_even_when_csv_is_asked_for(clinic_admin_client):
    response = clinic_admin_client.get(
        "/api/v1/audit/events/export/", {"from": "2030-01-01T00:00:00Z"}, HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"to"}


@pytest.mark.django_db
def test_options_describes_the_endpoint_without_a_500_for_any_role(role_clients):
    for client in role_clients.values():
        for url in ("/api/v1/auth/logout/", "/api/v1/auth/register/", "/api/v1/appointments/"):
            response = client.options(url)
            assert response.status_code == 200, (url, response.content)
            assert response["Content-Type"] == "application/json"
            assert "actions" not in response.json()
