"""GET /fhir/R4/metadata: what the facade serves, its search parameters and $find."""

from __future__ import annotations

from fhir.resources.R4B.capabilitystatement import (
    CapabilityStatement,
    CapabilityStatementImplementation,
    CapabilityStatementRest,
    CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction,
    CapabilityStatementRestResourceOperation,
    CapabilityStatementRestResourceSearchParam,
    CapabilityStatementRestSecurity,
    CapabilityStatementSoftware,
)
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding

FHIR_VERSION = "4.0.1"
# Capabilities change only with a release: one fixed date.
PUBLISHED = "2026-12-01"
FIND_DEFINITION = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-find"

# (resource type, [(search parameter, type)]) in the order the statement lists them.
RESOURCES = (
    ("Practitioner", [("_id", "token"), ("name", "string")]),
    ("Schedule", [("_id", "token"), ("actor", "reference"), ("service-type", "token")]),
    (
        "Slot",
        [
            ("_id", "token"),
            ("schedule", "reference"),
            ("start", "date"),
            ("status", "token"),
            ("service-type", "token"),
        ],
    ),
    (
        "Appointment",
        [
            ("_id", "token"),
            ("patient", "reference"),
            ("practitioner", "reference"),
            ("date", "date"),
            ("status", "token"),
            ("service-type", "token"),
        ],
    ),
    ("Patient", [("_id", "token")]),
)


def capability_statement(base_url: str) -> CapabilityStatement:
    """The statement, with the server's base URL."""
    find = CapabilityStatementRestResourceOperation(name="find", definition=FIND_DEFINITION)
    resources = []
    for kind, searches in RESOURCES:
        resources.append(
            CapabilityStatementRestResource(
                type=kind,
                interaction=[
                    CapabilityStatementRestResourceInteraction(code="read"),
                    CapabilityStatementRestResourceInteraction(code="search-type"),
                ],
                searchParam=[
                    CapabilityStatementRestResourceSearchParam(name=name, type=kind_)
                    for name, kind_ in searches
                ],
                operation=[find] if kind == "Appointment" else None,
            )
        )
    return CapabilityStatement(
        status="active",
        date=PUBLISHED,
        kind="instance",
        software=CapabilityStatementSoftware(name="medappt"),
        implementation=CapabilityStatementImplementation(
            description="medappt FHIR R4 read facade", url=base_url
        ),
        fhirVersion=FHIR_VERSION,
        format=["application/fhir+json", "json"],
        rest=[
            CapabilityStatementRest(
                mode="server",
                security=CapabilityStatementRestSecurity(
                    service=[
                        CodeableConcept(
                            coding=[
                                Coding(
                                    system="http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    code="OAuth",
                                )
                            ],
                            text="Bearer JWT from POST /api/v1/auth/token/",
                        )
                    ]
                ),
                resource=resources,
            )
        ],
    )
