"""Validation findings and the error that carries them out of the write path."""

from __future__ import annotations

from dataclasses import dataclass

from ehr.fhir.errors import FhirError


@dataclass(frozen=True, slots=True)
class Issue:
    severity: str  # "error" | "warning" | "information"
    code: str  # OperationOutcome issue type: structure, required, value, code-invalid, invariant...
    expression: str  # FHIRPath location, e.g. "Patient.name[0].given[1]"
    message: str

    def as_outcome_issue(self, prefix: str = "") -> dict:
        where = self.expression
        if prefix:
            # "Patient.birthDate" inside "Bundle.entry[1].resource" is "...resource.birthDate"
            rest = where.split(".", 1)[1] if "." in where else ""
            where = f"{prefix}.{rest}" if rest else prefix
        return {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.message,
            "expression": [where],
        }


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity in ("error", "fatal")]


class ValidationFailed(FhirError):
    """The resource breaks the definitions; nothing was stored."""

    code = "invalid"

    def __init__(self, issues: list[Issue], status: int = 400):
        first = errors(issues)[0] if errors(issues) else issues[0]
        count = len(errors(issues))
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{first.expression}: {first.message}{more}", status=status)
        self.issues = issues
        self.expression = first.expression
