"""The FHIR-aware view of a JSON resource: typed nodes and navigation by element name.

Every value reached from the resource is a ``Node``: the JSON value itself, the ``Struct``
describing it (its FHIR type, and for complex values the members it may have), and for
primitives the ``_name`` sibling holding the primitive's id and extensions. A ``Struct`` is
built lazily from the definitions index (``ehr.fhir.definitions``) for each resource type,
data type and backbone element path, and caches its members, so navigating ``name`` is one
dict lookup plus the JSON access. Choice elements (``value[x]``) are found under each of their
JSON names (``valueQuantity``, ``valueString``...) and typed accordingly.

What the index does not carry, the FHIR and FHIRPath specifications fix and this module
states: which System type each FHIR primitive maps to, and the few specialisations between
types (``code`` is a ``string``, ``Age`` a ``Quantity``, a resource a ``DomainResource``).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from typing import Any

from ehr.fhir import definitions

RESOURCE = "resource"
COMPLEX = "complex"
PRIMITIVE = "primitive"
BACKBONE = "backbone"

# FHIR primitive type -> FHIRPath System type (FHIR spec, "Using FHIRPath with FHIR")
PRIMITIVE_SYSTEM: dict[str, str] = {
    "boolean": "Boolean",
    "string": "String",
    "code": "String",
    "id": "String",
    "markdown": "String",
    "uri": "String",
    "url": "String",
    "canonical": "String",
    "oid": "String",
    "uuid": "String",
    "base64Binary": "String",
    "xhtml": "String",
    "integer": "Integer",
    "positiveInt": "Integer",
    "unsignedInt": "Integer",
    "decimal": "Decimal",
    "date": "Date",
    "dateTime": "DateTime",
    "instant": "DateTime",
    "time": "Time",
}
# Specialisations among the R4 data types (StructureDefinition.baseDefinition of each)
_BASE_TYPE: dict[str, str] = {
    "code": "string",
    "id": "string",
    "markdown": "string",
    "url": "uri",
    "canonical": "uri",
    "oid": "uri",
    "uuid": "uri",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "Age": "Quantity",
    "Count": "Quantity",
    "Distance": "Quantity",
    "Duration": "Quantity",
    "MoneyQuantity": "Quantity",
    "SimpleQuantity": "Quantity",
}
_QUANTITY_KINDS = frozenset(k for k, v in _BASE_TYPE.items() if v == "Quantity") | {"Quantity"}
# Abstract types (not in the index) with the members every specialisation has
_ABSTRACT: dict[str, tuple[str, ...]] = {
    "Element": ("id", "extension"),
    "BackboneElement": ("id", "extension", "modifierExtension"),
    "Resource": ("id", "meta", "implicitRules", "language"),
    "DomainResource": ("id", "meta", "implicitRules", "language", "text", "contained"),
}
_ABSTRACT_TYPES = {
    "id": "string",
    "extension": "Extension",
    "modifierExtension": "Extension",
    "meta": "Meta",
    "implicitRules": "uri",
    "language": "code",
    "text": "Narrative",
    "contained": "Resource",
}


class Member:
    """One element of a structure, as FHIRPath names it (``value`` for ``value[x]``)."""

    __slots__ = ("name", "key", "struct", "primitive", "resource", "choices")

    def __init__(
        self,
        name: str,
        key: str,
        struct: Struct | None,
        primitive: bool,
        resource: bool,
        choices: dict[str, tuple[Struct, bool]] | None = None,
    ) -> None:
        self.name = name
        self.key = key  # JSON property name (for non-choice elements)
        self.struct = struct  # None for resources (typed by their resourceType) and unknowns
        self.primitive = primitive
        self.resource = resource
        self.choices = choices  # JSON name -> (struct, is primitive) for choice elements


class Struct:
    """The shape of a kind of node: a resource, a data type or a backbone element."""

    __slots__ = (
        "type",
        "owner",
        "path",
        "kind",
        "system",
        "ancestors",
        "_members",
        "_by_key",
    )

    def __init__(self, type_name: str, owner: str, path: str, kind: str) -> None:
        self.type = type_name
        self.owner = owner
        self.path = path
        self.kind = kind
        self.system: str | None = PRIMITIVE_SYSTEM.get(type_name)
        if type_name in _QUANTITY_KINDS:
            self.system = "Quantity"
        self.ancestors: frozenset[str] = _ancestors(type_name, kind)
        self._members: dict[str, Member] | None = None
        self._by_key: dict[str, Member] | None = None

    def __repr__(self) -> str:
        return f"Struct({self.type}, {self.path})"

    @property
    def members(self) -> dict[str, Member]:
        if self._members is None:
            self._build()
        assert self._members is not None
        return self._members

    @property
    def by_key(self) -> dict[str, Member]:
        """JSON property name -> member (each JSON name of a choice element included)."""
        if self._by_key is None:
            self._build()
        assert self._by_key is not None
        return self._by_key

    def _build(self) -> None:
        members: dict[str, Member] = {}
        by_key: dict[str, Member] = {}
        for name, el in _child_elements(self.owner, self.path):
            member = _member(self.owner, self.path, name, el)
            if member is None:
                continue
            members[member.name] = member
            if member.choices is None:
                by_key[member.key] = member
            else:
                for key in member.choices:
                    by_key[key] = member
        self._members = members
        self._by_key = by_key


def _ancestors(type_name: str, kind: str) -> frozenset[str]:
    out = {type_name}
    t = type_name
    while t in _BASE_TYPE:
        t = _BASE_TYPE[t]
        out.add(t)
    if kind == RESOURCE:
        out.add("Resource")
        if _is_domain_resource(type_name):
            out.add("DomainResource")
    else:
        out.add("Element")
    if kind == BACKBONE and type_name == "BackboneElement":
        out.add("BackboneElement")
    return frozenset(out)


def _is_domain_resource(type_name: str) -> bool:
    res = definitions.index()["resources"].get(type_name)
    return bool(res) and f"{type_name}.text" in res["elements"]


def _table(owner: str) -> dict[str, dict] | None:
    idx = definitions.index()
    entry = idx["resources"].get(owner) or idx["datatypes"].get(owner)
    return entry["elements"] if entry else None


@cache
def _children_by_parent(owner: str) -> dict[str, list[tuple[str, dict]]]:
    out: dict[str, list[tuple[str, dict]]] = {}
    for path, el in (_table(owner) or {}).items():
        parent, sep, name = path.rpartition(".")
        if sep:
            out.setdefault(parent, []).append((name, el))
    return out


def _child_elements(owner: str, path: str) -> list[tuple[str, dict]]:
    if owner in _ABSTRACT and _table(owner) is None:
        return [(n, {"types": [_ABSTRACT_TYPES[n]]}) for n in _ABSTRACT[owner]]
    if owner in PRIMITIVE_SYSTEM and path == owner:
        return [("id", {"types": ["string"]}), ("extension", {"types": ["Extension"]})]
    return _children_by_parent(owner).get(path, [])


def _member(owner: str, parent: str, name: str, el: dict) -> Member | None:
    types: list[str] = el.get("types") or []
    ref = el.get("ref")
    if ref:
        target = (_table(owner) or {}).get(ref, {})
        ttype = (target.get("types") or ["BackboneElement"])[0]
        return Member(name, name, path_struct(owner, ref, ttype), False, False)
    if name.endswith("[x]"):
        base = name[:-3]
        choices: dict[str, tuple[Struct, bool]] = {}
        for t in types:
            st = type_struct(t)
            if st is not None:
                choices[base + t[0].upper() + t[1:]] = (st, st.kind == PRIMITIVE)
        return Member(base, base, None, False, False, choices)
    if not types:
        return None
    t = types[0]
    if t in ("BackboneElement", "Element"):
        return Member(name, name, path_struct(owner, f"{parent}.{name}", t), False, False)
    if t == "Resource":
        return Member(name, name, None, False, True)
    st = type_struct(t)
    if st is None:
        return Member(name, name, None, False, False)
    return Member(name, name, st, st.kind == PRIMITIVE, st.kind == RESOURCE)


@cache
def type_struct(type_name: str) -> Struct | None:
    """Struct of a resource type or data type (abstract ones included); None if unknown."""
    idx = definitions.index()
    if type_name in idx["resources"]:
        return Struct(type_name, type_name, type_name, RESOURCE)
    dt = idx["datatypes"].get(type_name)
    if dt is not None:
        kind = PRIMITIVE if dt.get("kind") == "primitive-type" else COMPLEX
        return Struct(type_name, type_name, type_name, kind)
    if type_name in _ABSTRACT:
        kind = RESOURCE if type_name.endswith("Resource") else COMPLEX
        return Struct(type_name, type_name, type_name, kind)
    if type_name in _BASE_TYPE:  # profiles of Quantity not in the index
        base = type_struct(_BASE_TYPE[type_name])
        if base is not None:
            st = Struct(type_name, base.owner, base.path, base.kind)
            return st
    return None


@cache
def path_struct(owner: str, path: str, type_name: str = "BackboneElement") -> Struct:
    """Struct of a backbone element (``Patient.contact``) defined inside ``owner``."""
    if path == owner:
        st = type_struct(owner)
        if st is not None:
            return st
    return Struct(type_name, owner, path, BACKBONE)


def focus_struct(focus_type: str | None, focus_path: str | None, value: Any) -> Struct | None:
    """Struct for an evaluation focus described by its type and element path."""
    if focus_path and focus_path.endswith("[x]"):
        focus_path = focus_path[:-3]
    if focus_type and focus_path and focus_path != focus_type:
        if focus_path.startswith(focus_type + "."):
            return _element_struct(focus_type, focus_path)
        st = type_struct(focus_type)
        if st is not None:
            return st
    if focus_type:
        st = type_struct(focus_type)
        if st is not None:
            return st
    if focus_path:
        owner = focus_path.split(".", 1)[0]
        if "." in focus_path:
            return _element_struct(owner, focus_path)
        return type_struct(owner)
    if type(value) is dict:
        rt = value.get("resourceType")
        if type(rt) is str:
            return type_struct(rt)
    return None


@cache
def _element_struct(owner: str, path: str) -> Struct | None:
    table = _table(owner) or {}
    el = table.get(path) or table.get(path + "[x]")
    if el is None:
        return None
    if el.get("ref"):
        target = table.get(el["ref"], {})
        return path_struct(owner, el["ref"], (target.get("types") or ["BackboneElement"])[0])
    types = el.get("types") or []
    if len(types) == 1:
        if types[0] in ("BackboneElement", "Element"):
            return path_struct(owner, path, types[0])
        return type_struct(types[0])
    return None


class Node:
    """A value reached in the resource: JSON value, its structure, and the ``_name`` sibling."""

    __slots__ = ("value", "struct", "ext")

    def __init__(self, value: Any, struct: Struct | None, ext: Any = None) -> None:
        self.value = value
        self.struct = struct
        self.ext = ext

    def __repr__(self) -> str:
        t = self.struct.type if self.struct else "?"
        return f"Node({t}: {self.value!r})"

    @property
    def type_name(self) -> str | None:
        st = self.struct
        if st is not None:
            return st.type
        return untyped_type(self.value)


def untyped_type(value: Any) -> str | None:
    t = type(value)
    if t is str:
        return "string"
    if t is bool:
        return "boolean"
    if t is int:
        return "integer"
    if t is float or t is Decimal:
        return "decimal"
    return None


def resource_node(value: Any) -> Node:
    rt = value.get("resourceType") if type(value) is dict else None
    return Node(value, type_struct(rt) if type(rt) is str else None)


def _pair(value: Any, ext: Any, struct: Struct | None, out: list) -> None:
    """Primitive value(s) with their ``_name`` sibling(s), aligned by index for arrays."""
    if type(value) is list or type(ext) is list:
        vals = value if type(value) is list else []
        exts = ext if type(ext) is list else []
        for i in range(max(len(vals), len(exts))):
            v = vals[i] if i < len(vals) else None
            e = exts[i] if i < len(exts) else None
            if v is not None or e is not None:
                out.append(Node(v, struct, e))
    else:
        out.append(Node(value, struct, ext))


def _complex(value: Any, struct: Struct | None, resource: bool, out: list) -> None:
    if type(value) is list:
        for v in value:
            if v is not None:
                out.append(resource_node(v) if resource else Node(v, struct))
    else:
        out.append(resource_node(value) if resource else Node(value, struct))


def collect(member: Member, d: dict, out: list) -> None:
    """Append the nodes of ``member`` found in the JSON object ``d`` to ``out``."""
    choices = member.choices
    if choices is None:
        key = member.key
        v = d.get(key)
        if member.primitive:
            e = d.get("_" + key)
            if v is not None or e is not None:
                _pair(v, e, member.struct, out)
        elif v is not None:
            _complex(v, member.struct, member.resource, out)
        return
    if len(d) < len(choices):
        for key, v in d.items():
            if key[0] == "_":
                c = choices.get(key[1:])
                if c is not None and key[1:] not in d:
                    out.append(Node(None, c[0], v))
                continue
            c = choices.get(key)
            if c is not None:
                if c[1]:
                    _pair(v, d.get("_" + key), c[0], out)
                else:
                    _complex(v, c[0], c[0].kind == RESOURCE, out)
    else:
        for key, (st, prim) in choices.items():
            v = d.get(key)
            if prim:
                e = d.get("_" + key)
                if v is not None or e is not None:
                    _pair(v, e, st, out)
            elif v is not None:
                _complex(v, st, False, out)


def member_present(member: Member, d: dict) -> bool:
    """Whether ``member`` has at least one node in ``d`` (without building the nodes)."""
    choices = member.choices
    if choices is None:
        key = member.key
        v = d.get(key)
        if v is not None and v != []:
            return True
        return member.primitive and d.get("_" + key) is not None
    return any((key[1:] if key[0] == "_" else key) in choices for key in d)


def navigate_into(node: Node, name: str, out: list) -> None:
    """Append the children of ``node`` called ``name`` to ``out``."""
    v = node.value
    st = node.struct
    if type(v) is dict:
        if st is None:
            st = type_struct(v["resourceType"]) if type(v.get("resourceType")) is str else None
        if st is None:
            raw = v.get(name)
            e = v.get("_" + name)
            if raw is None and e is None:
                return
            if type(raw) is dict or (type(raw) is list and raw and type(raw[0]) is dict):
                _complex(raw, None, False, out)
            else:
                _pair(raw, e, None, out)
            return
        m = st.members.get(name)
        if m is not None:
            collect(m, v, out)
        return
    ext = node.ext
    if type(ext) is dict:
        if name == "extension":
            x = ext.get("extension")
            if x is not None:
                _complex(x, type_struct("Extension"), False, out)
        elif name == "id":
            x = ext.get("id")
            if x is not None:
                out.append(Node(x, type_struct("string")))


def children_of(node: Node, out: list) -> None:
    """Append every child node of ``node`` (all members present, in JSON order)."""
    v = node.value
    if type(v) is dict:
        st = node.struct
        if st is None and type(v.get("resourceType")) is str:
            st = type_struct(v["resourceType"])
        by_key = st.by_key if st is not None else None
        for key, raw in v.items():
            if key == "resourceType":
                continue
            if key[0] == "_":
                if key[1:] in v:
                    continue
                base = key[1:]
                m = by_key.get(base) if by_key is not None else None
                if m is not None and m.choices is not None:
                    _pair(None, raw, m.choices[base][0], out)
                else:
                    _pair(None, raw, m.struct if m is not None else None, out)
                continue
            m = by_key.get(key) if by_key is not None else None
            if m is None:
                if type(raw) is dict or (type(raw) is list and raw and type(raw[0]) is dict):
                    _complex(raw, None, False, out)
                else:
                    _pair(raw, v.get("_" + key), None, out)
            elif m.choices is not None:
                st2, prim = m.choices[key]
                if prim:
                    _pair(raw, v.get("_" + key), st2, out)
                else:
                    _complex(raw, st2, False, out)
            elif m.primitive:
                _pair(raw, v.get("_" + key), m.struct, out)
            else:
                _complex(raw, m.struct, m.resource, out)
        return
    ext = node.ext
    if type(ext) is dict:
        x = ext.get("id")
        if x is not None:
            out.append(Node(x, type_struct("string")))
        x = ext.get("extension")
        if x is not None:
            _complex(x, type_struct("Extension"), False, out)


def iter_elements(resource: dict) -> Iterator[tuple[str, str, Node]]:
    """Walk a resource: (owner, element path, node) for every element node, depth first.

    ``owner`` is the type whose StructureDefinition defines the element and ``path`` the
    element's path there, the one snapshot constraints are attached to: ``Patient.contact``
    for each contact, ``HumanName.given`` for the given names inside a HumanName,
    ``Questionnaire.item`` for nested items too (content references are followed), ``date.
    extension`` for the extensions of a primitive. The root comes first as (type, type, node).
    Contained resources and Bundle entries are not entered: they are resources of their own.
    """
    root = resource_node(resource)
    if root.struct is None:
        return
    yield root.struct.type, root.struct.type, root
    yield from _walk(root)


def _walk(node: Node) -> Iterator[tuple[str, str, Node]]:
    st = node.struct
    if st is None:
        return
    v = node.value
    if type(v) is not dict:
        v = node.ext
        if type(v) is not dict:
            return
    by_key = st.by_key
    for key in v:
        base = key[1:] if key[0] == "_" else key
        if key[0] == "_" and base in v:
            continue
        m = by_key.get(base)
        if m is None or m.resource:
            continue
        out: list[Node] = []
        if m.choices is not None:
            name = m.name + "[x]"
            cst, prim = m.choices[base]
            if prim:
                _pair(v.get(base), v.get("_" + base), cst, out)
            else:
                _complex(v[base], cst, False, out)
        else:
            name = m.name
            if m.primitive:
                _pair(v.get(base), v.get("_" + base), m.struct, out)
            else:
                _complex(v[base], m.struct, False, out)
        path = f"{st.path}.{name}"
        for child in out:
            cs = child.struct
            if cs is not None and cs.kind == RESOURCE:
                continue
            if cs is not None and cs.kind == BACKBONE:
                yield st.owner, cs.path if cs.path != path else path, child
            else:
                yield st.owner, path, child
            yield from _walk(child)
