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

Every value reached is indexed, branch by branch: FHIRPath's ``|`` would drop a value equal to
one already taken (``1.00 g`` after ``1.0 g``, ``>60`` after ``60``); an index keeps both.

Speed: the walks are grouped by the top-level JSON key they start from, so a resource pays
only for the parameters whose elements it has; converters are chosen per FHIR type when the
plan is built; token rows, hashes, reference parses and folded displays are memoised in
bounded module-level dicts. ``python -m ehr.fhir.search.index_values [bundle.json ...]``
prints the time per resource (median, p90) over the R4 examples and the given bundles.
"""

from __future__ import annotations

import contextlib
import html
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from ehr.fhir import definitions
from ehr.fhir.fhirpath import Evaluation, Expression, FhirPathError
from ehr.fhir.fhirpath import compile as fhirpath_compile
from ehr.fhir.fhirpath.model import Node, Struct, type_struct
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
    """JSON suffix of ``value[x]`` -> type name (``String`` -> ``string``)."""
    return {name[0].upper() + name[1:]: name for name in definitions.index()["datatypes"]}


def _extension_value(ext: object) -> tuple[str, object] | None:
    """An Extension's ``value[x]`` as (type name, JSON value)."""
    if type(ext) is not dict:
        return None
    keys = _value_keys()
    for k, v in ext.items():
        if k.startswith("value") and len(k) > 5:
            t = keys.get(k[5:])
            if t is not None:
                return t, v
    return None


def _system(d: dict) -> str | None:
    """``d["system"]`` when it is a string (anything else is no system)."""
    x = d.get("system")
    return x if type(x) is str else None


_PRIMITIVE_STRINGS = frozenset(
    ["string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown"]
)
_URIS = frozenset(["canonical", "uri", "url", "oid", "uuid"])
_NUMERIC = frozenset(["integer", "positiveInt", "unsignedInt", "decimal"])
_DATES = frozenset(["date", "dateTime", "instant"])
_QUANTITIES = frozenset(
    ["Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity", "MoneyQuantity"]
)
_REF = re.compile(r"(?:(https?://.+)/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?")

# ------------------------------------------------------------------ tokens

_TOKEN_ROWS: dict[tuple, tuple] = {}


def _token_row(
    rt: str, name: str, hp: int, system: str | None, code: str, text: str | None
) -> tuple:
    """One token row, memoised (the same codes come back on resource after resource)."""
    key = (hp, system, code, text)
    row = _TOKEN_ROWS.get(key)
    if row is None:
        row = (name, hp, *token_hashes(rt, name, system, code), system, code, text)
        if len(_TOKEN_ROWS) >= 200_000:
            _TOKEN_ROWS.clear()
        _TOKEN_ROWS[key] = row
    return row


def _tok_cc(p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx) -> None:
    out = rows.tokens
    rt, name, hp = p.rt, p.name, p.hp
    for v in vals:
        if type(v) is not dict:
            continue
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
                    system = _system(c)
                    out.append(_token_row(rt, name, hp, system, code, ftext or fdisp))
                    if ftext and fdisp and fdisp != ftext:
                        out.append(_token_row(rt, name, hp, system, code, fdisp))
                elif first_display is None:
                    first_display = fdisp
        if not coded and (ftext or first_display):
            out.append((name, hp, 0, 0, 0, None, None, ftext or first_display))


def _tok_coding(p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx) -> None:
    out = rows.tokens
    rt, name, hp = p.rt, p.name, p.hp
    for v in vals:
        if type(v) is not dict:
            continue
        code = v.get("code")
        disp = v.get("display")
        fdisp = _fold200(disp) if type(disp) is str else None
        if type(code) is str:
            out.append(_token_row(rt, name, hp, _system(v), code, fdisp))
        elif fdisp:
            out.append((name, hp, 0, 0, 0, None, None, fdisp))


def _tok_identifier(
    p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx
) -> None:
    out = rows.tokens
    rt, name, hp = p.rt, p.name, p.hp
    for v in vals:
        if type(v) is not dict:
            continue
        value = v.get("value")
        if type(value) is not str:
            continue
        typ = v.get("type")
        ttext = None
        if type(typ) is dict:
            t = typ.get("text")
            ttext = _fold200(t) if type(t) is str else None
        out.append(_token_row(rt, name, hp, _system(v), value, ttext))
        if type(typ) is dict and type(typ.get("coding")) is list:
            for c in typ["coding"]:
                if type(c) is dict and type(c.get("code")) is str:
                    code = f"{c['code']}|{value}"
                    out.append(_token_row(rt, p.of_type, p.hp_of_type, _system(c), code, None))


def _tok_contact(p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx) -> None:
    out = rows.tokens
    for v in vals:
        if type(v) is dict and type(v.get("value")) is str:
            out.append(_token_row(p.rt, p.name, p.hp, None, v["value"], None))


def _tok_primitive(
    p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx
) -> None:
    out = rows.tokens
    system = p.code_system if tname == "code" else None
    for v in vals:
        t = type(v)
        if t is str:
            out.append(_token_row(p.rt, p.name, p.hp, system, v, None))
        elif t is bool:
            out.append(_token_row(p.rt, p.name, p.hp, None, "true" if v else "false", None))
        elif tname in _NUMERIC and (t is int or t is float or t is Decimal):
            out.append(_token_row(p.rt, p.name, p.hp, None, str(v), None))


def _tok_extension(
    p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx
) -> None:
    for v in vals:
        inner = _extension_value(v)
        if inner is not None and inner[0] != "Extension":
            handler = _TOKEN_HANDLERS.get(inner[0], _tok_primitive)
            handler(p, inner[0], None, [inner[1]], rows, ctx)


_TOKEN_HANDLERS = {
    "CodeableConcept": _tok_cc,
    "Coding": _tok_coding,
    "Identifier": _tok_identifier,
    "ContactPoint": _tok_contact,
    "Extension": _tok_extension,
}


def _token_pairs(tname: str, v: object, out: list) -> None:
    """``(system, code)`` of the codes a value holds (composite components)."""
    if tname == "CodeableConcept":
        if type(v) is dict and type(v.get("coding")) is list:
            for c in v["coding"]:
                if type(c) is dict and type(c.get("code")) is str:
                    out.append((_system(c), c["code"]))
    elif tname == "Coding":
        if type(v) is dict and type(v.get("code")) is str:
            out.append((_system(v), v["code"]))
    elif tname == "Identifier":
        if type(v) is dict and type(v.get("value")) is str:
            out.append((_system(v), v["value"]))
    elif tname == "ContactPoint":
        if type(v) is dict and type(v.get("value")) is str:
            out.append((None, v["value"]))
    elif tname == "Extension":
        inner = _extension_value(v)
        if inner is not None and inner[0] != "Extension":
            _token_pairs(inner[0], inner[1], out)
    elif type(v) is str:
        out.append((None, v))
    elif type(v) is bool:
        out.append((None, "true" if v else "false"))


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
        if inner is not None and inner[0] != "Extension":
            _string_values(inner[0], inner[1], out)
    elif tname == "CodeableConcept":
        if type(v.get("text")) is str:
            out.append(v["text"])
        for c in v.get("coding") or ():
            if type(c) is dict and type(c.get("display")) is str:
                out.append(c["display"])
    elif tname == "Coding" and type(v.get("display")) is str:
        out.append(v["display"])


def _conv_string(p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx) -> None:
    values: list[str] = []
    for v in vals:
        _string_values(tname, v, values)
    hp = p.hp
    out = rows.strings
    for s in values:
        norm = _fold200(s)
        if norm:
            out.append((hp, norm, s))


# ------------------------------------------------------------------ dates


def envelope_hash(hash_param: int) -> int:
    """The key of a resource's envelope row for a date parameter (``~hash_param``: no search
    parameter's own key, and computable in SQL as ``-hash_param - 1``)."""
    return -hash_param - 1


def _date_envelopes(dates: list[tuple]) -> list[tuple]:
    """For each date parameter with several values in the resource, one more row spanning all
    of them, under ``envelope_hash``. A search with a lower and an upper bound on one parameter
    (``date=ge..&date=lt..``) finds its candidates by one row that meets both bounds
    (``query.date_window``); a resource whose values meet them only separately (one before,
    one after) is found by its envelope. Plain searches never read envelopes."""
    spans: dict[int, list] = {}
    for hp, low, high in dates:
        span = spans.get(hp)
        if span is None:
            spans[hp] = [low, high, 1]
        else:
            span[0] = min(span[0], low)
            span[1] = max(span[1], high)
            span[2] += 1
    return [(envelope_hash(hp), lo, hi) for hp, (lo, hi, n) in spans.items() if n > 1]


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
            if inner is not None and inner[0] != "Extension":
                _date_values(inner[0], inner[1], out)
    except ValueError:
        pass  # not a valid date: the validator reports it; nothing to index


def _conv_date(p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx) -> None:
    hp = p.hp
    out = rows.dates
    if tname == "dateTime" or tname == "instant" or tname == "date":
        for v in vals:
            if type(v) is str:
                try:
                    low, high = date_range(v)
                except ValueError:
                    continue
                out.append((hp, low, high))
        return
    ranges: list = []
    for v in vals:
        _date_values(tname, v, ranges)
    for low, high in ranges:
        out.append((hp, low, high))


# ------------------------------------------------------------------ numbers and quantities


def _number(v: object) -> tuple[float, float, float] | None:
    if v is None or type(v) is bool:
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
        if inner is not None and inner[0] != "Extension":
            _number_values(inner[0], inner[1], out)


def _conv_number(p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx) -> None:
    nums: list = []
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
        if comp == "<" or comp == "<=":
            low = -INF
        elif comp == ">" or comp == ">=":
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
        if inner is not None and inner[0] != "Extension":
            _quantity_values(inner[0], inner[1], out)


def _str_or_none(x: object) -> str | None:
    return x if type(x) is str and x else None


def _conv_quantity(
    p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx
) -> None:
    qs: list = []
    for v in vals:
        _quantity_values(tname, v, qs)
    rt, hp, name = p.rt, p.hp, p.name
    out = rows.quantities
    for value, low, high, system, code, unit in qs:
        system, code, unit = _str_or_none(system), _str_or_none(code), _str_or_none(unit)
        hu, hc = quantity_hashes(rt, name, system, code, unit)
        out.append((hp, hu, hc, value, low, high))
        if code and unit and unit != code:
            out.append((hp, 0, quantity_hashes(rt, name, None, unit, None)[1], value, low, high))


# ------------------------------------------------------------------ references and uris


_REFERENCES: dict[str, tuple] = {}


def _parse_reference(ref: str) -> tuple[str | None, str | None, str | None]:
    """``(target_type, target_id, target_url)`` of a literal reference (memoised)."""
    hit = _REFERENCES.get(ref)
    if hit is None:
        m = _REF.fullmatch(ref)
        if m and definitions.is_resource_type(m.group(2)):
            base = m.group(1)
            url = f"{base}/{m.group(2)}/{m.group(3)}" if base else None
            hit = (m.group(2), m.group(3), url)
        else:
            hit = (None, None, ref)
        if len(_REFERENCES) >= 200_000:
            _REFERENCES.clear()
        _REFERENCES[ref] = hit
    return hit


def _reference_values(tname: str, v: object, out: list, idents: list | None) -> None:
    """Append ``(target_type, target_id, target_url)``; Reference.identifier to ``idents``."""
    if tname == "Reference":
        if type(v) is not dict:
            return
        ref = v.get("reference")
        if type(ref) is str and ref and ref[0] != "#":
            out.append(_parse_reference(ref))
        if idents is not None:
            ident = v.get("identifier")
            if type(ident) is dict and type(ident.get("value")) is str:
                idents.append((_system(ident), ident["value"]))
    elif tname in _URIS:
        if type(v) is str and v:
            out.append((None, None, v))
            if "|" in v:
                out.append((None, None, v.split("|", 1)[0]))
    elif tname == "Attachment":
        if type(v) is dict and type(v.get("url")) is str:
            out.append((None, None, v["url"]))
    elif tname == "Extension":
        inner = _extension_value(v)
        if inner is not None and inner[0] != "Extension":
            _reference_values(inner[0], inner[1], out, idents)
    elif type(v) is dict and (tname == "Resource" or definitions.is_resource_type(tname)):
        rid, rtype = v.get("id"), v.get("resourceType")
        if type(rid) is str and type(rtype) is str:
            out.append((rtype, rid, None))


def _conv_reference(
    p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx
) -> None:
    refs: list = []
    idents: list = []
    for v in vals:
        _reference_values(tname, v, refs, idents)
    hp = p.hp
    out = rows.references
    for t, i, u in refs:
        out.append((hp, t, i, u))
    for system, value in idents:
        rows.tokens.append(_token_row(p.rt, p.identifier, p.hp_identifier, system, value, None))


def _ref_reference(
    p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx
) -> None:
    """``_conv_reference`` for Reference values, written out (the common case)."""
    out = rows.references
    hp = p.hp
    for v in vals:
        if type(v) is not dict:
            continue
        ref = v.get("reference")
        if type(ref) is str and ref and ref[0] != "#":
            out.append((hp, *_parse_reference(ref)))
        ident = v.get("identifier")
        if type(ident) is dict and type(ident.get("value")) is str:
            rows.tokens.append(
                _token_row(
                    p.rt, p.identifier, p.hp_identifier, _system(ident), ident["value"], None
                )
            )


def _conv_uri(p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx) -> None:
    hp = p.hp
    out = rows.uris
    for v in vals:
        t = tname
        if t == "Extension":
            inner = _extension_value(v)
            if inner is None:
                continue
            t, v = inner
        if type(v) is str and v:
            out.append((hp, v))
            if t == "canonical" and "|" in v:
                out.append((hp, v.split("|", 1)[0]))


# ------------------------------------------------------------------ composites


class _Ctx:
    """One extraction: the resource, a lazily built engine evaluation, composite memo."""

    __slots__ = ("resource", "_ev", "memo")

    def __init__(self, resource: dict) -> None:
        self.resource = resource
        self._ev: Evaluation | None = None
        self.memo: dict | None = None

    @property
    def ev(self) -> Evaluation:
        if self._ev is None:
            self._ev = Evaluation(self.resource)
        return self._ev


def _component_kind(def_type: str, tname: str) -> str:
    if tname == "Reference":
        return "reference"
    if def_type == "reference":  # DocumentReference-relationship: R4 swapped the definitions
        return "token"
    return def_type


def _var_token(tname: str, v: object, out: list) -> None:
    pairs: list = []
    _token_pairs(tname, v, pairs)
    for system, code in pairs:
        out.extend(token_variants(system, code))


def _var_cc(tname: str, v: object, out: list) -> None:
    """``_var_token`` for a CodeableConcept, written out (the common case)."""
    if type(v) is dict:
        codings = v.get("coding")
        if type(codings) is list:
            for c in codings:
                if type(c) is dict:
                    code = c.get("code")
                    if type(code) is str:
                        out.append(code)
                        out.append(f"{c.get('system') or ''}|{code}")


def _var_string(tname: str, v: object, out: list) -> None:
    strs: list = []
    _string_values(tname, v, strs)
    out.extend(_fold200(s) for s in strs)


def _var_reference(tname: str, v: object, out: list) -> None:
    refs: list = []
    _reference_values(tname, v, refs, None)
    for t, i, u in refs:
        if t is not None:
            out.append(f"{t}/{i}")
            out.append(i)
        if u is not None:
            out.append(u)


def _var_quantity(tname: str, v: object, out: list) -> None:
    qs: list = []
    _quantity_values(tname, v, qs)
    out.extend(("q", low, high) for _value, low, high, *_units in qs)


def _var_number(tname: str, v: object, out: list) -> None:
    nums: list = []
    _number_values(tname, v, nums)
    out.extend(("n", value, low, high) for value, low, high in nums)


def _var_date(tname: str, v: object, out: list) -> None:
    ranges: list = []
    _date_values(tname, v, ranges)
    out.extend(("d", float(lo), float(hi)) for lo, hi in ranges)


_VARIANTS = {
    "token": _var_token,
    "string": _var_string,
    "reference": _var_reference,
    "quantity": _var_quantity,
    "number": _var_number,
    "date": _var_date,
}


def _variant_fn(def_type: str, tname: str):  # noqa: ANN202 - a variant function
    """How a component value of type ``tname`` becomes variants: strings for the hashed
    kinds, tagged ranges (``("q"|"d", low, high)``, ``("n", value, low, high)``) else."""
    kind = _component_kind(def_type, tname)
    if kind == "token" and tname == "CodeableConcept":
        return _var_cc
    return _VARIANTS.get(kind, _var_token)


def _component(ctx: _Ctx, p: _Param, i: int, st: Struct | None, root: object) -> list:
    """Variants of component ``i`` on one root value, memoised within the extraction (several
    composites share a first component, such as ``Observation.code``)."""
    def_type, expr = p.components[i]
    key = (id(root), def_type, expr)
    memo = ctx.memo
    if memo is None:
        memo = ctx.memo = {}
    else:
        hit = memo.get(key)
        if hit is not None:
            return hit
    out: list = []
    if p.force_engine or st is None:
        groups: list = []
        focus = Node(root, st)
        for text in cp.branches(expr)[0]:
            with contextlib.suppress(FhirPathError):
                _engine_groups(ctx.ev.run(fhirpath_compile(text), focus), groups)
        for tname, _st, vals in groups:
            fn = _variant_fn(def_type, tname)
            for v in vals:
                fn(tname, v, out)
    else:
        paths, engine = p.component_paths(st)[i]
        resource = ctx.resource
        for path, tname, fn in paths:
            for v in cp.evaluate(path, root, resource):
                fn(tname, v, out)
        if engine:
            groups = []
            for expr_c in engine:
                with contextlib.suppress(FhirPathError):
                    _engine_groups(ctx.ev.run(expr_c, Node(root, st)), groups)
            for tname, _st, vals in groups:
                fn = _variant_fn(def_type, tname)
                for v in vals:
                    fn(tname, v, out)
    if len(out) > 1:
        out = list(dict.fromkeys(out))
    memo[key] = out
    return out


def _conv_composite(
    p: _Param, tname: str, st: object, vals: list, rows: IndexRows, ctx: _Ctx
) -> None:
    n = len(p.components)
    if n < 2:
        return
    rt, hp, name = p.rt, p.hp, p.name
    out = rows.composites
    for root in vals:
        comps: list = [None] * n
        # the later components first: a value of one type (value.as(Quantity)) ends it early
        for i in range(n - 1, -1, -1):
            variants = _component(ctx, p, i, st, root)  # type: ignore[arg-type]
            if not variants:
                break
            comps[i] = variants
        else:
            first = [v for v in comps[0] if type(v) is str]
            if n == 3:  # MolecularSequence coordinates: token, start, end
                for v1 in first:
                    key = composite_key(rt, name, v1)
                    for a in comps[1]:
                        for b in comps[2]:
                            if type(a) is tuple and type(b) is tuple and a[0] == b[0] == "n":
                                out.append((hp, key, a[1], b[1]))
                continue
            for v1 in first:
                for v2 in comps[1]:
                    if type(v2) is str:
                        out.append((hp, composite_key(rt, name, v1, v2), None, None))
                    elif v2[0] == "n":
                        out.append((hp, composite_key(rt, name, v1), v2[2], v2[3]))
                    else:
                        out.append((hp, composite_key(rt, name, v1), v2[1], v2[2]))


_CONVERTERS = {
    "string": _conv_string,
    "date": _conv_date,
    "number": _conv_number,
    "quantity": _conv_quantity,
    "reference": _conv_reference,
    "uri": _conv_uri,
    "composite": _conv_composite,
}


def _handler(kind: str, tname: str):  # noqa: ANN202 - a converter function
    if kind == "token":
        return _TOKEN_HANDLERS.get(tname, _tok_primitive)
    if kind == "reference" and tname == "Reference":
        return _ref_reference
    return _CONVERTERS[kind]


# ------------------------------------------------------------------ engine results


def _engine_groups(items: list, out: list) -> None:
    """Engine results as ``(type name, struct, [value])`` groups."""
    for it in items:
        if type(it) is Node:
            if it.value is None:
                continue  # a primitive with only an extension: no value to index
            st = it.struct
            t = st.type if st is not None else it.type_name
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
        "rt",
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
        "_component_paths",
    )

    def __init__(self, rt: str, name: str, sp: dict, start: Struct, force_engine: bool) -> None:
        self.rt = rt
        self.name = name
        self.kind = sp["type"]
        self.hp = hash_param(rt, name)
        self.expression = sp["expression"]
        self.force_engine = force_engine
        self.compiled = cp.compile_expression(self.expression, start)
        texts = cp.branches(self.expression)[0] if force_engine else self.compiled.engine
        self.engine = tuple(fhirpath_compile(t) for t in texts)
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
        self._component_paths: dict[int, tuple] = {}

    def component_paths(self, st: Struct) -> tuple:
        """Per component, for roots of type ``st``: ([(path, type name, variant function)],
        [engine expressions])."""
        found = self._component_paths.get(id(st))
        if found is None:
            out = []
            for def_type, expr in self.components:
                c = cp.compile_expression(expr, st)
                paths = [(x, x.type, _variant_fn(def_type, x.type)) for x in c.paths]
                out.append((paths, [fhirpath_compile(t) for t in c.engine]))
            found = self._component_paths[id(st)] = tuple(out)
        return found


class _Plan:
    """Per resource type: the walks to run, grouped by the top-level JSON key they start
    from, so a resource only pays for the parameters whose elements it has."""

    __slots__ = ("params", "by_key", "selfs", "engine")

    def __init__(self, rt: str, force_engine: bool) -> None:
        start = type_struct(rt)
        assert start is not None
        self.params: list[_Param] = []
        # key -> [(ops, handler, param, type name, struct)]
        self.by_key: dict[str, list[tuple]] = {}
        # [(ops, handler, param, type name, struct, gates)]: paths starting at the resource
        self.selfs: list[tuple] = []
        self.engine: list[tuple[_Param, Expression]] = []
        for name, sp in definitions.search_params(rt).items():
            if _status(name, sp) != "indexed":
                continue
            p = _Param(rt, name, sp, start, force_engine)
            self.params.append(p)
            for expr in p.engine:
                self.engine.append((p, expr))
            if force_engine:
                continue
            for path in p.compiled.paths:
                entry = (path.ops, _handler(p.kind, path.type), p, path.type, path.struct)
                if path.first is not None:
                    self.by_key.setdefault(path.first, []).append(entry)
                else:
                    self.selfs.append((*entry, _gates(p, path, start)))


def _gates(p: _Param, path: cp.Path, start: Struct) -> tuple[tuple[str, ...], ...]:
    """Top-level keys a path starting at the resource needs (each tuple: one must be there)."""
    if path.ops and path.ops[0][0] == cp.EXT:
        return (("extension",),)
    if p.kind != "composite" or path.ops:
        return ()
    gates = []
    for _t, expr in p.components:
        c = cp.compile_expression(expr, start)
        if c.engine or any(x.first is None for x in c.paths):
            continue
        gates.append(tuple(dict.fromkeys(x.first for x in c.paths)))
    return tuple(gates)


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
            why = [f"{t}: {r}" for t, r in zip(c.engine, c.reasons, strict=True)]
            for path in c.paths:  # composite components, from each kind of root
                for _url, expr in sp.get("component") or ():
                    cc = cp.compile_expression(expr, path.struct)
                    why += [
                        f"component {t}: {r}" for t, r in zip(cc.engine, cc.reasons, strict=True)
                    ]
            out[name] = ("engine", "; ".join(dict.fromkeys(why))) if why else ("fast", "")
    return out


# ------------------------------------------------------------------ narrative and content

_TEXT = re.compile(r">([^<]+)")  # the text between tags (a div starts with its tag)
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
    plain = " ".join(_TEXT.findall(div[: 4 * TEXT_MAX]))
    if "&" in plain:
        plain = html.unescape(plain)
    return fold(plain[: 2 * TEXT_MAX])[:TEXT_MAX] or None


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


def _extract(resource_type: str, resource: dict, force_engine: bool) -> IndexRows:
    plan = _plan(resource_type, force_engine)
    rows = IndexRows([], [], [], [], [], [], [], [], None, None)
    ctx = _Ctx(resource)
    run = cp.run
    by_key = plan.by_key
    for key, v in resource.items():
        entries = by_key.get(key)
        if entries is None:
            continue
        items = v if type(v) is list else [v]
        for ops, handler, p, tname, st in entries:
            vals = run(items, ops, resource) if ops else items
            if vals:
                handler(p, tname, st, vals, rows, ctx)
    for ops, handler, p, tname, st, gates in plan.selfs:
        for gate in gates:  # keys the path needs: skip it unless one of each gate is there
            for k in gate:
                if k in resource:
                    break
            else:
                break
        else:
            vals = run([resource], ops, resource) if ops else [resource]
            if vals:
                handler(p, tname, st, vals, rows, ctx)
    if plan.engine:
        ev = ctx.ev
        for p, expr in plan.engine:
            groups: list = []
            try:
                _engine_groups(ev.run(expr), groups)
            except FhirPathError:  # an error the specification calls for: no value
                continue
            for tname, st, vals in groups:
                _handler(p.kind, tname)(p, tname, st, vals, rows, ctx)
    rows.narrative = _narrative(resource)
    rows.content = _content(resource)
    # the same value reached twice (two branches, a repeated coding) is one row
    if len(rows.tokens) > 1:
        rows.tokens = list(dict.fromkeys(rows.tokens))
    if len(rows.strings) > 1:
        rows.strings = list(dict.fromkeys(rows.strings))
    if len(rows.dates) > 1:
        rows.dates = list(dict.fromkeys(rows.dates))
        rows.dates.extend(_date_envelopes(rows.dates))
    if len(rows.numbers) > 1:
        rows.numbers = list(dict.fromkeys(rows.numbers))
    if len(rows.quantities) > 1:
        rows.quantities = list(dict.fromkeys(rows.quantities))
    if len(rows.references) > 1:
        rows.references = list(dict.fromkeys(rows.references))
    if len(rows.uris) > 1:
        rows.uris = list(dict.fromkeys(rows.uris))
    if len(rows.composites) > 1:
        rows.composites = list(dict.fromkeys(rows.composites))
    return rows


def extract(resource_type: str, resource: dict) -> IndexRows:
    """Index rows of every search parameter of ``resource_type`` for ``resource``."""
    return _extract(resource_type, resource, False)


def extract_with_engine(resource_type: str, resource: dict) -> IndexRows:
    """The same rows with every expression evaluated by the FHIRPath engine (the reference
    the tests compare the compiled walks with), branch by branch."""
    return _extract(resource_type, resource, True)


# ------------------------------------------------------------------ benchmark

# The package's own definitions (conformance resources), left out of the example set
DEFINITION_TYPES = frozenset(
    [
        "StructureDefinition",
        "SearchParameter",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
        "OperationDefinition",
        "CompartmentDefinition",
    ]
)


def example_resources() -> list[dict]:
    """The non-conformance examples of the official R4 package (what tests and bench use)."""
    from ehr.fhir import jsonio
    from ehr.fhir.definitions.paths import package_dir

    out = []
    for path in sorted(package_dir().glob("*.json")):
        if path.name in ("package.json", ".index.json"):
            continue
        if path.name.split("-", 1)[0] in DEFINITION_TYPES:
            continue
        resource = jsonio.loads(path.read_bytes())
        if type(resource) is dict and definitions.is_resource_type(resource.get("resourceType")):
            out.append(resource)
    return out


def benchmark(resources: list[dict], repeat: int = 5) -> dict[str, float]:
    """Per-resource extraction time (best of ``repeat``), in µs: median, p90, mean."""
    import time

    for r in resources:  # compile the plans first
        extract(r["resourceType"], r)
    times = []
    clock = time.perf_counter
    for r in resources:
        rt = r["resourceType"]
        best = float("inf")
        for _ in range(repeat):
            t = clock()
            extract(rt, r)
            best = min(best, clock() - t)
        times.append(best * 1e6)
    times.sort()
    n = len(times)
    return {
        "resources": n,
        "median_us": times[n // 2],
        "p90_us": times[int(n * 0.9)],
        "mean_us": sum(times) / n,
    }


def _main(argv: list[str]) -> None:
    """``python -m ehr.fhir.search.index_values [synthea-bundle.json ...]``"""
    import json

    sets = [("R4 examples", example_resources())]
    if argv:
        entries = []
        for name in argv:
            with open(name, "rb") as f:
                bundle = json.load(f)
            entries += [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
        sets.append((f"{len(argv)} bundle(s)", entries))
    for label, resources in sets:
        b = benchmark(resources)
        print(
            f"{label}: {b['resources']} resources, extraction median {b['median_us']:.1f} µs, "
            f"p90 {b['p90_us']:.1f} µs, mean {b['mean_us']:.1f} µs"
        )


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
