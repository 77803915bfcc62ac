"""Every error invariant of R4, on every node of every official example, against fhirpathpy.

For each example file (and each resource inside it: contained resources, Bundle entries,
Parameters resources) every element node is visited (``iter_elements``) and the error
invariants that apply to it are evaluated: the ones on its element in the resource's (or data
type's) StructureDefinition snapshot, plus the root invariants of its data type. Our result
and fhirpathpy's are reduced to true / false / empty / error and compared. The disagreements
must be exactly the verified ones in ``expected_disagreements``; the invariants that fail
on the examples must be exactly ``REAL_FINDINGS`` (problems in the official examples).

The files are split into shards so that ``pytest -n`` spreads the work (~2.9 million
(invariant, node) pairs in all, most of them in the conformance Bundles).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ehr.fhir import fhirpath
from ehr.fhir.fhirpath import model
from tests.fhir.fhirpath import oracle, package
from tests.fhir.fhirpath.expected_disagreements import EXPECTED

pytestmark = pytest.mark.skipif(
    not package.package().exists(), reason="R4 package not unpacked (make definitions)"
)

SHARDS = 8

# (file, invariant, element path) that evaluate to false on the official examples.
REAL_FINDINGS = {
    # txt-1 and txt-2 are both htmlChecks(): these narratives have no content at all
    ("ActivityDefinition-blood-tubes-supply.json", "txt-1", "Narrative.div"),
    ("ActivityDefinition-blood-tubes-supply.json", "txt-2", "Narrative.div"),
    ("ActivityDefinition-heart-valve-replacement.json", "txt-1", "Narrative.div"),
    ("ActivityDefinition-heart-valve-replacement.json", "txt-2", "Narrative.div"),
    ("EventDefinition-example.json", "txt-1", "Narrative.div"),
    ("EventDefinition-example.json", "txt-2", "Narrative.div"),
    # the only content is an empty <pre>
    ("Questionnaire-zika-virus-exposure-assessment.json", "txt-1", "Narrative.div"),
    ("Questionnaire-zika-virus-exposure-assessment.json", "txt-2", "Narrative.div"),
    # bdl-7: entries share a fullUrl without distinct meta.versionId
    ("Bundle-dataelements.json", "bdl-7", "Bundle"),
}


def _category(result: list) -> str:
    t = fhirpath.truthy(result)
    return "empty" if t is None else ("true" if t else "false")


def _theirs(expr: str, node: fhirpath.Node, base: str, res: dict, root: dict) -> str:
    try:
        out = oracle.evaluate(expr, node.value, node.ext, base, res, root)
    except Exception:  # noqa: BLE001 - any failure of the oracle is an 'error' answer
        return "error"
    return _category([getattr(x, "data", x) for x in out])


def _base(path: str, node: fhirpath.Node) -> str:
    st = node.struct
    if st is None or st.kind in (model.BACKBONE, model.RESOURCE):
        return path
    return st.type


def _shards() -> list[list[str]]:
    """Files spread over the shards by size (largest first, each to the lightest shard)."""
    files = sorted(package.example_files(), key=lambda f: -f.stat().st_size)
    shards: list[list[str]] = [[] for _ in range(SHARDS)]
    sizes = [0] * SHARDS
    for f in files:
        i = sizes.index(min(sizes))
        shards[i].append(f.name)
        sizes[i] += f.stat().st_size
    return shards


def compare_file(name: str, stats: Counter) -> tuple[set, set]:
    """(disagreements, findings) for one example file."""
    constraints = package.error_constraints()
    doc = package.load(package.package() / name)
    disagreements: set[tuple[str, str, str]] = set()
    findings: set[tuple[str, str, str]] = set()
    if not isinstance(doc, dict) or "resourceType" not in doc:
        return disagreements, findings
    for res, root in package.resources_in(doc):
        evaluation = fhirpath.Evaluation(res, root_resource=root)
        for owner, path, node in fhirpath.iter_elements(res):
            rules: list[Any] = list(constraints.get(owner, {}).get(path, ()))
            st = node.struct
            if st is not None and st.kind in (model.COMPLEX, model.PRIMITIVE):
                rules += constraints.get(st.type, {}).get(st.type, ())
            seen: set[str] = set()
            for key, _severity, expr in rules:
                if key in seen:
                    continue
                seen.add(key)
                stats["pairs"] += 1
                try:
                    ours = _category(evaluation.run(fhirpath.compile(expr), node))
                except fhirpath.FhirPathError:
                    ours = "error"
                stats[ours] += 1
                if ours == "false":
                    findings.add((name, key, path))
                theirs = _theirs(expr, node, _base(path, node), res, root)
                if ours != theirs:
                    disagreements.add((name, key, path))
    return disagreements, findings


@pytest.mark.parametrize("shard", range(SHARDS))
def test_invariants_agree_with_fhirpathpy(shard: int) -> None:
    pytest.importorskip("fhirpathpy")
    names = _shards()[shard]
    stats: Counter = Counter()
    disagreements: set = set()
    findings: set = set()
    for name in names:
        d, f = compare_file(name, stats)
        disagreements |= d
        findings |= f
    mine = set(names)
    expected = {k for k in EXPECTED if k[0] in mine}
    unexpected = sorted(disagreements - expected)
    assert not unexpected, "new disagreements with fhirpathpy:\n" + "\n".join(map(str, unexpected))
    assert disagreements == expected, f"no longer disagreeing: {sorted(expected - disagreements)}"
    assert findings == {k for k in REAL_FINDINGS if k[0] in mine}
    assert stats["pairs"] > 10_000
    assert stats["error"] == 0
