"""CodeSystem resources as the expansion engine needs them: codes, hierarchy, properties.

Hierarchy comes from nested ``concept`` lists and from the ``subsumedBy``/``parent``/``child``
properties (HL7 Terminology flattens v3 hierarchies into ``subsumedBy``). Filters are evaluated
here because only the code system knows its own hierarchy and properties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PARENT_PROPS = ("subsumedBy", "parent")
HIERARCHY_PROPS = ("concept", "code")


@dataclass
class Concept:
    code: str
    display: str | None
    parents: list[str] = field(default_factory=list)
    props: dict[str, list[str]] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """Neither abstract (notSelectable) nor deprecated, retired or inactive."""
        props = self.props
        if "true" in props.get("notSelectable", ()) or "true" in props.get("abstract", ()):
            return False
        if "true" in props.get("inactive", ()):
            return False
        return not set(props.get("status", ())) & {"deprecated", "retired", "inactive"}


@dataclass
class CodeSystem:
    url: str
    version: str | None
    content: str
    case_sensitive: bool
    source: str
    concepts: dict[str, Concept]
    declared_props: set[str]
    valueset_url: str | None = None  # the "all codes" value set the code system declares
    _children: dict[str, list[str]] | None = None

    @property
    def enumerable(self) -> bool:
        """Only a complete code system can tell that a code is *not* one of its codes."""
        return self.content == "complete"

    def abstract(self) -> set[str]:
        """Codes flagged ``notSelectable`` (v3 abstract heads such as ``_ActAccountCode``)."""
        return {
            c.code
            for c in self.concepts.values()
            if "true" in c.props.get("notSelectable", ()) or "true" in c.props.get("abstract", ())
        }

    def children(self) -> dict[str, list[str]]:
        if self._children is None:
            kids: dict[str, list[str]] = {}
            for c in self.concepts.values():
                for p in c.parents:
                    kids.setdefault(p, []).append(c.code)
            self._children = kids
        return self._children

    def descendants(self, code: str) -> set[str]:
        kids = self.children()
        out: set[str] = set()
        stack = list(kids.get(code, ()))
        while stack:
            c = stack.pop()
            if c not in out:
                out.add(c)
                stack.extend(kids.get(c, ()))
        return out

    def ancestors(self, code: str) -> set[str]:
        out: set[str] = set()
        stack = list(self.concepts[code].parents) if code in self.concepts else []
        while stack:
            c = stack.pop()
            if c not in out:
                out.add(c)
                if c in self.concepts:
                    stack.extend(self.concepts[c].parents)
        return out

    def filter(self, prop: str, op: str, value: str) -> set[str] | None:
        """Codes selected by one compose filter; None when the filter cannot be evaluated."""
        codes = self.concepts
        if prop in HIERARCHY_PROPS:
            if op == "is-a":
                return {value} | self.descendants(value) if value in codes else set()
            if op == "descendent-of":
                return self.descendants(value) if value in codes else set()
            if op == "is-not-a":
                return set(codes) - ({value} | self.descendants(value))
            if op == "generalizes":
                return {value} | self.ancestors(value) if value in codes else set()
            if op == "in":
                return {v.strip() for v in value.split(",")} & set(codes)
            if op == "not-in":
                return set(codes) - {v.strip() for v in value.split(",")}
            if op == "=":
                return {value} & set(codes)
            if op == "regex":
                rx = re.compile(value)
                return {c for c in codes if rx.fullmatch(c)}
            return None
        if prop == "display" and op in ("=", "regex"):
            if op == "=":
                return {c.code for c in codes.values() if c.display == value}
            rx = re.compile(value)
            return {c.code for c in codes.values() if c.display and rx.fullmatch(c.display)}
        if prop not in self.declared_props and not any(prop in c.props for c in codes.values()):
            return None
        if op == "=":
            return {c.code for c in codes.values() if value in c.props.get(prop, ())}
        if op == "in":
            wanted = {v.strip() for v in value.split(",")}
            return {c.code for c in codes.values() if wanted & set(c.props.get(prop, ()))}
        if op == "not-in":
            wanted = {v.strip() for v in value.split(",")}
            return {c.code for c in codes.values() if not wanted & set(c.props.get(prop, ()))}
        if op == "regex":
            rx = re.compile(value)
            return {
                c.code
                for c in codes.values()
                if any(rx.fullmatch(v) for v in c.props.get(prop, ()))
            }
        if op == "exists":
            want = value == "true"
            return {c.code for c in codes.values() if (prop in c.props) == want}
        return None


def _value(prop: dict[str, Any]) -> str | None:
    for key, v in prop.items():
        if key.startswith("value"):
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, dict):
                return v.get("code")
            return str(v)
    return None


def split_canonical(url: str) -> tuple[str, str | None]:
    base, _, version = url.partition("|")
    return base, version or None


def from_resource(res: dict[str, Any], source: str) -> CodeSystem:
    """Read one CodeSystem resource (R4 puts some versions into ``url`` as ``url|version``)."""
    url, url_version = split_canonical(res["url"])
    concepts: dict[str, Concept] = {}
    children_of: list[tuple[str, str]] = []

    def walk(items: list[dict[str, Any]], parent: str | None) -> None:
        for item in items:
            code = item.get("code")
            if not isinstance(code, str):
                continue
            concept = concepts.get(code)
            if concept is None:
                concept = concepts[code] = Concept(code, item.get("display"))
            if parent is not None and parent not in concept.parents:
                concept.parents.append(parent)
            for p in item.get("property", []):
                value = _value(p)
                if value is None:
                    continue
                name = p.get("code", "")
                concept.props.setdefault(name, []).append(value)
                if name in PARENT_PROPS and value not in concept.parents:
                    concept.parents.append(value)
                elif name == "child":
                    children_of.append((code, value))
            walk(item.get("concept", []), code)

    walk(res.get("concept", []), None)
    for parent, child in children_of:
        if child in concepts and parent not in concepts[child].parents:
            concepts[child].parents.append(parent)
    return CodeSystem(
        url=url,
        version=res.get("version") or url_version,
        content=res.get("content", "complete"),
        case_sensitive=res.get("caseSensitive") is not False,
        source=source,
        concepts=concepts,
        declared_props={p["code"] for p in res.get("property", []) if "code" in p},
        valueset_url=res.get("valueSet"),
    )
