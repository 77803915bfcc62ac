"""The official R4 package as test data: invariant and search expressions, examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from ehr.fhir.definitions.paths import package_dir

NOT_EXAMPLES = (
    "StructureDefinition-",
    "SearchParameter-",
    "ValueSet-",
    "CodeSystem-",
    "ConceptMap-",
    "OperationDefinition-",
    "CompartmentDefinition-",
)

Constraint = tuple[str, str, str]  # key, severity, expression


def package() -> Path:
    return package_dir()


@cache
def _structure_definitions() -> list[dict]:
    return [
        json.loads(f.read_text(encoding="utf-8"))
        for f in sorted(package().glob("StructureDefinition-*.json"))
    ]


@cache
def invariant_expressions() -> list[str]:
    """Every distinct constraint expression of every StructureDefinition snapshot."""
    out = set()
    for sd in _structure_definitions():
        for el in sd.get("snapshot", {}).get("element", []):
            for c in el.get("constraint", []):
                if c.get("expression"):
                    out.add(c["expression"])
    return sorted(out)


@cache
def search_expressions() -> list[str]:
    out = set()
    for f in sorted(package().glob("SearchParameter-*.json")):
        expr = json.loads(f.read_text(encoding="utf-8")).get("expression")
        if expr:
            out.add(expr)
    return sorted(out)


@cache
def error_constraints() -> dict[str, dict[str, list[Constraint]]]:
    """Base type (resource or data type) -> element path -> its error-severity constraints."""
    out: dict[str, dict[str, list[Constraint]]] = {}
    for sd in _structure_definitions():
        if sd.get("derivation") != "specialization" or "snapshot" not in sd:
            continue
        if sd.get("kind") not in ("resource", "complex-type", "primitive-type"):
            continue
        table: dict[str, list[Constraint]] = {}
        for el in sd["snapshot"]["element"]:
            rules = [
                (c["key"], c["severity"], c["expression"])
                for c in el.get("constraint", [])
                if c.get("severity") == "error" and c.get("expression")
            ]
            if rules:
                table[el["path"]] = rules
        out[sd["type"]] = table
    return out


def example_files() -> list[Path]:
    return [
        f
        for f in sorted(package().glob("*.json"))
        if not f.name.startswith(NOT_EXAMPLES)
        and f.name != "package.json"
        and not f.name.startswith(".")
    ]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def resources_in(resource: dict, root: dict | None = None) -> Iterator[tuple[dict, dict]]:
    """(resource, root resource) for a resource, its contained ones and Bundle entries."""
    root = root or resource
    yield resource, root
    for c in resource.get("contained") or ():
        if isinstance(c, dict) and "resourceType" in c:
            yield c, resource
    if resource.get("resourceType") == "Bundle":
        for e in resource.get("entry") or ():
            r = e.get("resource") if isinstance(e, dict) else None
            if isinstance(r, dict) and "resourceType" in r:
                yield from resources_in(r, root)
    if resource.get("resourceType") == "Parameters":
        for p in resource.get("parameter") or ():
            r = p.get("resource") if isinstance(p, dict) else None
            if isinstance(r, dict) and "resourceType" in r:
                yield from resources_in(r, r)
