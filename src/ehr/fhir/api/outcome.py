"""OperationOutcome resources for errors, warnings and information."""

from __future__ import annotations

from ehr.fhir.errors import FhirError


def issue(severity: str, code: str, message: str, expression: str | None = None) -> dict:
    item: dict = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        item["expression"] = [expression]
    return item


def outcome(*issues: dict) -> dict:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


def from_error(err: FhirError) -> dict:
    found = getattr(err, "issues", None)
    if found:
        prefix = getattr(err, "prefix", "")
        return outcome(*[i.as_outcome_issue(prefix) for i in found])
    return outcome(issue("error", err.code, err.message, err.expression))


def information(message: str) -> dict:
    return outcome(issue("information", "informational", message))
