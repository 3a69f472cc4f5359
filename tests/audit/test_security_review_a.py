"""Security review, round 2 (issue 15): audit findings closed on sec-a (SECURITY.md)."""

from __future__ import annotations

import pytest
import time_machine
from django.db import DatabaseError, transaction

from audit.models import AuditEvent
from audit.services import audit_record
from core.context import RequestContext, reset_context, set_context
from tests.audit.helpers import raw_sql
from tests.audit.test_api_audit import T0, WINDOW, export_csv

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------
# Finding 10: CSV formulas are neutralised after any leading whitespace too
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        ' =HYPERLINK("https://evil.example")',
        "   +cmd|' /C calc'!A0",
        "\n-2+3",
        " \t@SUM(1+1)",
        "\u00a0=1+1",
        "\u3000=1+1",
        "\r\n=1+1",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_export_neutralises_formulas_behind_leading_whitespace(clinic_admin_client, value):
    token = set_context(RequestContext(ip="203.0.113.5", user_agent=value, request_id="r-1"))
    try:
        with time_machine.travel(T0, tick=False):
            audit_record(action=value, target_type="user", target_id=value, actor=None)
    finally:
        reset_context(token)

    _, (row,) = export_csv(clinic_admin_client, **WINDOW)

    for column in ("user_agent", "action", "target_id"):
        assert row[column] == "'" + value, column


@pytest.mark.parametrize("value", ["Mozilla/5.0 (X11)", " plain text", "a=b", "user.created"])
def test_export_leaves_cells_without_a_formula_alone(clinic_admin_client, value):
    token = set_context(RequestContext(user_agent=value))
    try:
        with time_machine.travel(T0, tick=False):
            audit_record(action="test.event", actor=None)
    finally:
        reset_context(token)

    _, (row,) = export_csv(clinic_admin_client, **WINDOW)

    assert row["user_agent"] == value


# ---------------------------------------------------------------------------
# Finding 11: TRUNCATE of the audit table is refused on PostgreSQL
# ---------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE audit_auditevent",
        "TRUNCATE TABLE ONLY audit_auditevent RESTART IDENTITY",
        "TRUNCATE accounts_user, audit_auditevent CASCADE",
    ],
)
def test_truncating_the_audit_table_is_refused(sql):
    event = audit_record(action="user.updated", target_type="user", target_id=7, actor=None)

    with pytest.raises(DatabaseError) as error, transaction.atomic():
        raw_sql(sql, None)

    assert "append-only" in str(error.value)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# ---------------------------------------------------------------------------
# Finding 18: the client's request id rides in the sealed data; request_id is the server's
# ---------------------------------------------------------------------------
def test_the_clients_request_id_is_sealed_with_the_event_and_the_chain_verifies():
    from audit.selectors import audit_verify
    from audit.services import audit_seal

    before = audit_record(action="test.before", actor=None)  # a row without a client id
    token = set_context(
        RequestContext(request_id="f" * 32, client_request_id="client-0001", user_agent="UA/1")
    )
    try:
        event = audit_record(action="test.event", data={"id": 7}, actor=None)
    finally:
        reset_context(token)

    assert (event.request_id, event.data) == (
        "f" * 32,
        {"id": 7, "client_request_id": "client-0001"},
    )
    assert before.data == {}
    audit_seal()
    assert audit_verify().ok
