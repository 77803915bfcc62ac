"""Write-time extraction of the index rows the store keeps for a resource version."""

from __future__ import annotations

import hashlib
from functools import cache

from ehr.fhir import definitions
from ehr.fhir.search.paths import compile_expression, reference_target, values

# Token parameters indexed now. The search engine extends this to every parameter.
INDEXED_TOKEN_PARAMS = ("identifier",)


def hash64(*parts: str) -> int:
    """Signed 64-bit key for index columns (fits BIGINT on SQLite and PostgreSQL)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@cache
def _token_branches(resource_type: str) -> tuple[tuple[str, tuple], ...]:
    params = definitions.search_params(resource_type)
    out = []
    for name in INDEXED_TOKEN_PARAMS:
        sp = params.get(name)
        if sp and sp["type"] == "token":
            branches = compile_expression(sp["expression"], resource_type)
            if branches:
                out.append((name, branches))
    return tuple(out)


def token_rows(resource_type: str, resource: dict) -> list[tuple]:
    """``(param, hash_param, hash_value, hash_sys_value, hash_system, system, code)`` rows."""
    rows = []
    seen = set()
    for name, branches in _token_branches(resource_type):
        for value in values(resource, branches):
            for system, code in _token_pairs(value):
                key = (name, system, code)
                if key in seen:
                    continue
                seen.add(key)
                rows.append(
                    (
                        name,
                        hash64(resource_type, name),
                        hash64(resource_type, name, code),
                        hash64(resource_type, name, system or "", code),
                        hash64(resource_type, name, system or ""),
                        system,
                        code,
                    )
                )
    return rows


def _token_pairs(value: object) -> list[tuple[str | None, str]]:
    if isinstance(value, dict):
        if "value" in value and isinstance(value["value"], str):  # Identifier, ContactPoint
            return [(value.get("system"), value["value"])]
        if "coding" in value:  # CodeableConcept
            return [
                (c.get("system"), c["code"])
                for c in value["coding"]
                if isinstance(c, dict) and isinstance(c.get("code"), str)
            ]
        if isinstance(value.get("code"), str):  # Coding
            return [(value.get("system"), value["code"])]
        return []
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, bool):
        return [(None, "true" if value else "false")]
    return []


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
