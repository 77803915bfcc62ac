"""Which role may do what to which resource type: the grid and its fast check.

``role_allows`` runs on every API request, so it answers from an in-process set. Each process
looks at the one-row generation counter at most once a second and reloads the grid when an
administrator has changed it, so a change reaches every process within about a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from ehr.fhir import definitions
from ehr.identity.principal import ROLES

ACTIONS = "crudse"
ACTION_NAMES = {
    "c": "create",
    "r": "read",
    "u": "update",
    "d": "delete",
    "s": "search",
    "e": "export",
}

# Groups for the administrator's grid and the defaults. Types not listed fall under "Other".
GROUPS: dict[str, tuple[str, ...]] = {
    "Clinical summary": (
        "AllergyIntolerance", "Condition", "Procedure", "FamilyMemberHistory",
        "ClinicalImpression", "DetectedIssue", "AdverseEvent", "RiskAssessment", "Flag",
    ),
    "Results and diagnostics": (
        "Observation", "DiagnosticReport", "ImagingStudy", "Specimen", "BodyStructure",
        "Media", "MolecularSequence",
    ),
    "Medications and immunizations": (
        "Medication", "MedicationRequest", "MedicationStatement", "MedicationAdministration",
        "MedicationDispense", "MedicationKnowledge", "Immunization", "ImmunizationEvaluation",
        "ImmunizationRecommendation",
    ),
    "Care planning and orders": (
        "CarePlan", "CareTeam", "Goal", "ServiceRequest", "NutritionOrder",
        "VisionPrescription", "RequestGroup", "DeviceRequest", "DeviceUseStatement",
        "SupplyRequest", "SupplyDelivery", "GuidanceResponse",
    ),
    "Notes and documents": (
        "Composition", "DocumentReference", "DocumentManifest", "QuestionnaireResponse",
        "Binary",
    ),
    "People and organizations": (
        "Patient", "RelatedPerson", "Person", "Practitioner", "PractitionerRole", "Group",
        "Organization", "OrganizationAffiliation", "HealthcareService", "Location", "Endpoint",
        "Device",
    ),
    "Visits, scheduling and workflow": (
        "Encounter", "EpisodeOfCare", "Appointment", "AppointmentResponse", "Schedule", "Slot",
        "Task", "Communication", "CommunicationRequest", "List", "Basic",
    ),
    "Financial": (
        "Coverage", "CoverageEligibilityRequest", "CoverageEligibilityResponse", "Claim",
        "ClaimResponse", "ExplanationOfBenefit", "Account", "ChargeItem",
        "ChargeItemDefinition", "Invoice", "PaymentNotice", "PaymentReconciliation",
        "EnrollmentRequest", "EnrollmentResponse", "InsurancePlan", "Contract",
    ),
    "Security and records": ("AuditEvent", "Provenance", "Consent", "Subscription"),
    "Definitions and terminology": (
        "Questionnaire", "CodeSystem", "ValueSet", "ConceptMap", "NamingSystem",
        "StructureDefinition", "StructureMap", "SearchParameter", "OperationDefinition",
        "CapabilityStatement", "CompartmentDefinition", "ImplementationGuide",
        "TerminologyCapabilities", "PlanDefinition", "ActivityDefinition", "Library",
        "Measure", "MeasureReport", "ObservationDefinition", "SpecimenDefinition",
        "MessageDefinition", "EventDefinition", "GraphDefinition",
    ),
}  # fmt: skip
OTHER = "Other (research, products, messaging, testing)"
CLINICAL_GROUPS = (
    "Clinical summary",
    "Results and diagnostics",
    "Medications and immunizations",
    "Care planning and orders",
    "Notes and documents",
)
ADMINISTRATIVE_GROUPS = ("People and organizations", "Visits, scheduling and workflow")

FRONT_DESK_WRITE = (
    "Patient", "RelatedPerson", "Coverage", "Appointment", "AppointmentResponse", "Schedule",
    "Slot", "DocumentReference", "CoverageEligibilityRequest", "CoverageEligibilityResponse",
    "Encounter", "Consent", "Task", "Communication", "CommunicationRequest",
    "Binary", "Organization",
    "Basic",  # recurring appointment series are Basic (scheduling/series.py)
)  # fmt: skip
# Registration records the sexual orientation answer (USCDI) as an Observation; the front desk
# may create one but not read or search clinical observations.
FRONT_DESK_CREATE_ONLY = ("Observation",)
# AllergyIntolerance: the patient banner shows allergies on every patient screen (safety).
FRONT_DESK_READ = (
    "Practitioner", "PractitionerRole", "Location", "HealthcareService",
    "Endpoint", "InsurancePlan", "Person", "AllergyIntolerance",
)  # fmt: skip
BILLER_WRITE = (
    "Claim", "ClaimResponse", "ExplanationOfBenefit", "Coverage", "Account", "ChargeItem",
    "ChargeItemDefinition", "Invoice", "PaymentNotice", "PaymentReconciliation",
    "CoverageEligibilityRequest", "CoverageEligibilityResponse",
)  # fmt: skip
BILLER_READ = (
    "Encounter", "Patient", "RelatedPerson", "Organization", "Practitioner", "PractitionerRole",
    "Location", "InsurancePlan", "Contract",
)  # fmt: skip
PATIENT_CREATE = ("Communication", "QuestionnaireResponse", "Appointment")


def resource_types() -> list[str]:
    return sorted(definitions.resource_types())


def grouped_types() -> list[tuple[str, list[str]]]:
    """(group name, sorted types) for every R4 resource type; each type in one group."""
    known = set(resource_types())
    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for name, types in GROUPS.items():
        members = sorted(t for t in types if t in known)
        seen.update(members)
        out.append((name, members))
    out.append((OTHER, sorted(known - seen)))
    return out


def _group_of() -> dict[str, str]:
    return {t: g for g, types in grouped_types() for t in types}


def default_grid() -> dict[str, dict[str, str]]:
    """role -> resource type -> actions; types a role may not touch are absent."""
    group_of = _group_of()
    types = resource_types()
    grid: dict[str, dict[str, str]] = {r: {} for r in ROLES}
    for t in types:
        g = group_of[t]
        grid["admin"][t] = ACTIONS
        grid["patient"][t] = "crs" if t in PATIENT_CREATE else "rs"
        grid["proxy"][t] = grid["patient"][t]
        if g in CLINICAL_GROUPS or g in ADMINISTRATIVE_GROUPS:
            grid["provider"][t] = ACTIONS
            grid["nurse"][t] = "cruse"
        else:
            grid["provider"][t] = "rs"
            grid["nurse"][t] = "rs"
    for t in FRONT_DESK_WRITE:
        grid["front_desk"][t] = "cruse"
    for t in FRONT_DESK_READ:
        grid["front_desk"][t] = "rs"
    for t in FRONT_DESK_CREATE_ONLY:
        grid["front_desk"][t] = "c"
    for t in BILLER_WRITE:
        grid["biller"][t] = "cruse"
    for t in BILLER_READ:
        grid["biller"][t] = "rs"
    return grid


# --- the cache -------------------------------------------------------------------------------

CHECK_INTERVAL = 1.0  # seconds between looks at the generation counter
_lock = threading.Lock()
_allowed: frozenset[tuple[str, str, str]] = frozenset()
_generation: int | None = None
_next_check = 0.0


def role_allows(role: str, resource_type: str, action: str) -> bool:
    """May ``role`` perform ``action`` (one of ``crudse``) on ``resource_type``? O(1)."""
    if time.monotonic() >= _next_check:
        _refresh()
    return (role, resource_type, action) in _allowed


def invalidate() -> None:
    """Make the next ``role_allows`` in this process reload the grid from the database."""
    global _next_check, _generation
    _generation = None
    _next_check = 0.0


def _current_generation() -> int:
    from ehr.identity.models import PermissionGeneration

    row = PermissionGeneration.objects.filter(pk=1).values_list("value", flat=True).first()
    return -1 if row is None else row


def _refresh() -> None:
    global _allowed, _generation, _next_check
    with _lock:
        if time.monotonic() < _next_check:
            return
        gen = _current_generation()
        if gen < 0:
            seed_defaults()
            gen = _current_generation()
        if gen != _generation:
            from ehr.identity.models import RolePermission

            rows = RolePermission.objects.values_list("role", "resource_type", "actions")
            _allowed = frozenset((r, t, a) for r, t, acts in rows for a in acts)
            _generation = gen
        _next_check = time.monotonic() + CHECK_INTERVAL


def seed_defaults() -> None:
    """Store the default grid if no grid is stored yet (safe to race between processes)."""
    from ehr.identity.models import PermissionGeneration, RolePermission

    try:
        with transaction.atomic():
            if PermissionGeneration.objects.filter(pk=1).exists():
                return
            RolePermission.objects.bulk_create(
                [
                    RolePermission(role=role, resource_type=t, actions=acts)
                    for role, types in default_grid().items()
                    for t, acts in types.items()
                ],
                ignore_conflicts=True,
            )
            PermissionGeneration.objects.create(pk=1, value=1)
    except IntegrityError:
        pass  # another process seeded first


def grid_for(role: str) -> dict[str, str]:
    from ehr.identity.models import RolePermission

    if _current_generation() < 0:
        seed_defaults()
    return dict(RolePermission.objects.filter(role=role).values_list("resource_type", "actions"))


def normalise(actions: Iterable[str]) -> str:
    chosen = set(actions)
    return "".join(a for a in ACTIONS if a in chosen)


def set_role_grid(role: str, grid: dict[str, str]) -> list[tuple[str, str, str]]:
    """Store ``role``'s grid; returns the changes as (type, before, after). Bumps the counter."""
    from django.db.models import F

    from ehr.identity.models import PermissionGeneration, RolePermission

    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    known = set(resource_types())
    before = grid_for(role)
    changes: list[tuple[str, str, str]] = []
    with transaction.atomic():
        for t in sorted(known):
            new = normalise(grid.get(t, ""))
            old = before.get(t, "")
            if new == old:
                continue
            changes.append((t, old, new))
            if new:
                RolePermission.objects.update_or_create(
                    role=role, resource_type=t, defaults={"actions": new}
                )
            else:
                RolePermission.objects.filter(role=role, resource_type=t).delete()
        if changes:
            PermissionGeneration.objects.filter(pk=1).update(value=F("value") + 1)
    invalidate()
    return changes
