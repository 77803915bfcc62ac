"""Access rules at the engine boundary.

The engine does not know users, roles or scopes. The caller (the API adapter, a screen) installs
a ``Policy`` for the length of a request, and the engine's chokepoints consult it: the
repository before it returns or writes a resource, the search before it builds its SQL (which
types, which patient compartment, which granular scope constraints) and before it adds
included resources. Because every interaction, Bundle entry, ``$everything`` and export goes
through those few functions, a rule cannot be forgotten by one of them. Without a policy
(internal work, the command line) nothing is restricted.

Actions are the SMART letters: c(reate) r(ead) u(pdate) d(elete) s(earch), plus e(xport).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from ehr.fhir.errors import Forbidden

# Reference data that holds nothing about a patient: readable with a patient-context token
# (an app shows the practitioner, organization, location or medication a record points to).
SHARED_TYPES = frozenset(
    {
        "Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService",
        "Endpoint", "Medication", "Substance", "ValueSet", "CodeSystem", "ConceptMap",
        "NamingSystem", "StructureDefinition", "SearchParameter", "OperationDefinition",
        "CapabilityStatement", "Questionnaire", "PlanDefinition", "ActivityDefinition",
        "Library", "Measure",
    }
)  # fmt: skip


class Policy(Protocol):
    """What the engine asks of the caller's identity."""

    patient: str | None  # the patient in context, if the caller is limited to one anywhere

    def permits(self, action: str, resource_type: str) -> bool: ...

    def patient_for(self, action: str, resource_type: str) -> str | None:
        """The patient whose compartment (and SHARED_TYPES) limits this action, or None."""
        ...

    def constraints(self, action: str, resource_type: str) -> list[list[tuple[str, str]]]:
        """Granular scope limits: the resource must match one of the parameter lists.
        Empty: unconstrained."""
        ...


_CURRENT: ContextVar[Policy | None] = ContextVar("access_policy", default=None)


@contextmanager
def acting_as(policy: Policy | None) -> Iterator[None]:
    token = _CURRENT.set(policy)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> Policy | None:
    return _CURRENT.get()


_VERBS = {
    "c": "create",
    "r": "read",
    "u": "update",
    "d": "delete",
    "s": "search",
    "e": "export",
}


def require(action: str, resource_type: str) -> None:
    policy = _CURRENT.get()
    if policy is not None and not policy.permits(action, resource_type):
        raise Forbidden(f"You may not {_VERBS.get(action, action)} {resource_type} resources")


def permits(action: str, resource_type: str) -> bool:
    policy = _CURRENT.get()
    return policy is None or policy.permits(action, resource_type)


def patient() -> str | None:
    policy = _CURRENT.get()
    return policy.patient if policy is not None else None


def constraints(action: str, resource_type: str) -> list[list[tuple[str, str]]]:
    policy = _CURRENT.get()
    return policy.constraints(action, resource_type) if policy is not None else []


def in_patient_scope(
    resource_type: str, resource_id: str, patients: list[str], action: str = "c"
) -> bool:
    """Whether a resource (its id and the patient compartments it belongs to) is within the
    current patient restriction."""
    policy = _CURRENT.get()
    pid = policy.patient_for(action, resource_type) if policy is not None else None
    if pid is None or resource_type in SHARED_TYPES:
        return True
    if resource_type == "Patient":
        return resource_id == pid
    return pid in patients


def outside_patient(resource_type: str, resource_id: str) -> Forbidden:
    return Forbidden(f"{resource_type}/{resource_id} is outside the patient in context")
