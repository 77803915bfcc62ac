"""Validation against a profile the server holds (the constraint StructureDefinitions of R4).

The base validation has already checked the structure; a profile narrows it. This pass checks
what a profile adds: tighter cardinality, fixed and pattern values, narrowed choice types,
stronger bindings, slices (by value, pattern and type discriminators) and the profile's own
invariants. Profiles the server does not know produce a warning, never silence.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from ehr.fhir import definitions
from ehr.fhir.validation import invariants
from ehr.fhir.validation.issues import Issue
from ehr.fhir.validation.schema import UNBOUNDED

if TYPE_CHECKING:
    from ehr.fhir.validation.validator import Walker


_SLICE_NAME = re.compile(r":[^.]+")


def known_profile(url: str) -> dict | None:
    return definitions.index()["profiles"].get(url.split("|")[0])


@cache
def _children(url: str) -> dict[str, list[tuple[str, dict]]]:
    """Element id -> its direct child elements (slices are children of their sliced element)."""
    elements = known_profile(url)["elements"]
    out: dict[str, list[tuple[str, dict]]] = {}
    for eid, facts in elements.items():
        if "." not in eid:
            continue
        parent, _, last = eid.rpartition(".")
        if ":" in last:  # "category:VSCat" is a slice of "category", under the same parent
            continue
        out.setdefault(parent, []).append((eid, facts))
    return out


@cache
def _slices(url: str, element_id: str) -> list[tuple[str, dict]]:
    elements = known_profile(url)["elements"]
    prefix = element_id + ":"
    return [
        (eid, f)
        for eid, f in elements.items()
        if eid.startswith(prefix) and "." not in eid[len(prefix) :]
    ]


@cache
def _base_invariant_keys(resource_type: str) -> frozenset[str]:
    keys = set()
    for facts in definitions.elements(resource_type).values():
        for inv in facts.get("invariants", []):
            keys.add(inv[0])
    return frozenset(keys)


def _max(value: str) -> int:
    return UNBOUNDED if value == "*" else int(value)


def _values(parents: list[Any], name: str) -> list[tuple[int, Any, str]]:
    """(parent index, value, JSON name) of every child called ``name`` (choice names too)."""
    out = []
    for pi, parent in enumerate(parents):
        if type(parent) is not dict:
            continue
        if name.endswith("[x]"):
            base = name[:-3]
            for key, value in parent.items():
                if key.startswith(base) and key[len(base) : len(base) + 1].isupper():
                    out.extend(_items(pi, value, key))
        else:
            value = parent.get(name)
            if value is not None:
                out.extend(_items(pi, value, name))
    return out


def _items(pi: int, value: Any, name: str) -> list[tuple[int, Any, str]]:
    if type(value) is list:
        return [(pi, v, f"{name}[{i}]") for i, v in enumerate(value)]
    return [(pi, value, name)]


def _matches_pattern(value: Any, pattern: Any) -> bool:
    if type(pattern) is dict:
        if type(value) is not dict:
            return False
        return all(k in value and _matches_pattern(value[k], p) for k, p in pattern.items())
    if type(pattern) is list:
        if type(value) is not list:
            return False
        return all(any(_matches_pattern(v, p) for v in value) for p in pattern)
    return value == pattern


def _at(value: Any, path: str) -> list[Any]:
    nodes = [value]
    if path in ("$this", ""):
        return nodes
    for step in path.split("."):
        nxt = []
        for node in nodes:
            if type(node) is dict and step in node:
                child = node[step]
                nxt.extend(child if type(child) is list else [child])
        nodes = nxt
    return nodes


def _fixed_at(url: str, slice_id: str, path: str) -> tuple[str, Any] | None:
    """The fixed or pattern value a slice sets at a discriminator path."""
    return _fixed_index(url).get((slice_id, path))


@cache
def _fixed_index(url: str) -> dict[tuple[str, str], tuple[str, Any]]:
    """(slice id, discriminator path) -> fixed/pattern value, looking through nested slices."""
    out: dict[tuple[str, str], tuple[str, Any]] = {}
    elements = known_profile(url)["elements"]
    for eid, facts in elements.items():
        value = (
            ("fixed", facts["fixed"])
            if "fixed" in facts
            else (("pattern", facts["pattern"]) if "pattern" in facts else None)
        )
        if value is None:
            continue
        # every ancestor that is a slice can use this value as its discriminator
        parts = eid.split(".")
        for i, part in enumerate(parts):
            if ":" not in part:
                continue
            slice_id = ".".join(parts[: i + 1])
            rest = _SLICE_NAME.sub("", ".".join(parts[i + 1 :]))
            out.setdefault((slice_id, rest or "$this"), value)
    return out


def _in_slice(
    url: str, slice_id: str, facts: dict, discriminators: list, item: Any, json_name: str
) -> bool:
    for kind, path in discriminators:
        if kind == "type":
            wanted = facts.get("types") or []
            json_base = json_name.split("[")[0]
            if (
                path in ("$this", "")
                and wanted
                and not any(json_base.endswith(t[0].upper() + t[1:]) for t in wanted)
            ):
                return False
            continue
        if kind not in ("value", "pattern"):
            continue  # exists / profile discriminators are not used by the R4 core profiles
        required = _fixed_at(url, slice_id, path)
        if required is None:
            continue
        mode, expected = required
        found = _at(item, path)
        if mode == "fixed" and expected not in found:
            return False
        if mode == "pattern" and not any(_matches_pattern(v, expected) for v in found):
            return False
    return True


class _Pass:
    def __init__(self, walker: Walker, url: str, resource: dict):
        self.walker = walker
        self.url = url
        self.resource = resource
        self.label = known_profile(url).get("name") or url
        self.base_invariants = _base_invariant_keys(resource["resourceType"])

    def base_cardinality(self, eid: str) -> tuple[int, int]:
        path = _SLICE_NAME.sub("", eid)
        base = definitions.elements(self.resource["resourceType"]).get(path)
        if base is None:
            return 0, UNBOUNDED
        return base.get("min", 0), _max(base.get("max", "*"))

    def focus(self, eid: str) -> tuple[str | None, str | None]:
        """FHIR type and element path of the values an element id selects, for FHIRPath."""
        rtype = self.resource["resourceType"]
        path = _SLICE_NAME.sub("", eid)
        base = definitions.elements(rtype).get(path)
        if base is None:
            return None, None
        types = base.get("types") or []
        if len(types) == 1 and types[0] not in ("BackboneElement", "Element"):
            return types[0], types[0]
        return rtype, path

    def error(self, expr: str, message: str, code: str = "structure") -> None:
        self.walker.issues.append(Issue("error", code, expr, f"{message} (profile {self.label})"))

    def element(self, eid: str, facts: dict, parents: list[Any], exprs: list[str]) -> None:
        name = eid.rsplit(".", 1)[-1]
        found = _values(parents, name)
        mn, mx = facts.get("min", 0), _max(facts.get("max", "*"))
        counts = [0] * len(parents)
        for pi, _, _ in found:
            counts[pi] += 1
        short = name.replace("[x]", "")
        base_min, base_max = self.base_cardinality(eid)
        if mn <= base_min and mx >= base_max:
            mn, mx = 0, UNBOUNDED  # nothing tighter than the base, already checked there
        for pi, n in enumerate(counts):
            if n < mn:
                self.error(
                    f"{exprs[pi]}.{short}", f"{eid} needs at least {mn}, found {n}", "required"
                )
            elif n > mx:
                self.error(f"{exprs[pi]}.{short}", f"{eid} allows at most {mx}, found {n}")
        types = facts.get("types")
        child_values, child_exprs = [], []
        for pi, value, json_name in found:
            expr = f"{exprs[pi]}.{json_name}"
            if name.endswith("[x]") and types:
                base = name[:-3]
                if json_name[len(base) :] not in {t[0].upper() + t[1:] for t in types}:
                    self.error(expr, f"{json_name} is not allowed; {eid} allows {', '.join(types)}")
            if "fixed" in facts and value != facts["fixed"]:
                self.error(expr, f"must be exactly {facts['fixed']!r}", "value")
            if "pattern" in facts and not _matches_pattern(value, facts["pattern"]):
                self.error(expr, f"must match the pattern {facts['pattern']!r}", "value")
            child_values.append(value)
            child_exprs.append(expr)
        for key, severity, expression, human in facts.get("invariants", []):
            if severity != "error" or key in self.base_invariants:
                continue
            focus_type, focus_path = self.focus(eid)
            for value, expr in zip(child_values, child_exprs, strict=True):
                result = _evaluate(expression, self.resource, value, focus_type, focus_path)
                if result is not None and not invariants.passes(result):
                    self.error(expr, f"{key}: {human}", "invariant")
        if "slicing" in facts and child_values:
            self.slices(eid, facts, found, exprs)
        self.children(eid, child_values, child_exprs)

    def slices(self, eid: str, facts: dict, found: list, exprs: list[str]) -> None:
        discriminators = facts["slicing"]
        for slice_id, sfacts in _slices(self.url, eid):
            members = [
                (pi, v, jn) for pi, v, jn in found
                if _in_slice(self.url, slice_id, sfacts, discriminators, v, jn)
            ]  # fmt: skip
            mn, mx = sfacts.get("min", 0), _max(sfacts.get("max", "*"))
            name = eid.rsplit(".", 1)[-1].replace("[x]", "")
            per_parent: dict[int, int] = {}
            for pi, _, _ in members:
                per_parent[pi] = per_parent.get(pi, 0) + 1
            parents_seen = {pi for pi, _, _ in found}
            for pi in parents_seen | set(range(len(exprs))):
                n = per_parent.get(pi, 0)
                if n < mn:
                    self.error(
                        f"{exprs[pi]}.{name}",
                        f"slice {sfacts.get('slice')} of {eid} needs at "
                        f"least {mn} matching item(s), found {n}",
                        "required",
                    )
                elif n > mx:
                    self.error(
                        f"{exprs[pi]}.{name}",
                        f"slice {sfacts.get('slice')} of {eid} allows at most {mx}, found {n}",
                    )
            if members:
                values = [v for _, v, _ in members]
                mexprs = [f"{exprs[pi]}.{jn}" for pi, _, jn in members]
                self.children(slice_id, values, mexprs)

    def children(self, eid: str, values: list[Any], exprs: list[str]) -> None:
        if not values:
            return
        for child_id, facts in _children(self.url).get(eid, []):
            if (
                child_id.rsplit(".", 1)[-1] in ("id", "extension", "modifierExtension")
                and "slicing" not in facts
                and facts.get("min", 0) == 0
            ):
                continue
            self.element(child_id, facts, values, exprs)


def _evaluate(
    expression: str, resource: dict, focus: Any, focus_type: str | None, focus_path: str | None
) -> list | None:
    compiled = invariants._compiled(expression)
    if compiled is None:
        return None
    try:
        return compiled.evaluate(resource, focus, focus_type=focus_type, focus_path=focus_path)
    except Exception:
        return None


def check(walker: Walker, resource: dict, url: str, *, claimed: bool, index: int = 0) -> None:
    """Validate ``resource`` against profile ``url``; an unknown profile is a warning."""
    profile = known_profile(url)
    where = resource.get("resourceType", "")
    if profile is None:
        what = "claims" if claimed else "was asked to be validated against"
        walker.issues.append(Issue(
            "warning", "not-supported", f"{where}.meta.profile[{index}]" if claimed else where,
            f"the resource {what} the profile {url}, which this server does not hold; "
            "it was validated against the base definition only",
        ))  # fmt: skip
        return
    if profile["type"] != resource.get("resourceType"):
        walker.issues.append(Issue(
            "error", "structure", where,
            f"profile {url} is for {profile['type']}, not {resource.get('resourceType')}",
        ))  # fmt: skip
        return
    p = _Pass(walker, url.split("|")[0], resource)
    root = profile["type"]
    p.children(root, [resource], [root])
