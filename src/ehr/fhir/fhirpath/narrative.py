"""``htmlChecks()``: the FHIR rules for narrative XHTML (invariants txt-1 and txt-2).

The div must be well-formed XHTML whose root is ``div`` in the XHTML namespace, use only the
basic formatting elements and attributes the FHIR narrative allows (HTML 4.0 chapters 7-11
and 12, no forms, frames, scripts or objects), carry no event handler attributes and no
``javascript:`` links, and have some non-whitespace content (text or an image).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache

XHTML = "{http://www.w3.org/1999/xhtml}"
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
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@lru_cache(maxsize=256)
def check(div: str) -> bool:
    """True when ``div`` satisfies the FHIR narrative rules."""
    try:
        root = ET.fromstring(div)
    except ET.ParseError:
        return False
    if root.tag != XHTML + "div":
        return False
    has_content = False
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str) or not tag.startswith(XHTML):
            return False
        local = tag[len(XHTML) :]
        if local not in ALLOWED_ELEMENTS:
            return False
        for attr, value in el.attrib.items():
            if attr == _XML_LANG:
                continue
            if attr.startswith("{") or attr not in ALLOWED_ATTRIBUTES:
                return False
            if attr in ("href", "src") and value.strip().lower().startswith("javascript:"):
                return False
        if local == "img" or (el.text and el.text.strip()) or (el.tail and el.tail.strip()):
            has_content = True
    return has_content
