"""Python versions of the invariants that every resource and every reference carries.

dom-2..dom-5 sit on the root of every DomainResource and ref-1 on every Reference, so they run
tens of times per resource; through the general FHIRPath engine they cost more than the rest of
validation together. Each function here decides exactly what its official expression decides
(tests compare both on every official example and on broken cases), with one deliberate
difference: ref-1 accepts ``#``, the reference from a contained resource to its container,
which dom-3 itself allows and later FHIR versions add to ref-1.

A native version is used only when the definition's expression text is the one written here,
so a profile that reuses a key with another expression still goes through the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from xml.parsers import expat

from ehr.fhir.fhirpath.narrative import ALLOWED_ATTRIBUTES, ALLOWED_ELEMENTS

DOM_3 = (
    "contained.where((('#'+id in (%resource.descendants().reference | "
    "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
    "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
    "descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = "
    "'#').exists()).not()).trace('unmatched', id).empty()"
)
REF_1 = (
    "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
    "%rootResource.contained.id.trace('ids'))"
)


def _contained(node: Any) -> list:
    items = node.get("contained") if type(node) is dict else None
    return [c for c in items if type(c) is dict] if type(items) is list else []


def dom_2(node: Any, container: dict) -> bool:
    return not any("contained" in c for c in _contained(node))


def dom_4(node: dict, container: dict) -> bool:
    for c in _contained(node):
        meta = c.get("meta")
        if type(meta) is dict and ("versionId" in meta or "lastUpdated" in meta):
            return False
    return True


def dom_5(node: dict, container: dict) -> bool:
    for c in _contained(node):
        meta = c.get("meta")
        if type(meta) is dict and "security" in meta:
            return False
    return True


def _local_strings(node: Any, out: set[str]) -> None:
    """Every string value starting with '#' anywhere below ``node``."""
    kind = type(node)
    if kind is dict:
        for value in node.values():
            _local_strings(value, out)
    elif kind is list:
        for value in node:
            _local_strings(value, out)
    elif kind is str and node[:1] == "#":
        out.add(node)


def dom_3(node: Any, container: dict) -> bool:
    if type(node) is not dict:
        return True
    contained = _contained(node)
    if not contained:
        return True
    refs: set[str] = set()
    _local_strings(node, refs)
    for c in contained:
        cid = c.get("id")
        if type(cid) is not str:
            continue  # no id: the expression is empty here (the validator reports it apart)
        if "#" + cid in refs:
            continue
        inner: set[str] = set()
        _local_strings(c, inner)
        if "#" not in inner:
            return False
    return True


def ref_1(node: Any, container: dict) -> bool:
    ref = node.get("reference") if type(node) is dict else None
    if type(ref) is not str or ref[:1] != "#":
        return True
    if ref == "#":
        return True  # a contained resource pointing at its container (see module docstring)
    ids = {c.get("id") for c in _contained(container)}
    return ref[1:] in ids


XHTML_NS = "http://www.w3.org/1999/xhtml"
_TAG = re.compile(r"<([A-Za-z_][\w:.-]*)((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>")
_ATTR = re.compile(r"([^\s=/>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_MARKUP = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_ALLOWED_ATTRIBUTES = ALLOWED_ATTRIBUTES | {"xml:lang"}


@lru_cache(maxsize=64)
def html_checks(div: str) -> bool:
    """The narrative rules of txt-1/txt-2 (as ``ehr.fhir.fhirpath.narrative`` states them).

    Well-formedness is left to expat with no Python callbacks (fast, in C); element and
    attribute names are then checked on the start tags, found with one regular expression:
    a ``div`` root in the XHTML namespace, only the allowed elements and attributes, no other
    namespace, no ``javascript:`` links, and some non-whitespace content (text or an image).
    """
    try:
        expat.ParserCreate().Parse(div, True)
    except expat.ExpatError:
        return False
    tags = _TAG.findall(div)
    if not tags or tags[0][0] != "div":
        return False
    has_xhtml_root = False
    for i, (name, attrs) in enumerate(tags):
        if name not in ALLOWED_ELEMENTS:
            return False
        for attr, v1, v2 in _ATTR.findall(attrs):
            value = v1 or v2
            if attr == "xmlns":
                if value != XHTML_NS:
                    return False
                if i == 0:
                    has_xhtml_root = True
                continue
            if attr.startswith("xmlns:"):
                continue  # a prefix declaration; any element or attribute using it is refused
            if attr not in _ALLOWED_ATTRIBUTES:
                return False
            if attr in ("href", "src") and value.strip().lower().startswith("javascript:"):
                return False
    if not has_xhtml_root:
        return False
    if any(name == "img" for name, _ in tags):
        return True
    return bool(_MARKUP.sub("", _CDATA.sub(r"\1", div)).strip())


def txt(node: Any, container: dict) -> bool:
    return type(node) is str and html_checks(node)


NATIVE: dict[tuple[str, str], Callable[[Any, dict], bool]] = {
    ("txt-1", "htmlChecks()"): txt,
    ("txt-2", "htmlChecks()"): txt,
    ("dom-2", "contained.contained.empty()"): dom_2,
    ("dom-3", DOM_3): dom_3,
    ("dom-4", "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()"): dom_4,
    ("dom-5", "contained.meta.security.empty()"): dom_5,
    ("ref-1", REF_1): ref_1,
}


def native(key: str, expression: str) -> Callable[[dict, dict], bool] | None:
    return NATIVE.get((key, expression))
