"""Micro-benchmark: time to evaluate every error invariant of a resource, over the examples.

For each official example (the same files the oracle test uses) the invariants of the
resource's StructureDefinition and of the data types inside it are gathered for every
element node (``iter_elements``), then all of them are evaluated; the figure is the median
over the examples of the per-resource time, in microseconds. The walk and the gathering are
timed separately from the evaluation.

Run: ``python -m ehr.fhir.fhirpath.bench [--repeat N] [--skip ele-1 txt-1 txt-2]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from ehr.fhir import fhirpath
from ehr.fhir.definitions.paths import package_dir
from ehr.fhir.fhirpath import model, narrative

_SKIP = (
    "StructureDefinition-",
    "SearchParameter-",
    "ValueSet-",
    "CodeSystem-",
    "ConceptMap-",
    "OperationDefinition-",
    "CompartmentDefinition-",
)


def error_constraints(pkg: Path) -> dict[str, dict[str, list[tuple[str, str]]]]:
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for f in sorted(pkg.glob("StructureDefinition-*.json")):
        sd = json.loads(f.read_text(encoding="utf-8"))
        if sd.get("derivation") != "specialization" or "snapshot" not in sd:
            continue
        table: dict[str, list[tuple[str, str]]] = {}
        for el in sd["snapshot"]["element"]:
            rules = [
                (c["key"], c["expression"])
                for c in el.get("constraint", [])
                if c.get("severity") == "error" and c.get("expression")
            ]
            if rules:
                table[el["path"]] = rules
        out[sd["type"]] = table
    return out


def plan(resource: dict, constraints: dict, skip: frozenset[str]) -> list:
    """(compiled expression, node) pairs for every error invariant on every element node."""
    work = []
    for owner, path, node in fhirpath.iter_elements(resource):
        rules = list(constraints.get(owner, {}).get(path, ()))
        st = node.struct
        if st is not None and st.kind in (model.COMPLEX, model.PRIMITIVE):
            rules += constraints.get(st.type, {}).get(st.type, ())
        seen = set(skip)
        for key, expr in rules:
            if key not in seen:
                seen.add(key)
                work.append((fhirpath.compile(expr), node))
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--skip", nargs="*", default=[], help="invariant keys to leave out")
    args = parser.parse_args()
    pkg = package_dir()
    constraints = error_constraints(pkg)
    skip = frozenset(args.skip)
    examples = []
    for f in sorted(pkg.glob("*.json")):
        if f.name.startswith(_SKIP) or f.name == "package.json":
            continue
        doc = json.loads(f.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("resourceType") and doc["resourceType"] != "Bundle":
            examples.append(doc)
    per_resource: list[float] = []
    walk_times: list[float] = []
    counts: list[int] = []
    errors = 0
    for doc in examples:
        t0 = time.perf_counter()
        work = plan(doc, constraints, skip)
        walk_times.append((time.perf_counter() - t0) * 1e6)
        counts.append(len(work))
        best = float("inf")
        for _ in range(args.repeat):
            narrative.check.cache_clear()  # each write brings a new narrative to parse
            t0 = time.perf_counter()
            evaluation = fhirpath.Evaluation(doc)
            for expr, node in work:
                try:
                    evaluation.check(expr, node)
                except fhirpath.FhirPathError:
                    errors += 1
            best = min(best, time.perf_counter() - t0)
        per_resource.append(best * 1e6)
    print(f"examples: {len(examples)} (Bundles left out: their entries are validated one by one)")
    print(f"invariant evaluations per resource: median {statistics.median(counts):.0f}")
    print(
        f"evaluate all error invariants: median {statistics.median(per_resource):.1f} us, "
        f"p90 {statistics.quantiles(per_resource, n=10)[-1]:.1f} us per resource"
    )
    print(
        f"walk + planning (not part of the figure): median {statistics.median(walk_times):.1f} us"
    )
    if errors:
        print(f"evaluation errors: {errors}")


if __name__ == "__main__":
    main()
