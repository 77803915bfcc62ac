"""The engine's view of the official R4 definitions, loaded once from the generated index."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from ehr.fhir.definitions.paths import index_path


class DefinitionsMissing(RuntimeError):
    pass


@cache
def index() -> dict[str, Any]:
    path = index_path()
    if not path.exists():
        raise DefinitionsMissing(
            f"FHIR definitions index not found at {path}; run `make definitions` "
            "(python -m ehr.fhir.definitions.build)"
        )
    return orjson.loads(path.read_bytes())


@cache
def resource_types() -> frozenset[str]:
    return frozenset(index()["resources"])


def is_resource_type(name: str) -> bool:
    return name in resource_types()


def elements(resource_type: str) -> dict[str, dict]:
    return index()["resources"][resource_type]["elements"]


def search_params(resource_type: str) -> dict[str, dict]:
    """Search parameters that apply to ``resource_type`` (its own plus the Resource ones)."""
    return _search_params(resource_type)


@cache
def _search_params(resource_type: str) -> dict[str, dict]:
    search = index()["search"]
    merged = dict(search.get("Resource", {}))
    merged.update(search.get(resource_type, {}))
    return merged


def patient_compartment_params(resource_type: str) -> list[str]:
    return index()["compartments"].get("Patient", {}).get(resource_type, [])


@cache
def top_level_elements(resource_type: str) -> dict[str, dict]:
    """JSON property name -> element facts, with choice types expanded (``valueQuantity``)."""
    out: dict[str, dict] = {}
    prefix = resource_type + "."
    for path, facts in elements(resource_type).items():
        if not path.startswith(prefix) or "." in path[len(prefix) :]:
            continue
        name = path[len(prefix) :]
        if name.endswith("[x]"):
            base = name[:-3]
            for t in facts.get("types", []):
                out[base + t[0].upper() + t[1:]] = facts
        else:
            out[name] = facts
    return out
