"""``htmlChecks()``: the FHIR rules for narrative XHTML (invariants txt-1 and txt-2).

The div must be well-formed XHTML whose root is ``div`` in the XHTML namespace, use only the
basic formatting elements and attributes the FHIR narrative allows (HTML 4.0 chapters 7-11
and 12, no forms, frames, scripts or objects), carry no event handler attributes and no
``javascript:`` links, and have some non-whitespace content (text or an image).
"""

from __future__ import annotations

from functools import lru_cache
from xml.parsers import expat

_ELEMENTS = """a abbr acronym b big blockquote br caption cite code col colgroup dd dfn div dl
    dt em h1 h2 h3 h4 h5 h6 hr i img li ol p pre q samp small span strong sub sup table tbody
    td tfoot th thead tr tt ul var"""
ALLOWED_ELEMENTS = frozenset(_ELEMENTS.split())
_CORE = "id class style title lang dir"
ALLOWED_ATTRIBUTES = frozenset(
    f"""{_CORE} href name rel rev hreflang charset type shape coords target src alt longdesc
    height width border align valign hspace vspace usemap ismap summary frame rules
    cellspacing cellpadding bgcolor abbr axis headers scope rowspan colspan char charoff
    nowrap span start value compact cite datetime clear noshade size accesskey tabindex""".split()
)


class _Checker:
    """expat callbacks: no tree is built, the first violation stops the parse."""

    __slots__ = ("ok", "content", "depth")

    def __init__(self) -> None:
        self.ok = True
        self.content = False
        self.depth = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        ns, _, local = name.rpartition(" ")
        if ns != _NS or local not in ALLOWED_ELEMENTS or (self.depth == 0 and local != "div"):
            raise _Invalid
        self.depth += 1
        if local == "img":
            self.content = True
        for attr, value in attrs.items():
            if attr == _XML_LANG:
                continue
            if " " in attr or attr not in ALLOWED_ATTRIBUTES:
                raise _Invalid
            if attr in ("href", "src") and value.strip().lower().startswith("javascript:"):
                raise _Invalid

    def text(self, data: str) -> None:
        if not self.content and not data.isspace():
            self.content = True


class _Invalid(Exception):
    pass


_NS = "http://www.w3.org/1999/xhtml"
_XML_LANG = "http://www.w3.org/XML/1998/namespace lang"


@lru_cache(maxsize=256)
def check(div: str) -> bool:
    """True when ``div`` satisfies the FHIR narrative rules."""
    checker = _Checker()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = checker.start
    parser.CharacterDataHandler = checker.text
    try:
        parser.Parse(div, True)
    except (_Invalid, expat.ExpatError):
        return False
    return checker.depth > 0 and checker.content
