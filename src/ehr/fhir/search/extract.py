"""Hash keys of index rows, and the patient compartments a resource belongs to."""

from __future__ import annotations

import hashlib
from functools import cache

from ehr.fhir import definitions
from ehr.fhir.search.paths import compile_expression, reference_target, values


def hash64(*parts: str) -> int:
    """Signed 64-bit key for index columns (fits BIGINT on SQLite and PostgreSQL)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@cache
def _compartment_branches(resource_type: str) -> tuple:
    params = definitions.search_params(resource_type)
    out = []
    for name in definitions.patient_compartment_params(resource_type):
        sp = params.get(name)
        if sp is None:
            continue
        branches = compile_expression(sp["expression"], resource_type)
        if branches:
            out.append(branches)
    return tuple(out)


def patient_compartments(resource_type: str, resource: dict) -> list[str]:
    """Ids of the patients whose compartment holds this resource (official definition)."""
    if resource_type == "Patient":
        return [resource["id"]] if resource.get("id") else []
    found: list[str] = []
    for branches in _compartment_branches(resource_type):
        for value in values(resource, branches):
            target = reference_target(value)
            if target and target[0] == "Patient" and target[1] not in found:
                found.append(target[1])
    return found
