"""What every FHIR body we answer must satisfy (DESIGN-R2 §R2-1): it parses with the
fhir.resources R4B model of its resourceType, its coded statuses are in their value sets, and
Appointments hold the invariants app-2, app-3 and app-4. The tests check every body with it;
FHIR_VALIDATE_RESPONSES checks each answer at run time."""

from __future__ import annotations

import datetime
import json
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from formats.fhir.mapping import CANCELLATION_SYSTEM

APPOINTMENT_STATUSES = {
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
}
PARTICIPANT_STATUSES = {"accepted", "declined", "tentative", "needs-action"}
SLOT_STATUSES = {"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"}
# http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason (the codes we send,
# with the rest of the code system's top level).
CANCELATION_CODES = {
    "pat",
    "pat-crs",
    "pat-cpp",
    "pat-dec",
    "pat-fb",
    "pat-lt",
    "pat-mt",
    "pat-mv",
    "pat-preg",
    "pat-swl",
    "pat-ucp",
    "prov",
    "prov-pers",
    "prov-dch",
    "prov-edu",
    "prov-hosp",
    "prov-labs",
    "prov-mri",
    "prov-onc",
    "maint",
    "meds-inc",
    "other",
    "oth-cms",
    "oth-err",
    "oth-fin",
    "oth-iv",
    "oth-int",
    "oth-mu",
    "oth-room",
    "oth-oerr",
    "oth-swie",
    "oth-weath",
}
ISSUE_SEVERITIES = {"fatal", "error", "warning", "information"}
ISSUE_CODES = {
    "invalid",
    "structure",
    "required",
    "value",
    "invariant",
    "security",
    "login",
    "unknown",
    "expired",
    "forbidden",
    "suppressed",
    "processing",
    "not-supported",
    "duplicate",
    "multiple-matches",
    "not-found",
    "deleted",
    "too-long",
    "code-invalid",
    "extension",
    "too-costly",
    "business-rule",
    "conflict",
    "transient",
    "lock-error",
    "no-store",
    "exception",
    "timeout",
    "incomplete",
    "throttled",
    "informational",
}
BUNDLE_LINK_RELATIONS = {"self", "next", "previous", "first", "last"}


class FHIRBodyInvalid(ValueError):
    """A body breaks its model, a value set or an invariant."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise FHIRBodyInvalid(message)


def _check_appointment(body: dict[str, Any]) -> None:
    status = body.get("status")
    _require(status in APPOINTMENT_STATUSES, f"Appointment.status {status!r}")
    for participant in body.get("participant", []):
        _require(participant.get("status") in PARTICIPANT_STATUSES, "participant.status")
        _require("actor" in participant or "type" in participant, "app-1")
    _require(("start" in body) == ("end" in body), "app-2: start and end, or neither")
    _require(
        "start" in body or status in ("proposed", "cancelled", "waitlist"),
        "app-3: only proposed, cancelled or waitlist appointments lack start/end",
    )
    reason = body.get("cancelationReason")
    _require(reason is None or status in ("cancelled", "noshow"), "app-4: cancelationReason")
    for coding in (reason or {}).get("coding", []):
        _require(coding.get("system") == CANCELLATION_SYSTEM, "cancelationReason system")
        _require(coding.get("code") in CANCELATION_CODES, f"cancelationReason {coding!r}")


def _check(body: dict[str, Any]) -> None:
    kind = body.get("resourceType")
    if kind == "Appointment":
        _check_appointment(body)
    elif kind == "Slot":
        _require(body.get("status") in SLOT_STATUSES, f"Slot.status {body.get('status')!r}")
        start = datetime.datetime.fromisoformat(body["start"])
        _require(start < datetime.datetime.fromisoformat(body["end"]), "Slot: end after start")
    elif kind == "OperationOutcome":
        for issue in body.get("issue", []):
            _require(issue.get("severity") in ISSUE_SEVERITIES, "issue.severity")
            _require(issue.get("code") in ISSUE_CODES, f"issue.code {issue.get('code')!r}")
    elif kind == "Bundle":
        for link in body.get("link", []):
            _require(link.get("relation") in BUNDLE_LINK_RELATIONS, "link.relation")
        _require(body.get("type") != "searchset" or "total" in body, "searchset total")
        for entry in body.get("entry", []):
            _check(entry["resource"])


def validate_body(body: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """The body as a dict, after parsing it with its R4B model and checking the value sets
    and invariants; FHIRBodyInvalid names the first problem."""
    data = json.loads(body) if isinstance(body, str | bytes) else body
    kind = data.get("resourceType") if isinstance(data, dict) else None
    _require(isinstance(kind, str), "no resourceType")
    try:
        model = get_fhir_model_class(kind)
        model.model_validate(data)
    except Exception as error:  # pydantic's ValidationError, or an unknown resourceType
        raise FHIRBodyInvalid(f"{kind}: {error}") from error
    _check(data)
    return data
