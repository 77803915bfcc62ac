"""The validator's compiled view of a structure: for each node, its allowed JSON properties.

A node is a resource, a data type, or a backbone element inside one; it is identified by the
definition that owns it (a resource or data type name) and its element path. Choice elements
are expanded into their JSON names (``value[x]`` -> ``valueQuantity``, ``valueString``...).
Everything is derived from the official snapshots and cached, so validation does dictionary
lookups only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ehr.fhir import definitions
from ehr.fhir.validation.primitives import checker, is_primitive

UNBOUNDED = sys.maxsize


@dataclass(slots=True)
class ElementRule:
    name: str  # JSON property name
    path: str  # element path in its definition, e.g. "Observation.value[x]"
    min: int
    max: int
    type: str  # FHIR type of this JSON property ("BackboneElement" for inline children)
    kind: str  # "primitive" | "complex" | "backbone" | "resource"
    choice_of: str | None = None  # base name when this is one type of a choice element
    choice_types: tuple[str, ...] = ()
    binding: tuple[str, str] | None = None  # (strength, value set url)
    targets: tuple[str, ...] = ()
    owner: str = ""  # resource or data type whose snapshot defines the inline children
    child_path: str = ""  # path of the inline children (backbone elements, content references)
    check: Any = None  # primitive check (value -> message or None)
    # error-level invariants declared on this element where it is used
    invariants: list[tuple[str, str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind == "primitive":
            self.check = checker(self.type)

    @property
    def repeats(self) -> bool:
        return self.max > 1


@dataclass(slots=True)
class NodeRule:
    owner: str
    path: str
    children: dict[str, ElementRule] = field(default_factory=dict)
    # (path, JSON names that satisfy it, including the ``_name`` of primitives)
    required: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # base -> JSON names
    invariants: list[tuple[str, str, str, str]] = field(default_factory=list)
    is_resource: bool = False  # the root of a resource (``resourceType`` allowed)


def _elements_of(owner: str) -> dict[str, dict]:
    idx = definitions.index()
    if owner in idx["resources"]:
        return idx["resources"][owner]["elements"]
    return idx["datatypes"][owner]["elements"]


def _kind(type_name: str) -> str:
    if type_name in ("BackboneElement", "Element"):
        return "backbone"
    if type_name == "Resource" or definitions.is_resource_type(type_name):
        return "resource"
    if is_primitive(type_name):
        return "primitive"
    return "complex"


def _max(value: str) -> int:
    return UNBOUNDED if value == "*" else int(value)


@cache
def node_rule(owner: str, path: str) -> NodeRule:
    """Rule for the node at ``path`` of definition ``owner`` (``owner == path`` for a root)."""
    elements = _elements_of(owner)
    rule = NodeRule(owner, path)
    rule.is_resource = owner == path and definitions.is_resource_type(owner)
    own = elements.get(path)
    if own:
        rule.invariants = [tuple(i) for i in own.get("invariants", []) if i[1] == "error"]
    prefix = path + "."
    for el_path, facts in elements.items():
        if not el_path.startswith(prefix) or "." in el_path[len(prefix) :]:
            continue
        name = el_path[len(prefix) :]
        mn, mx = facts.get("min", 0), _max(facts.get("max", "*"))
        binding = tuple(facts["binding"]) if facts.get("binding") else None
        targets = tuple(facts.get("targets", ()))
        if "ref" in facts:  # content reference: same children as another element
            ref = facts["ref"]
            ref_owner, ref_path = (ref.split("#")[-1].split(".", 1)[0], ref.split("#")[-1])
            rule.children[name] = ElementRule(
                name, el_path, mn, mx, "BackboneElement", "backbone",
                owner=ref_owner, child_path=ref_path,
            )  # fmt: skip
            if mn > 0:
                rule.required.append((el_path, (name, "_" + name)))
            continue
        types = facts.get("types", [])
        if rule.is_resource and name == "id":
            types = ["id"]  # the snapshot says System.String; the specification says id
        invs = [tuple(i) for i in facts.get("invariants", []) if i[1] == "error"]
        if name.endswith("[x]"):
            base = name[:-3]
            names = []
            for t in types:
                json_name = base + t[0].upper() + t[1:]
                names.append(json_name)
                rule.children[json_name] = ElementRule(
                    json_name, el_path, mn, mx, t, _kind(t),
                    choice_of=base, choice_types=tuple(types), binding=binding, targets=targets,
                    invariants=invs,
                )  # fmt: skip
            rule.choices[base] = tuple(names)
            if mn > 0:
                rule.required.append((el_path, (*names, *("_" + n for n in names))))
            continue
        t = types[0] if types else "string"
        kind = _kind(t)
        er = ElementRule(
            name, el_path, mn, mx, t, kind, binding=binding, targets=targets, invariants=invs
        )
        if kind == "backbone":
            er.owner, er.child_path = owner, el_path
        rule.children[name] = er
        if mn > 0:
            rule.required.append((el_path, (name, "_" + name)))
    return rule


def root_rule(resource_type: str) -> NodeRule:
    return node_rule(resource_type, resource_type)


def type_rule(type_name: str) -> NodeRule:
    return node_rule(type_name, type_name)
