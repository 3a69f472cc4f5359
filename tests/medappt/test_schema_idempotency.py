"""The schema documents Idempotency-Key where it is accepted: the header, 422, the replay
header, and the round-2 409 codes of holds and keys."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.exceptions import (
    HOLD_EXPIRED,
    HOLD_LIMIT,
    IDEMPOTENCY_IN_PROGRESS,
    IDEMPOTENCY_KEY_REUSED,
    SLOT_HELD,
)

KEYED = {
    ("/api/v1/appointments/", "post"),
    ("/api/v1/holds/", "post"),
    *(
        (f"/api/v1/appointments/{{id}}/{action}/", "post")
        for action in ("confirm", "cancel", "complete", "no-show", "reschedule")
    ),
    ("/api/v1/waitlist/offers/{id}/accept/", "post"),
    ("/api/v1/waitlist/offers/{id}/decline/", "post"),
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def keyed_operations(schema: dict) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        and any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    }


def test_exactly_the_keyed_writes_document_the_header(schema):
    assert keyed_operations(schema) == KEYED


def test_keyed_writes_document_422_and_the_replay_header(schema):
    for path, method in KEYED:
        responses = schema["paths"][path][method]["responses"]
        assert "422" in responses, path
        success = "201" if path.endswith(("appointments/", "holds/", "accept/")) else "200"
        assert "Idempotent-Replayed" in responses[success]["headers"], path
        assert "Idempotent-Replayed" in responses["409"]["headers"], path
    assert "Unprocessable" in schema["components"]["schemas"]
    assert IDEMPOTENCY_KEY_REUSED in str(schema["components"]["schemas"])


def test_the_conflict_codes_include_holds_and_keys(schema):
    text = str(schema["components"]["schemas"])
    for code in (SLOT_HELD, HOLD_EXPIRED, HOLD_LIMIT, IDEMPOTENCY_IN_PROGRESS):
        assert code in text
