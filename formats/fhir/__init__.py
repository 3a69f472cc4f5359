"""The FHIR R4 read facade under /fhir/R4/ (DESIGN-R2 §R2-1, docs/api-rules.md "FHIR").

Not named `fhir` at the top level: fhir.resources owns that import name.
"""
