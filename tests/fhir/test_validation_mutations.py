"""The official R4 examples, each broken on purpose in one place, must be rejected there.

The valid examples of the R4 package (conformance definitions and the examples listed in
``known_invalid.py`` left out) are mutated programmatically, one mutation per case:

(a) ``drop-required``: remove a top-level element whose minimum cardinality is 1 or more;
(b) ``break-date``: give a top-level date, dateTime or instant element the value "2020-02-30"
    or "not-a-date" (alternating from one example to the next);
(c) ``bad-code``: give a top-level ``code`` element bound to a *required* value set the value
    "zz-not-a-code" (this needs the terminology layer);
(d) ``unknown-element``: add a top-level ``"fooBar": 1``.

The targets come from the definitions index, not from hand-made lists, and a case is generated
only where the example offers a target. Each case asserts an error at the exact location of the
mutation, and that the unmutated example has no error there.

Bundles keep only their first three entries: every mutation is on the Bundle's own top-level
elements, and the largest example Bundles (thousands of entries) would otherwise take seconds
each to validate.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache

import pytest

from ehr.fhir import definitions
from ehr.fhir.definitions.paths import package_dir
from ehr.fhir.validation.validator import validate
from tests.fhir.examples import DEFINITION_TYPES  # noqa: E402
from tests.fhir.known_invalid import KNOWN_INVALID

DATE_TYPES = ("date", "dateTime", "instant")
BUNDLE_ENTRIES_KEPT = 3


def _example_names() -> list[str]:
    out = []
    for path in sorted(package_dir().glob("*.json")):
        if path.name in ("package.json", ".index.json") or path.name in KNOWN_INVALID:
            continue
        if path.name.split("-", 1)[0] in DEFINITION_TYPES:
            continue
        out.append(path.name)
    return out


@cache
def _example(name: str) -> dict:
    doc = json.loads((package_dir() / name).read_bytes())
    if doc.get("resourceType") == "Bundle" and isinstance(doc.get("entry"), list):
        doc["entry"] = doc["entry"][:BUNDLE_ENTRIES_KEPT]
    return doc


@cache
def _original_errors(name: str) -> frozenset[str]:
    return frozenset(i.expression for i in validate(_example(name)) if i.severity == "error")


@cache
def _top(rtype: str) -> dict[str, tuple[str, dict, str]]:
    """Top-level JSON property -> (element path, element facts, FHIR type of that property)."""
    prefix = rtype + "."
    out: dict[str, tuple[str, dict, str]] = {}
    for path, facts in definitions.elements(rtype).items():
        if not path.startswith(prefix) or "." in path[len(prefix) :]:
            continue
        name = path[len(prefix) :]
        types = facts.get("types") or [""]
        if name.endswith("[x]"):
            for t in types:
                out[name[:-3] + t[0].upper() + t[1:]] = (path, facts, t)
        else:
            out[name] = (path, facts, types[0])
    return out


def _targets(name: str) -> list[tuple[str, str, object]]:
    """(kind, element path or JSON property, new value) of every mutation this example offers."""
    doc = _example(name)
    top = _top(doc["resourceType"])
    out: list[tuple[str, str, object]] = []
    required = sorted(
        {
            top[k.lstrip("_")][0]
            for k in doc
            if k.lstrip("_") in top and top[k.lstrip("_")][1].get("min", 0) > 0
        }
    )
    out.extend(("drop-required", path, None) for path in required)
    broken_date = "2020-02-30" if len(name) % 2 else "not-a-date"
    for key, value in doc.items():
        if key not in top:
            continue
        _, facts, ftype = top[key]
        first = value[0] if isinstance(value, list) and value else value
        if not isinstance(first, str):
            continue
        if ftype in DATE_TYPES:
            out.append(("break-date", key, broken_date))
        binding = facts.get("binding")
        if ftype == "code" and binding and binding[0] == "required":
            out.append(("bad-code", key, "zz-not-a-code"))
    out.append(("unknown-element", "fooBar", 1))
    return out


def _expression(doc: dict, kind: str, target: str) -> str:
    if kind == "drop-required":
        return target.replace("[x]", "")
    if isinstance(doc.get(target), list):
        return f"{doc['resourceType']}.{target}[0]"
    return f"{doc['resourceType']}.{target}"


def _mutate(doc: dict, kind: str, target: str, value: object) -> dict:
    out = dict(doc)  # top-level mutations only: a shallow copy leaves the example intact
    if kind == "drop-required":
        top = _top(doc["resourceType"])
        for key in [k for k in out if k.lstrip("_") in top and top[k.lstrip("_")][0] == target]:
            del out[key]
    elif isinstance(out.get(target), list):
        out[target] = [value, *out[target][1:]]
    else:
        out[target] = value
    return out


EXAMPLES = _example_names()
CASES = [
    pytest.param(name, kind, target, value, id=f"{kind}/{name}/{target.rsplit('.', 1)[-1]}")
    for name in EXAMPLES
    for kind, target, value in _targets(name)
]


def test_enough_mutations_are_generated():
    kinds = Counter(p.values[1] for p in CASES)
    assert len(EXAMPLES) > 700
    assert kinds["unknown-element"] == len(EXAMPLES)
    assert kinds["drop-required"] + kinds["break-date"] + kinds["unknown-element"] >= 300, kinds
    assert kinds["drop-required"] >= 300, kinds
    assert kinds["break-date"] >= 300, kinds
    assert kinds["bad-code"] >= 300, kinds


@pytest.mark.parametrize(("name", "kind", "target", "value"), CASES)
def test_mutated_example_is_rejected_at_the_mutation(name, kind, target, value):
    doc = _example(name)
    expression = _expression(doc, kind, target)
    assert expression not in _original_errors(name), "the unmutated example already fails there"
    issues = validate(_mutate(doc, kind, target, value))
    found = [i for i in issues if i.severity == "error" and i.expression == expression]
    shown = "\n".join(f"  {i.severity} {i.code} {i.expression}: {i.message}" for i in issues)
    assert found, f"expected an error at {expression}; got:\n{shown}"
    expected_code = {
        "drop-required": "required",
        "break-date": "value",
        "bad-code": "code-invalid",
        "unknown-element": "structure",
    }[kind]
    assert expected_code in {i.code for i in found}, shown
