"""Fetch the official FHIR R4 definitions and generate the engine's compact index.

The index is derived entirely from ``hl7.fhir.r4.examples@4.0.1`` (resource structures, search
parameters, the patient compartment); nothing here lists resource types by hand. The package is
fetched with ``npm pack`` and its sha512 integrity is checked before anything is read from it.

Run as ``python -m ehr.fhir.definitions.build`` (``make definitions`` does so).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from ehr.fhir.definitions.paths import definitions_dir, index_path, package_dir

PACKAGE = "hl7.fhir.r4.examples"
VERSION = "4.0.1"
# Integrity published by the npm registry for this exact version (sha512, base64).
INTEGRITY = (
    "sha512-DXBdIZOeQaSKIgCU7w6HOC7sw/6BzylmipLkBW4f//"
    "pT+Bc94x+8LImwTdvaNThPJoOzpBzvxAzNqjeu3X/zLw=="
)
INDEX_FORMAT = 3


def _sha512_integrity(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def fetch_package() -> Path:
    """Download (once) and unpack the package; return the folder holding its JSON files."""
    root = definitions_dir()
    root.mkdir(parents=True, exist_ok=True)
    tgz = root / f"{PACKAGE}-{VERSION}.tgz"
    target = package_dir()
    if not tgz.exists():
        print(f"fetching {PACKAGE}@{VERSION} with npm pack ...", file=sys.stderr)
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", str(root)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    actual = _sha512_integrity(tgz)
    if actual != INTEGRITY:
        tgz.unlink()
        raise SystemExit(f"checksum mismatch for {tgz.name}: got {actual}, expected {INTEGRITY}")
    marker = target / ".integrity"
    if not marker.exists() or marker.read_text() != INTEGRITY:
        if target.exists():
            shutil.rmtree(target)
        tmp = root / "unpack.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
        (tmp / "package").rename(target)
        shutil.rmtree(tmp)
        marker.write_text(INTEGRITY)
    return target


def _type_codes(element: dict) -> list[str]:
    codes = []
    for t in element.get("type") or []:
        code = t.get("code", "")
        if code.startswith("http://hl7.org/fhirpath/System."):
            # Primitive ``id``/``value`` elements carry a FHIRPath system type; keep the FHIR name.
            for ext in t.get("extension", []):
                if ext.get("url", "").endswith("structuredefinition-fhir-type"):
                    code = ext.get("valueUrl") or ext.get("valueUri") or code
        codes.append(code)
    return codes


# Invariants every element or extension carries; the validator checks them natively.
NATIVE_INVARIANTS = {"ele-1", "ext-1"}


def _targets(element: dict) -> list[str]:
    out = []
    for t in element.get("type") or []:
        for prof in t.get("targetProfile") or []:
            name = prof.rsplit("/", 1)[-1]
            if name not in out:
                out.append(name)
    return out


def _elements(sd: dict, key: str = "path") -> dict[str, dict]:
    """Element table of one StructureDefinition snapshot: path (or id) -> compact facts."""
    out: dict[str, dict] = {}
    for el in sd["snapshot"]["element"]:
        path = el[key]
        entry: dict = {"min": el.get("min", 0), "max": el.get("max", "*")}
        types = _type_codes(el)
        if types:
            entry["types"] = types
        if el.get("contentReference"):
            entry["ref"] = el["contentReference"].lstrip("#")
        if el.get("isSummary"):
            entry["summary"] = True
        if el.get("isModifier"):
            entry["modifier"] = True
        binding = el.get("binding")
        if binding and binding.get("valueSet"):
            entry["binding"] = [binding.get("strength"), binding["valueSet"]]
        targets = _targets(el)
        if targets:
            entry["targets"] = targets
        invariants = [
            [c["key"], c.get("severity", "error"), c["expression"], c.get("human", "")]
            for c in el.get("constraint") or []
            if c.get("expression") and c["key"] not in NATIVE_INVARIANTS
        ]
        if invariants:
            entry["invariants"] = invariants
        for name, value in el.items():
            if name.startswith("fixed") or name.startswith("pattern"):
                entry["fixed" if name.startswith("fixed") else "pattern"] = value
        if el.get("sliceName"):
            entry["slice"] = el["sliceName"]
        if el.get("slicing"):
            entry["slicing"] = [
                [d.get("type"), d.get("path")] for d in el["slicing"].get("discriminator") or []
            ]
            entry["rules"] = el["slicing"].get("rules", "open")
        out[path] = entry
    return out


def _split_expression(expression: str, resource_type: str) -> str | None:
    """Keep the union branches of a shared expression that apply to ``resource_type``."""
    parts = [p.strip() for p in _split_union(expression)]
    mine = [
        p
        for p in parts
        if p.startswith(resource_type + ".")
        or p.startswith("(" + resource_type + ".")
        or p.startswith("Resource.")
        or p == resource_type
    ]
    return " | ".join(mine) if mine else None


def _split_union(expression: str) -> list[str]:
    """Split on top-level ``|`` only (not inside parentheses or strings)."""
    parts, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(expression):
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        elif not quote and depth == 0 and ch == "|":
            parts.append(expression[start:i])
            start = i + 1
    parts.append(expression[start:])
    return parts


def _primitive_regex(sd: dict) -> str | None:
    """The format of a primitive type, as its definition states it (``<type>.value``)."""
    for el in sd["snapshot"]["element"]:
        if el["path"] != sd["type"] + ".value":
            continue
        for t in el.get("type") or []:
            for ext in t.get("extension") or []:
                if ext.get("url", "").endswith("/regex"):
                    return ext.get("valueString")
    return None


def build_index(pkg: Path) -> dict:
    resources: dict[str, dict] = {}
    datatypes: dict[str, dict] = {}
    profiles: dict[str, dict] = {}
    for f in sorted(pkg.glob("StructureDefinition-*.json")):
        sd = json.loads(f.read_text(encoding="utf-8"))
        if "snapshot" not in sd:
            continue
        if sd.get("derivation") == "constraint":
            profiles[sd["url"]] = {
                "type": sd["type"],
                "kind": sd.get("kind"),
                "name": sd.get("name"),
                "context": [c.get("expression") for c in sd.get("context") or []],
                "elements": _elements(sd, key="id"),
            }
            continue
        if sd.get("derivation", "specialization") != "specialization":
            continue
        if sd.get("kind") == "resource" and not sd.get("abstract"):
            resources[sd["type"]] = {"url": sd["url"], "elements": _elements(sd)}
        elif sd.get("kind") in ("complex-type", "primitive-type"):
            datatypes[sd["type"]] = {"kind": sd["kind"], "elements": _elements(sd)}
            regex = _primitive_regex(sd)
            if regex:
                datatypes[sd["type"]]["regex"] = regex

    search: dict[str, dict[str, dict]] = {t: {} for t in resources}
    search["Resource"] = {}
    for f in sorted(pkg.glob("SearchParameter-*.json")):
        sp = json.loads(f.read_text(encoding="utf-8"))
        if sp.get("id") == "example" or sp.get("id", "").startswith("example-"):
            # The spec's examples of the SearchParameter resource (a Condition "subject" that
            # refers only to Organization, a Patient parameter on DocumentReference): read
            # as definitions they would replace the real ones.
            continue
        for base in sp.get("base", []):
            if base not in search and base != "DomainResource":
                continue
            bases = [base] if base != "DomainResource" else ["Resource"]
            for b in bases:
                expr = sp.get("expression")
                entry = {
                    "type": sp["type"],
                    "url": sp["url"],
                    "expression": (
                        _split_expression(expr, b) if expr and len(sp["base"]) > 1 else expr
                    ),
                }
                if sp.get("target"):
                    entry["target"] = sp["target"]
                if sp.get("component"):
                    entry["component"] = [
                        [c["definition"], c["expression"]] for c in sp["component"]
                    ]
                if sp.get("modifier"):
                    entry["modifier"] = sp["modifier"]
                search[b][sp["code"]] = entry

    compartments: dict[str, dict[str, list[str]]] = {}
    for f in sorted(pkg.glob("CompartmentDefinition-*.json")):
        cd = json.loads(f.read_text(encoding="utf-8"))
        compartments[cd["code"]] = {
            r["code"]: r["param"] for r in cd.get("resource", []) if r.get("param")
        }

    return {
        "format": INDEX_FORMAT,
        "fhirVersion": VERSION,
        "package": f"{PACKAGE}@{VERSION}",
        "integrity": INTEGRITY,
        "resources": resources,
        "datatypes": datatypes,
        "profiles": profiles,
        "search": search,
        "compartments": compartments,
    }


def main() -> None:
    pkg = fetch_package()
    index = build_index(pkg)
    out = index_path()
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")
    tmp.replace(out)
    print(
        f"definitions: {len(index['resources'])} resource types, "
        f"{sum(len(v) for v in index['search'].values())} search parameters -> {out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
