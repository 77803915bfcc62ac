"""Write-time extraction of search index values, for every R4 search parameter of every type.

``extract(resource_type, resource)`` returns the rows of each index table (``IndexRows``);
the storage layer inserts them with ``executemany``, each row prefixed by the resource's key.

Which values: the parameter's FHIRPath expression from the official definitions
(``ehr.fhir.definitions.search_params``). Expressions are compiled once per type into JSON
walks that know the FHIR type at the end of each path (``compiled_paths``); the few branches
outside that shape are evaluated by the FHIRPath engine (``ehr.fhir.fhirpath``). Both give the
same rows (tests check it on every official example and on Synthea).

How values become rows (the query side uses the same helpers, from ``normalize``):

- token: Coding (system, code, text = display); CodeableConcept (a row per coding, text = the
  concept's text, else the coding's display; a second row when the display differs from the
  text; a concept with text but no code gives one row with code and system None and hashes 0,
  so ``:text`` and ``:missing`` see it while no code search can match it); Identifier
  (system, value, text = type.text, plus rows under ``<param>:of-type`` with the type coding's
  system and code ``<type code>|<value>``); ContactPoint (code = value, no system, as the
  search specification's token table says); boolean (``true``/``false``); other primitives
  (the value; a ``code`` element whose required value set draws all its codes from one code
  system gets that system); an Extension stands for its value. ``text`` is folded.
- string: the value; HumanName gives family, each given, prefix, suffix, text and the whole
  name (``text``, or prefix given family suffix joined); Address gives each line, city,
  district, state, postalCode, country and text. Rows ``(hash_param, fold(v)[:200], v)``.
- date: date/dateTime/instant (``normalize.date_range``), Period (open ends at
  ``MIN_US``/``MAX_US``), Timing (the outer limits of its events and repeat.boundsPeriod, as
  the specification says: the schedule inside is ignored). Strings, Age and Range values that
  some date parameters reach (``Procedure.performed[x]``) are not dates and give nothing.
- number: integer and decimal values (``normalize.number_range``); Range (low.value's low,
  high.value's high; value = low, else high).
- quantity: Quantity and its profiles (Age, Duration, Count, Distance, SimpleQuantity...),
  Money (system ``urn:iso:std:iso:4217``, code = currency), Range (as for numbers). A
  comparator widens the range (``<5`` is -inf..5). When a code and a different unit are both
  given, a second row carries the unit alone (``hash_units`` 0, ``hash_code`` of the unit) so
  ``5||mmHg`` finds ``{"unit": "mmHg", "code": "mm[Hg]"}``. SampledData gives nothing.
- reference: ``Type/id`` (also ``Type/id/_history/n``) gives target_type and target_id;
  an absolute ``http(s)://.../Type/id`` also keeps target_url (without ``/_history/n``);
  ``urn:uuid:``/``urn:oid:`` and other strings give target_url only; ``#id`` (contained) gives
  nothing; canonical and uri values give target_url, and also without ``|version``;
  Reference.identifier gives token rows under ``<param>:identifier``; a resource value
  (``Bundle.entry[0].resource``) gives its type and id; Attachment gives its url.
- uri: the value; a canonical also without ``|version``.
- composite: for each value of the composite's expression (an Observation, a component, a
  useContext), the first component's token variants (``normalize.token_variants``) combined
  with the second component: token, string (folded whole value) and reference (``Type/id``,
  ``id``, url) second components go into the key (``composite_key(t, p, v1, v2)``, low/high
  None); quantity, number and date ones give low/high with the key of the first component
  alone (units of quantity components are not part of the key: one row per coding and
  value, not three); dates as float microseconds. The three-component
  MolecularSequence coordinates (token, start, end) store start as low and end as high.
- ``_text``: the narrative's text (tags removed, entities decoded), folded; ``_content``: every
  string value of the resource (contained resources included, in no particular order) except
  the narrative ``div``, base64 ``data``, ``resourceType`` and the identifying URIs under
  ``system``, ``url`` and ``reference``, folded and joined by spaces; both capped at 64 KB
  (``TEXT_MAX`` characters).

Not indexed here: ``_id`` and ``_lastUpdated`` (columns of the resource row), ``_list``,
``_has``, ``_type``, ``_query``, ``_filter`` (not values of the resource) and ``special``
parameters (``Location.near``: needs a geographic index). Parameters whose definition carries
no FHIRPath expression cannot be extracted (``coverage()`` lists them).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from ehr.fhir import definitions
from ehr.fhir.fhirpath import Evaluation, Expression
from ehr.fhir.fhirpath import compile as fhirpath_compile
from ehr.fhir.fhirpath.model import RESOURCE, Node, Struct, type_struct
from ehr.fhir.search import compiled_paths as cp
from ehr.fhir.search.normalize import (
    INF,
    MAX_US,
    MIN_US,
    STRING_MAX,
    TEXT_MAX,
    composite_key,
    date_range,
    fold,
    hash_param,
    number_range,
    quantity_hashes,
    token_hashes,
    token_variants,
)

__all__ = [
    "SKIPPED",
    "IndexRows",
    "composite_key",
    "coverage",
    "extract",
    "extract_with_engine",
    "token_variants",
]

# Parameters that are not values of the resource (or need an index of another kind)
SKIPPED: dict[str, str] = {
    "_id": "answered from the resource row",
    "_lastUpdated": "answered from the resource row",
    "_text": "IndexRows.narrative",
    "_content": "IndexRows.content",
    "_list": "membership of List resources, not a value of the resource",
    "_has": "reverse chaining, answered by the query",
    "_type": "system-level search over types, answered by the query",
    "_query": "named queries, not a value of the resource",
    "_filter": "the _filter language, not a value of the resource",
}
KINDS = ("token", "string", "date", "number", "quantity", "reference", "uri", "composite")
MONEY_SYSTEM = "urn:iso:std:iso:4217"


@dataclass(slots=True)
class IndexRows:
    tokens: list[tuple]  # (param_name, hash_param, hash_value, hash_sys_value, hash_system,
    #                        system, code, text)
    strings: list[tuple]  # (hash_param, value_norm, value_exact)
    dates: list[tuple]  # (hash_param, low_us, high_us)
    numbers: list[tuple]  # (hash_param, value, low, high)
    quantities: list[tuple]  # (hash_param, hash_units, hash_code, value, low, high)
    references: list[tuple]  # (hash_param, target_type, target_id, target_url)
    uris: list[tuple]  # (hash_param, value)
    composites: list[tuple]  # (hash_param, hash_key, low, high)
    narrative: str | None  # folded text of text.div (for _text), None if no narrative
    content: str | None  # folded text of all string values (for _content), capped


# ------------------------------------------------------------------ small helpers

_FOLDED: dict[str, str] = {}


def _fold200(s: str) -> str:
    """``fold(s)[:STRING_MAX]``, memoised for the short strings that repeat (displays)."""
    r = _FOLDED.get(s)
    if r is None:
        r = fold(s)[:STRING_MAX]
        if len(s) <= 100:
            if len(_FOLDED) >= 200_000:
                _FOLDED.clear()
            _FOLDED[s] = r
    return r


@cache
def _value_keys() -> dict[str, str]:
    """JSON suffix of ``value[x]`` -> type name (``valueString`` -> ``string``)."""
    idx = definitions.index()
    out: dict[str, str] = {}
    for name in idx["datatypes"]:
        out[name[0].upper() + name[1:]] = name
    return out


def _extension_value(ext: object) -> tuple[str, object] | None:
    if type(ext) is not dict:
        return None
    keys = _value_keys()
    for k, v in ext.items():
        if k.startswith("value") and len(k) > 5:
            t = keys.get(k[5:])
            if t is not None:
                return t, v
    return None


_PRIMITIVE_STRINGS = frozenset(
    ["string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown"]
)
_NUMERIC = frozenset(["integer", "positiveInt", "unsignedInt", "decimal"])
_DATES = frozenset(["date", "dateTime", "instant"])
_QUANTITIES = frozenset(
    ["Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity", "MoneyQuantity"]
)
_REF = re.compile(
    r"(?:(https?://.+)/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?"
)


# ------------------------------------------------------------------ tokens


def _token_items(tname: str, v: object, code_system: str | None, out: list) -> None:
    """Append ``(system, code, text, of_type)`` for one value (code None: text only)."""
    if tname == "CodeableConcept":
        if type(v) is not dict:
            return
        text = v.get("text")
        ftext = _fold200(text) if type(text) is str else None
        coded = False
        first_display = None
        codings = v.get("coding")
        if type(codings) is list:
            for c in codings:
                if type(c) is not dict:
                    continue
                disp = c.get("display")
                fdisp = _fold200(disp) if type(disp) is str else None
                code = c.get("code")
                if type(code) is str:
                    coded = True
                    system = c.get("system")
                    out.append((system, code, ftext or fdisp, False))
                    if ftext and fdisp and fdisp != ftext:
                        out.append((system, code, fdisp, False))
                elif first_display is None:
                    first_display = fdisp
        if not coded and (ftext or first_display):
            out.append((None, None, ftext or first_display, False))
    elif tname == "Coding":
        if type(v) is not dict:
            return
        code = v.get("code")
        disp = v.get("display")
        fdisp = _fold200(disp) if type(disp) is str else None
        if type(code) is str:
            out.append((v.get("system"), code, fdisp, False))
        elif fdisp:
            out.append((None, None, fdisp, False))
    elif tname == "Identifier":
        if type(v) is not dict:
            return
        value = v.get("value")
        if type(value) is not str:
            return
        typ = v.get("type")
        ttext = None
        if type(typ) is dict:
            t = typ.get("text")
            ttext = _fold200(t) if type(t) is str else None
        out.append((v.get("system"), value, ttext, False))
        if type(typ) is dict and type(typ.get("coding")) is list:
            for c in typ["coding"]:
                if type(c) is dict and type(c.get("code")) is str:
                    out.append((c.get("system"), f"{c['code']}|{value}", None, True))
    elif tname == "ContactPoint":
        if type(v) is dict and type(v.get("value")) is str:
            out.append((None, v["value"], None, False))
    elif tname == "boolean":
        if v is True:
            out.append((None, "true", None, False))
        elif v is False:
            out.append((None, "false", None, False))
    elif tname == "Extension":
        inner = _extension_value(v)
        if inner is not None:
            _token_items(inner[0], inner[1], None, out)
    elif type(v) is str:
        out.append((code_system if tname == "code" else None, v, None, False))
    elif tname in _NUMERIC and type(v) in (int, Decimal, float):
        out.append((None, str(v), None, False))


def _emit_tokens(p: _Param, rt: str, items: list, rows: IndexRows) -> None:
    name = p.name
    hp = p.hp
    tokens = rows.tokens
    for system, code, text, of_type in items:
        if of_type:
            tokens.append(
                (p.of_type, p.hp_of_type, *token_hashes(rt, p.of_type, system, code), system, code, None)
            )
        elif code is None:
            tokens.append((name, hp, 0, 0, 0, None, None, text))
        else:
            tokens.append((name, hp, *token_hashes(rt, name, system, code), system, code, text))


def _conv_token(p: _Param, rt: str, groups: list, rows: IndexRows, ctx: _Ctx) -> None:
    items: list = []
    cs = p.code_system
    for tname, _st, values in groups:
        for v in values:
            _token_items(tname, v, cs, items)
    _emit_tokens(p, rt, items, rows)


# ------------------------------------------------------------------ strings

_NAME_PARTS = ("prefix", "given", "family", "suffix")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def _string_values(tname: str, v: object, out: list) -> None:
    if type(v) is str:
        if tname in _PRIMITIVE_STRINGS:
            out.append(v)
        return
    if type(v) is not dict:
        return
    if tname == "HumanName":
        whole = []
        for part in _NAME_PARTS:
            x = v.get(part)
            if type(x) is str:
                out.append(x)
                whole.append(x)
            elif type(x) is list:
                for y in x:
                    if type(y) is str:
                        out.append(y)
                        whole.append(y)
        text = v.get("text")
        if type(text) is str:
            out.append(text)
        elif len(whole) > 1:
            out.append(" ".join(whole))
    elif tname == "Address":
        for part in _ADDRESS_PARTS:
            x = v.get(part)
            if type(x) is str:
                out.append(x)
            elif type(x) is list:
                for y in x:
                    if type(y) is str:
                        out.append(y)
    elif tname == "Extension":
        inner = _extension_value(v)
        if inner is not None:
            _string_values(inner[0], inner[1], out)
    elif tname == "CodeableConcept":
        if type(v.get("text")) is str:
            out.append(v["text"])
        for c in v.get("coding") or ():
            if type(c) is dict and type(c.get("display")) is str:
                out.append(c["display"])
    elif tname == "Coding":
        if type(v.get("display")) is str:
            out.append(v["display"])


def _conv_string(p: _Param, rt: str, groups: list, rows: IndexRows, ctx: _Ctx) -> None:
    values: list[str] = []
    for tname, _st, vals in groups:
        for v in vals:
            _string_values(tname, v, values)
    hp = p.hp
    out = rows.strings
    for s in values:
        norm = _fold200(s)
        if norm:
            out.append((hp, norm, s))


# ------------------------------------------------------------------ dates


def _date_values(tname: str, v: object, out: list) -> None:
    try:
        if tname in _DATES:
            if type(v) is str:
                out.append(date_range(v))
        elif tname == "Period":
            if type(v) is dict:
                start, end = v.get("start"), v.get("end")
                if type(start) is str or type(end) is str:
                    low = date_range(start)[0] if type(start) is str else MIN_US
                    high = date_range(end)[1] if type(end) is str else MAX_US
                    out.append((low, high))
        elif tname == "Timing":
            if type(v) is dict:
                ranges = [date_range(e) for e in v.get("event") or () if type(e) is str]
                rep = v.get("repeat")
                if type(rep) is dict and type(rep.get("boundsPeriod")) is dict:
                    _date_values("Period", rep["boundsPeriod"], ranges)
                if ranges:
                    out.append((min(r[0] for r in ranges), max(r[1] for r in ranges)))
        elif tname == "Extension":
            inner = _extension_value(v)
            if inner is not None:
                _date_values(inner[0], inner[1], out)
    except ValueError:
        pass  # not a valid date: the validator reports it; nothing to index


def _conv_date(p: _Param, rt: str, groups: list, rows: IndexRows, ctx: _Ctx) -> None:
    ranges: list = []
    for tname, _st, vals in groups:
        for v in vals:
            _date_values(tname, v, ranges)
    hp = p.hp
    out = rows.dates
    for low, high in ranges:
        out.append((hp, low, high))


# ------------------------------------------------------------------ numbers and quantities


def _number(v: object) -> tuple[float, float, float] | None:
    if type(v) is bool or v is None:
        return None
    try:
        return number_range(v)
    except ValueError:
        return None


def _range_values(v: dict) -> tuple[float, float, float, dict | None] | None:
    """Range -> (value, low, high, the Quantity giving units)."""
    lo, hi = v.get("low"), v.get("high")
    lo_n = _number(lo.get("value")) if type(lo) is dict else None
    hi_n = _number(hi.get("value")) if type(hi) is dict else None
    if lo_n is None and hi_n is None:
        return None
    value = lo_n[0] if lo_n is not None else hi_n[0]  # type: ignore[index]
    low = lo_n[1] if lo_n is not None else -INF
    high = hi_n[2] if hi_n is not None else INF
    unit_q = lo if lo_n is not None else hi
    return value, low, high, unit_q  # type: ignore[return-value]


def _number_values(tname: str, v: object, out: list) -> None:
    if tname in _NUMERIC:
        n = _number(v)
        if n is not None:
            out.append(n)
    elif tname == "Range" and type(v) is dict:
        r = _range_values(v)
        if r is not None:
            out.append(r[:3])
    elif tname == "Extension":
        inner = _extension_value(v)
        if inner is not None:
            _number_values(inner[0], inner[1], out)


def _conv_number(p: _Param, rt: str, groups: list, rows: IndexRows, ctx: _Ctx) -> None:
    nums: list = []
    for tname, _st, vals in groups:
        for v in vals:
            _number_values(tname, v, nums)
    hp = p.hp
    for value, low, high in nums:
        rows.numbers.append((hp, value, low, high))


def _quantity_values(tname: str, v: object, out: list) -> None:
    """Append ``(value, low, high, system, code, unit)``."""
    if type(v) is not dict:
        return
    if tname in _QUANTITIES:
        n = _number(v.get("value"))
        if n is None:
            return
        value, low, high = n
        comp = v.get("comparator")
        if comp in ("<", "<="):
            low = -INF
        elif comp in (">", ">="):
            high = INF
        out.append((value, low, high, v.get("system"), v.get("code"), v.get("unit")))
    elif tname == "Money":
        n = _number(v.get("value"))
        if n is not None:
            cur = v.get("currency")
            out.append((*n, MONEY_SYSTEM if cur else None, cur, None))
    elif tname == "Range":
        r = _range_values(v)
        if r is not None:
            q = r[3] or {}
            out.append((r[0], r[1], r[2], q.get("system"), q.get("code"), q.get("unit")))
    elif tname == "Extension":
        inner = _extension_value(v)
        if inner is not None:
            _quantity_values(inner[0], inner[1], out)


def _str_or_none(x: object) -> str | None:
    return x if type(x) is str and x else None


def _conv_quantity(p: _Param, rt: str, groups: list, rows: IndexRows, ctx: _Ctx) -> None:
    qs: list = []
    for tname, _st, vals in groups:
        for v in vals:
            _quantity_values(tname, v, qs)
    hp, name = p.hp, p.name
    out = rows.quantities
    for value, low, high, system, code, unit in qs:
        system, code, unit = _str_or_none(system), _str_or_none(code), _str_or_none(unit)
        hu, hc = quantity_hashes(rt, name, system, code, unit)
        out.append((hp, hu, hc, value, low, high))
        if code and unit and unit != code:
            out.append((hp, 0, quantity_hashes(rt, name, None, unit, None)[1], value, low, high))


# ------------------------------------------------------------------ references and uris


def _reference_values(tname: str, v: object, out: list, idents: list) -> None:
    """Append ``(target_type, target_id, target_url)``; identifiers to ``idents``."""
    if tname == "Reference":
        if type(v) is not dict:
            return
        ref = v.get("reference")
        if type(ref) is str and ref and not ref.startswith("#"):
            m = _REF.fullmatch(ref)
            if m and definitions.is_resource_type(m.group(2)):
                base = m.group(1)
                url = f"{base}/{m.group(2)}/{m.group(3)}" if base else None
                out.append((m.group(2), m.group(3), url))
            else:
                out.append((None, None, ref))
        ident = v.get("identifier")
        if type(ident) is dict:
            _token_items("Identifier", ident, None, idents)
    elif tname in ("canonical", "uri", "url", "oid", "uuid"):
        if type(v) is str and v:
            out.append((None, None, v))
            if "|" in v:
                out.append((None, None, v.split("|", 1)[0]))
    elif tname == "Attachment":
        if type(v) is dict and type(v.get("url")) is str:
            out.append((None, None, v["url"]))
    elif tname == "Extension":
        inner = _extension_value(v)
        if inner is not None:
            _reference_values(inner[0], inner[1], out, idents)
    elif type(v) is dict and (tname == "Resource" or definitions.is_resource_type(tname)):
        rid, rtype = v.get("id"), v.get("resourceType")
        if type(rid) is str and type(rtype) is str:
            out.append((rtype, rid, None))


def _conv_reference(p: _Param, rt: str, groups: list, rows: IndexRows, ctx: _Ctx) -> None:
    refs: list = []
    idents: list = []
    for tname, _st, vals in groups:
        for v in vals:
            _reference_values(tname, v, refs, idents)
    hp = p.hp
    out = rows.references
    for t, i, u in refs:
        out.append((hp, t, i, u))
    if idents:
        name = p.identifier
        hpi = p.hp_identifier
        for system, code, _text, of_type in idents:
            if not of_type:
                rows.tokens.append(
                    (name, hpi, *token_hashes(rt, name, system, code), system, code, None)
                )


def _conv_uri(p: _Param, rt: str, groups: list, rows: IndexRows, ctx: _Ctx) -> None:
    hp = p.hp
    out = rows.uris
    for tname, _st, vals in groups:
        for v in vals:
            if tname == "Extension":
                inner = _extension_value(v)
                if inner is None:
                    continue
                tname2, v = inner
            else:
                tname2 = tname
            if type(v) is str and v:
                out.append((hp, v))
                if tname2 == "canonical" and "|" in v:
                    out.append((hp, v.split("|", 1)[0]))


# ------------------------------------------------------------------ composites


def _component_kind(def_type: str, tname: str) -> str:
    if tname == "Reference":
        return "reference"
    if def_type == "reference":  # DocumentReference-relationship: R4 swapped the definitions
        return "token"
    return def_type


def _component_variants(kind: str, groups: list) -> list:
    """Variants of one component: strings (hashed kinds) or range tuples."""
    out: list = []
    for tname, _st, vals in groups:
        k = _component_kind(kind, tname)
        for v in vals:
            if k == "token":
                items: list = []
                _token_items(tname, v, None, items)
                for system, code, _t, of_type in items:
                    if code is not None and not of_type:
                        out.extend(token_variants(system, code))
            elif k == "string":
                strs: list = []
                _string_values(tname, v, strs)
                out.extend(_fold200(s) for s in strs)
            elif k == "reference":
                refs: list = []
                _reference_values(tname, v, refs, [])
                for t, i, u in refs:
                    if t is not None:
                        out.append(f"{t}/{i}")
                        out.append(i)
                    if u is not None:
                        out.append(u)
            elif k == "quantity":
                qs: list = []
                _quantity_values(tname, v, qs)
                out.extend(("q", low, high) for _value, low, high, *_units in qs)
            elif k == "number":
                nums: list = []
                _number_values(tname, v, nums)
                out.extend(("n", value, low, high) for value, low, high in nums)
            elif k == "date":
                ranges: list = []
                _date_values(tname, v, ranges)
                out.extend(("d", float(lo), float(hi)) for lo, hi in ranges)
    return list(dict.fromkeys(out))


def _composite_rows(p: _Param, rt: str, comps: list, rows: IndexRows) -> None:
    first = [v for v in comps[0] if type(v) is str]
    if not first or len(comps) < 2:
        return
    hp, name = p.hp, p.name
    out = rows.composites
    second = comps[1]
    if len(comps) == 3:
        third = comps[2]
        for v1 in first:
            key = composite_key(rt, name, v1)
            for a in second:
                for b in third:
                    if type(a) is tuple and type(b) is tuple and a[0] == "n" and b[0] == "n":
                        out.append((hp, key, a[1], b[1]))
        return
    for v1 in first:
        for v2 in second:
            if type(v2) is str:
                out.append((hp, composite_key(rt, name, v1, v2), None, None))
            elif v2[0] == "n":
                out.append((hp, composite_key(rt, name, v1), v2[2], v2[3]))
            else:
                out.append((hp, composite_key(rt, name, v1), v2[1], v2[2]))


class _Ctx:
    """One extraction: the resource, a lazily built engine evaluation, composite memo."""

    __slots__ = ("resource", "_ev", "memo")

    def __init__(self, resource: dict) -> None:
        self.resource = resource
        self._ev: Evaluation | None = None
        self.memo: dict = {}

    @property
    def ev(self) -> Evaluation:
        if self._ev is None:
            self._ev = Evaluation(self.resource)
        return self._ev


def _component(ctx: _Ctx, def_type: str, expr: str, st: Struct | None, root: object, engine: bool) -> list:
    """Variants of one component on one root value (memoised: several composites share
    their first component, such as ``Observation.code``)."""
    key = (id(root), def_type, expr)
    hit = ctx.memo.get(key)
    if hit is not None:
        return hit
    cgroups: list = []
    if engine or st is None:
        focus = Node(root, st)
        for text in cp.branches(expr)[0]:
            _engine_groups(ctx.ev.run(fhirpath_compile(text), focus), cgroups)
    else:
        compiled = cp.compile_expression(expr, st)
        resource = ctx.resource
        for path in compiled.paths:
            vals = cp.evaluate(path, root, resource)
            if vals:
                cgroups.append((path.struct.type, path.struct, vals))
        for text in compiled.engine:
            _engine_groups(ctx.ev.run(fhirpath_compile(text), Node(root, st)), cgroups)
    out = _component_variants(def_type, cgroups) if cgroups else []
    ctx.memo[key] = out
    return out


def _conv_composite(p: _Param, rt: str, groups: list, rows: IndexRows, ctx: _Ctx) -> None:
    components = p.components
    n = len(components)
    engine = p.force_engine
    for _tname, st, vals in groups:
        for root in vals:
            comps: list = [None] * n
            # the later components first: the rarer ones (a value of one type) end it early
            for i in range(n - 1, -1, -1):
                def_type, expr = components[i]
                variants = _component(ctx, def_type, expr, st, root, engine)
                if not variants:
                    break
                comps[i] = variants
            else:
                _composite_rows(p, rt, comps, rows)


_CONVERTERS = {
    "token": _conv_token,
    "string": _conv_string,
    "date": _conv_date,
    "number": _conv_number,
    "quantity": _conv_quantity,
    "reference": _conv_reference,
    "uri": _conv_uri,
    "composite": _conv_composite,
}


# ------------------------------------------------------------------ engine results


def _engine_groups(items: list, out: list) -> None:
    """Engine results as ``(type name, struct, [value])`` groups."""
    for it in items:
        if type(it) is Node:
            if it.value is None:
                continue  # a primitive with only an extension: no value to index
            st = it.struct
            if st is not None and st.kind == RESOURCE:
                out.append((st.type, st, [it.value]))
            else:
                t = it.type_name
                if t is not None:
                    out.append((t, st, [it.value]))
        elif it is True or it is False:
            out.append(("boolean", None, [it]))
        elif type(it) is str:
            out.append(("string", None, [it]))
        elif type(it) is int:
            out.append(("integer", None, [it]))
        elif type(it) is Decimal:
            out.append(("decimal", None, [it]))


# ------------------------------------------------------------------ plans


@cache
def _url_types() -> dict[str, str]:
    out: dict[str, str] = {}
    for params in definitions.index()["search"].values():
        for p in params.values():
            out[p["url"]] = p["type"]
    return out


@cache
def _valueset_system(url: str) -> str | None:
    """The one code system of a value set's codes, if it has exactly one (else None)."""
    try:
        from ehr import terminology

        vs = terminology._load().valueset(url)
    except Exception:  # terminology index not built: no implicit systems
        return None
    if vs is None or vs.open or len(vs.members) != 1:
        return None
    return next(iter(vs.members))


class _Param:
    __slots__ = (
        "name",
        "kind",
        "hp",
        "expression",
        "compiled",
        "engine",
        "components",
        "code_system",
        "of_type",
        "hp_of_type",
        "identifier",
        "hp_identifier",
        "force_engine",
        "convert",
    )

    def __init__(self, rt: str, name: str, sp: dict, start: Struct, force_engine: bool) -> None:
        self.name = name
        self.kind = sp["type"]
        self.hp = hash_param(rt, name)
        self.expression = sp["expression"]
        self.force_engine = force_engine
        self.compiled = cp.compile_expression(self.expression, start)
        self.engine = tuple(
            fhirpath_compile(t)
            for t in (cp.branches(self.expression)[0] if force_engine else self.compiled.engine)
        )
        url_types = _url_types()
        self.components = tuple(
            (url_types.get(url, "token"), expr) for url, expr in sp.get("component") or ()
        )
        systems = {
            _valueset_system(path.binding) if path.binding else None
            for path in self.compiled.paths
            if path.type == "code"
        }
        self.code_system = systems.pop() if len(systems) == 1 else None
        self.of_type = f"{name}:of-type"
        self.hp_of_type = hash_param(rt, self.of_type)
        self.identifier = f"{name}:identifier"
        self.hp_identifier = hash_param(rt, self.identifier)
        self.convert = _CONVERTERS[self.kind]


class _Plan:
    __slots__ = ("params", "by_key", "selfs", "engine")

    def __init__(self, rt: str, force_engine: bool) -> None:
        start = type_struct(rt)
        assert start is not None
        self.params: list[_Param] = []
        self.by_key: dict[str, list[tuple[int, cp.Path]]] = {}
        self.selfs: list[tuple[int, cp.Path]] = []
        self.engine: list[tuple[int, Expression]] = []
        for name, sp in definitions.search_params(rt).items():
            if _status(name, sp) != "indexed":
                continue
            slot = len(self.params)
            p = _Param(rt, name, sp, start, force_engine)
            self.params.append(p)
            for expr in p.engine:
                self.engine.append((slot, expr))
            if force_engine:
                continue
            for path in p.compiled.paths:
                if path.first is None:
                    self.selfs.append((slot, path))
                else:
                    self.by_key.setdefault(path.first, []).append((slot, path))


def _status(name: str, sp: dict) -> str:
    if name in SKIPPED:
        return "skipped"
    if sp["type"] == "special":
        return "special"
    if not sp.get("expression"):
        return "no-expression"
    return "indexed"


@cache
def _plan(rt: str, force_engine: bool = False) -> _Plan:
    return _Plan(rt, force_engine)


def coverage(resource_type: str) -> dict[str, tuple[str, str]]:
    """Parameter -> (status, detail): ``fast``, ``engine`` (some branch), ``skipped``,
    ``special`` or ``no-expression``."""
    out: dict[str, tuple[str, str]] = {}
    start = type_struct(resource_type)
    assert start is not None
    for name, sp in definitions.search_params(resource_type).items():
        status = _status(name, sp)
        if status == "skipped":
            out[name] = ("skipped", SKIPPED[name])
        elif status == "special":
            out[name] = ("special", "special parameter (e.g. near): needs its own index")
        elif status == "no-expression":
            out[name] = ("no-expression", "the definition has no FHIRPath expression")
        else:
            c = cp.compile_expression(sp["expression"], start)
            if c.engine:
                why = "; ".join(f"{t}: {r}" for t, r in zip(c.engine, c.reasons, strict=True))
                out[name] = ("engine", why)
            else:
                out[name] = ("fast", "")
    return out


# ------------------------------------------------------------------ narrative and content

_TAGS = re.compile(r"<[^>]*>")
# Not text: the narrative's XHTML (in ``narrative``), base64 data, the type name, and the
# identifying URIs of code systems, extensions and references (the same on every resource)
_SKIP_CONTENT = frozenset(["div", "data", "resourceType", "system", "url", "reference"])


def _narrative(resource: dict) -> str | None:
    text = resource.get("text")
    if type(text) is not dict:
        return None
    div = text.get("div")
    if type(div) is not str:
        return None
    plain = _TAGS.sub(" ", div)
    if "&" in plain:
        plain = html.unescape(plain)
    folded = fold(plain[: 2 * TEXT_MAX])[:TEXT_MAX]
    return folded or None


def _content(resource: dict) -> str | None:
    parts: list[str] = []
    add = parts.append
    stack: list = [resource]
    pop, push = stack.pop, stack.append
    skip = _SKIP_CONTENT
    check = 2048
    while stack:
        if len(parts) > check:  # a large resource: stop once past the cap
            if sum(map(len, parts)) > TEXT_MAX:
                break
            check += 2048
        node = pop()
        if type(node) is dict:
            for k, v in node.items():
                t = type(v)
                if t is str:
                    if k not in skip:
                        add(v)
                elif t is dict or t is list:
                    push(v)
        else:
            for v in node:
                t = type(v)
                if t is str:
                    add(v)
                elif t is dict or t is list:
                    push(v)
    if not parts:
        return None
    text = " ".join(parts)
    if len(text) > TEXT_MAX:
        text = text[:TEXT_MAX]
    return fold(text)[:TEXT_MAX] or None


# ------------------------------------------------------------------ extraction


def _dedupe(rows: list) -> list:
    return list(dict.fromkeys(rows)) if len(rows) > 1 else rows


def _extract(resource_type: str, resource: dict, force_engine: bool) -> IndexRows:
    plan = _plan(resource_type, force_engine)
    found: dict[int, list] = {}
    by_key = plan.by_key
    for key, v in resource.items():
        entries = by_key.get(key)
        if entries is None:
            continue
        items = v if type(v) is list else [v]
        for slot, path in entries:
            vals = cp.run(items, path.ops, resource) if path.ops else items
            if vals:
                g = found.get(slot)
                if g is None:
                    found[slot] = [(path.struct.type, path.struct, vals)]
                else:
                    g.append((path.struct.type, path.struct, vals))
    for slot, path in plan.selfs:
        vals = cp.run([resource], path.ops, resource) if path.ops else [resource]
        if vals:
            found.setdefault(slot, []).append((path.struct.type, path.struct, vals))
    ctx = _Ctx(resource)
    if plan.engine:
        ev = ctx.ev
        for slot, expr in plan.engine:
            groups: list = []
            _engine_groups(ev.run(expr), groups)
            if groups:
                found.setdefault(slot, []).extend(groups)
    rows = IndexRows([], [], [], [], [], [], [], [], _narrative(resource), _content(resource))
    params = plan.params
    for slot, groups in found.items():
        p = params[slot]
        p.convert(p, resource_type, groups, rows, ctx)
    rows.tokens = _dedupe(rows.tokens)
    rows.strings = _dedupe(rows.strings)
    rows.dates = _dedupe(rows.dates)
    rows.numbers = _dedupe(rows.numbers)
    rows.quantities = _dedupe(rows.quantities)
    rows.references = _dedupe(rows.references)
    rows.uris = _dedupe(rows.uris)
    rows.composites = _dedupe(rows.composites)
    return rows


def extract(resource_type: str, resource: dict) -> IndexRows:
    """Index rows of every search parameter of ``resource_type`` for ``resource``."""
    return _extract(resource_type, resource, False)


def extract_with_engine(resource_type: str, resource: dict) -> IndexRows:
    """The same rows, every expression evaluated by the FHIRPath engine (the reference)."""
    return _extract(resource_type, resource, True)
