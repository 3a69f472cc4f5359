"""Every FHIR body a test sees goes through here: it must come as application/fhir+json,
parse with the fhir.resources R4B model of its resourceType, and pass the value-set and
Appointment invariant checks (app-2, app-3, app-4) of formats.fhir.validation."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from formats.fhir.validation import validate_body

FHIR_JSON = "application/fhir+json"
BASE = "/fhir/R4/"


def fhir_body(response, status: int = 200) -> dict[str, Any]:
    """The checked body of a /fhir/ answer with the expected status."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith(FHIR_JSON), response["Content-Type"]
    data = json.loads(response.content)
    get_fhir_model_class(data["resourceType"]).model_validate_json(response.content)
    validate_body(data)
    return data


def fhir_get(client, path: str, status: int = 200, **extra) -> dict[str, Any]:
    """GET a /fhir/R4/ path (relative to it unless it starts with /) and check the body."""
    url = path if path.startswith(("/", "http")) else f"{BASE}{path}"
    return fhir_body(client.get(url, **extra), status)


def outcome(body: dict[str, Any], code: str) -> str:
    """The diagnostics of an OperationOutcome whose (first) issue has `code`."""
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"][0]["code"] == code, body
    assert body["issue"][0]["severity"] == "error", body
    return body["issue"][0].get("diagnostics", "")


def resources(bundle: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    """The matched resources of a searchset bundle (outcome entries left out)."""
    assert bundle["resourceType"] == "Bundle", bundle
    assert bundle["type"] == "searchset", bundle
    found = [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
    if kind:
        assert all(r["resourceType"] == kind for r in found), found
    return found


def ids(bundle: dict[str, Any]) -> list[str]:
    return [r["id"] for r in resources(bundle)]


def outcomes(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in bundle.get("link", []) if x["relation"] == relation), None)


def parsed_bundle(response) -> Bundle:
    """The answer as a fhir.resources Bundle, as a FHIR client library would read it."""
    fhir_body(response)
    return Bundle.model_validate_json(response.content)
