"""Walk resources element by element with the R4 StructureDefinition snapshots, yielding every
coded value that sits under a binding. Test-side on purpose: an independent reading of the
definitions, so the terminology layer is checked against the official examples and not against
our own validator's interpretation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ehr.fhir.definitions.paths import package_dir

# The package's definitions (as in tests/fhir/test_examples_roundtrip.py); the rest are examples.
from tests.fhir.examples import DEFINITION_TYPES  # noqa: E402

# Bundles of nothing but conformance resources are the spec's own definitions, not examples.
CONFORMANCE_TYPES = DEFINITION_TYPES | {
    "NamingSystem",
    "ImplementationGuide",
    "CapabilityStatement",
}
CODED_TYPES = {"code", "Coding", "CodeableConcept", "Quantity", "string", "uri"}


@dataclass(frozen=True)
class Coded:
    file: str
    path: str  # FHIRPath-like, with indices
    type: str
    strength: str
    valueset: str
    value: Any


@cache
def structures() -> dict[str, dict[str, dict[str, Any]]]:
    """type name -> element path -> snapshot element, for the base resources and data types."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(package_dir().glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if sd.get("derivation") != "specialization" or "snapshot" not in sd:
            continue
        out[sd["type"]] = {el["path"]: el for el in sd["snapshot"]["element"]}
    return out


@cache
def constrained_types() -> dict[str, str]:
    """Data types defined as constraints (Age, Duration, SimpleQuantity...) -> their base."""
    out = {}
    for path in sorted(package_dir().glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if sd.get("kind") == "complex-type" and sd.get("derivation") == "constraint":
            out[sd["id"]] = sd["type"]
    return out


def required_binding_valuesets() -> dict[str, list[str]]:
    """Every value set a *required* binding names, in any R4 StructureDefinition snapshot
    (resources, data types, core profiles, extensions): url -> element paths."""
    out: dict[str, list[str]] = {}
    for path in sorted(package_dir().glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        for el in sd.get("snapshot", {}).get("element", []):
            b = el.get("binding") or {}
            if b.get("strength") == "required" and b.get("valueSet"):
                out.setdefault(b["valueSet"], []).append(f"{sd['id']}:{el['id']}")
    return out


def example_files() -> list[Path]:
    """The non-definition resources of the package; Bundles of definitions are left out."""
    out = []
    for path in sorted(package_dir().glob("*.json")):
        if path.name in ("package.json", ".index.json") or path.name.startswith("ig-"):
            continue
        if path.name.split("-", 1)[0] in DEFINITION_TYPES:
            continue
        if path.name.startswith("Bundle-") and _is_definition_bundle(path):
            continue
        out.append(path)
    return out


def _is_definition_bundle(path: Path) -> bool:
    data = json.loads(path.read_text(encoding="utf-8"))
    types = {e.get("resource", {}).get("resourceType") for e in data.get("entry", [])}
    return bool(types) and types <= CONFORMANCE_TYPES


def coded_values(path: Path) -> Iterator[Coded]:
    resource = json.loads(path.read_text(encoding="utf-8"))
    yield from _resource(resource, path.name, resource.get("resourceType", "?"))


def _resource(res: dict[str, Any], file: str, shown: str) -> Iterator[Coded]:
    rtype = res.get("resourceType")
    elements = structures().get(rtype or "")
    if elements is None:
        return
    yield from _object(res, elements, rtype, shown, file)


def _find(elements: dict[str, dict], base: str, key: str) -> tuple[dict | None, str | None]:
    el = elements.get(f"{base}.{key}")
    if el is not None:
        types = [t["code"] for t in el.get("type", [])]
        return el, types[0] if len(types) == 1 else None
    for path, el in elements.items():
        if path.startswith(f"{base}.") and path.endswith("[x]"):
            stem = path[len(base) + 1 : -3]
            if "." not in stem and key.startswith(stem) and len(key) > len(stem):
                suffix = key[len(stem) :]
                for t in el.get("type", []):
                    if t["code"].lower() == suffix.lower():
                        return el, t["code"]
    return None, None


def _object(
    obj: dict[str, Any], elements: dict[str, dict], base: str, shown: str, file: str
) -> Iterator[Coded]:
    for key, value in obj.items():
        if key in ("resourceType", "extension", "modifierExtension") or key.startswith("_"):
            continue
        el, tcode = _find(elements, base, key)
        if el is None:
            continue
        child_base = el["path"]
        if el.get("contentReference"):
            child_base = el["contentReference"].lstrip("#")
            tcode = "BackboneElement"
        if tcode and tcode.startswith("http://hl7.org/fhirpath/System."):
            tcode = "string"
        tcode = constrained_types().get(tcode or "", tcode)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            where = f"{shown}.{key}" + (f"[{i}]" if isinstance(value, list) else "")
            binding = el.get("binding") or {}
            if binding.get("valueSet") and tcode in CODED_TYPES:
                yield Coded(file, where, tcode, binding["strength"], binding["valueSet"], item)
            if not isinstance(item, dict):
                continue
            if tcode in ("BackboneElement", "Element"):
                yield from _object(item, elements, child_base, where, file)
            elif tcode in ("Resource", "DomainResource") or "resourceType" in item:
                yield from _resource(item, file, where)
            elif tcode and tcode in structures() and tcode != "Extension":
                yield from _object(item, structures()[tcode], tcode, where, file)
