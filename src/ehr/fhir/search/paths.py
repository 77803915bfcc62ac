"""Evaluate the simple FHIRPath forms used by search-parameter definitions.

Most R4 search expressions are unions of dotted paths, optionally narrowed with
``.where(resolve() is Type)`` or ``as Type`` / ``.ofType(Type)``. Those are compiled here into
plain attribute walks, which is what write-time indexing needs to be cheap. Expressions outside
this subset compile to ``None`` and are not indexed by this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from ehr.fhir.definitions.build import _split_union

_STEP = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_WHERE_RESOLVE = re.compile(r"\.where\(resolve\(\) is ([A-Za-z]+)\)$")
_AS = re.compile(r"^\(?(.+?)\s+as\s+([A-Za-z]+)\)?$")
_OFTYPE = re.compile(r"\.ofType\(([A-Za-z]+)\)$")


@dataclass(frozen=True)
class Branch:
    steps: tuple[str, ...]
    resolve_type: str | None = None  # keep only references to this type


def _compile_branch(text: str, resource_type: str) -> Branch | None:
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    resolve_type = None
    m = _WHERE_RESOLVE.search(text)
    if m:
        resolve_type = m.group(1)
        text = text[: m.start()]
    choice_type = None
    m = _AS.match(text)
    if m:
        text, choice_type = m.group(1).strip(), m.group(2)
    m = _OFTYPE.search(text)
    if m:
        choice_type = m.group(1)
        text = text[: m.start()]
    parts = text.split(".")
    if parts[0] not in (resource_type, "Resource", "DomainResource"):
        return None
    steps = parts[1:]
    if not steps or not all(_STEP.match(s) for s in steps):
        return None
    if choice_type:
        steps[-1] = steps[-1] + choice_type[0].upper() + choice_type[1:]
    return Branch(tuple(steps), resolve_type)


@cache
def compile_expression(expression: str | None, resource_type: str) -> tuple[Branch, ...] | None:
    if not expression:
        return None
    branches = []
    for part in _split_union(expression):
        branch = _compile_branch(part, resource_type)
        if branch is None:
            return None
        branches.append(branch)
    return tuple(branches)


def _walk(node: object, steps: tuple[str, ...]) -> Iterator[object]:
    if not steps:
        if isinstance(node, list):
            yield from node
        else:
            yield node
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, steps)
        return
    if isinstance(node, dict):
        child = node.get(steps[0])
        if child is not None:
            yield from _walk(child, steps[1:])


def values(resource: dict, branches: tuple[Branch, ...]) -> Iterator[object]:
    for branch in branches:
        for value in _walk(resource, branch.steps):
            if branch.resolve_type and not _refers_to(value, branch.resolve_type):
                continue
            yield value


def reference_target(value: object) -> tuple[str, str] | None:
    """``(type, id)`` of a literal reference such as ``Patient/123`` or ``http://x/Patient/1``."""
    if not isinstance(value, dict):
        return None
    ref = value.get("reference")
    if not isinstance(ref, str) or ref.startswith("#"):
        return None
    parts = ref.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) < 2:
        return None
    return parts[-2], parts[-1]


def _refers_to(value: object, type_name: str) -> bool:
    target = reference_target(value)
    return target is not None and target[0] == type_name
