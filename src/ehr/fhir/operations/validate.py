"""``$validate``: check a resource against the definitions (and a profile) without storing it."""

from __future__ import annotations

from ehr.fhir.api import outcome as oo
from ehr.fhir.errors import FhirError
from ehr.fhir.validation.validator import validate


def _from_parameters(body: dict) -> tuple[object, list[str]]:
    resource = None
    profiles: list[str] = []
    for p in body.get("parameter") or []:
        if not isinstance(p, dict):
            continue
        if p.get("name") == "resource":
            resource = p.get("resource")
        elif p.get("name") == "profile":
            url = p.get("valueUri") or p.get("valueCanonical") or p.get("valueString")
            if url:
                profiles.append(url)
    if resource is None:
        raise FhirError("Parameters for $validate need a 'resource' parameter")
    return resource, profiles


def run(body: object, resource_type: str | None, profiles: list[str]) -> dict:
    """An OperationOutcome describing every problem (or saying there are none)."""
    if (
        isinstance(body, dict)
        and body.get("resourceType") == "Parameters"
        and resource_type != "Parameters"
    ):
        body, more = _from_parameters(body)
        profiles = [*profiles, *more]
    if not isinstance(body, dict):
        raise FhirError("$validate expects a resource or a Parameters resource")
    if resource_type and body.get("resourceType") != resource_type:
        raise FhirError(
            f"The resource is a {body.get('resourceType')}, but $validate was called on "
            f"{resource_type}",
            expression="resourceType",
        )
    issues = validate(body, profiles)
    if not issues:
        return oo.outcome(oo.issue("information", "informational", "No problems found"))
    return oo.outcome(*[i.as_outcome_issue() for i in issues])
