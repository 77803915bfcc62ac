"""An independent oracle for FHIR search, used by the search tests.

Which values a resource has for a parameter: the parameter's FHIRPath expression from the
official definitions, evaluated by the external ``fhirpathpy`` library (not our engine).
Whether a value matches a search value: the FHIR R4 search rules (search.html), written here in
plain Python (no code of ``ehr.fhir.search`` is used).

Readings of the specification worth knowing:

- dates: a value is a range (partial dates and periods; open ends are infinite). ``eq``: the
  search range contains the value's range; ``ne``: it does not; ``gt``: the value's range goes
  past the end of the search range; ``lt``: it starts before its start; ``ge``/``le``: ``gt``/``lt``
  or ``eq`` (the specification's words: "the range above [below] the search value intersects
  the range of the target value, or the range of the search value fully contains the range of
  the target value"); ``sa``/``eb``: entirely after / before; ``ap``: overlaps the search range
  widened by 10% of its distance from now.
- numbers: the search value's implicit range comes from its significant digits (``100`` is
  [99.5, 100.5)); ``eq``/``ne`` use it, the other prefixes compare with the value itself.
- quantities: the number as above; ``system|code`` must both match; ``||code`` matches the code
  or the unit. Units are not converted.
- strings: starts-with, or ``:contains``, case- and accent-insensitive; ``:exact`` is exact.
  HumanName and Address match on each of their parts.
- tokens: codes are case-sensitive; ``:text`` is starts-with on CodeableConcept.text, codings'
  displays and Identifier.type.text; ``:not`` also returns resources without a value.
- ``:missing=true``: no value that can be searched on (a Reference with only a display counts
  as missing).
- references: ``Type/id``, ``id`` (any type), ``:Type``; an absolute URL matches that URL, or,
  when it is this server's base, the local reference.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache

from fhirpathpy import compile as fhirpath_compile
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from ehr.fhir import definitions

MODEL = models["r4"]
NEG_INF = float("-inf")
POS_INF = float("inf")
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


# ------------------------------------------------------------------ FHIRPath (fhirpathpy)


def _resolve(inputs: list) -> list:
    """``resolve()``: enough of it for ``where(resolve() is Type)`` in the definitions."""
    out = []
    for item in inputs:
        ref = item.get("reference") if isinstance(item, dict) else item
        if not isinstance(ref, str) or not ref or ref.startswith("#"):
            continue
        parts = ref.split("/_history/")[0].split("/")
        if len(parts) >= 2 and parts[-2][:1].isupper():
            out.append(
                ResourceNode.create_node({"resourceType": parts[-2], "id": parts[-1]}, parts[-2])
            )
    return out


_OPTIONS = {
    "returnRawData": True,
    "userInvocationTable": {"resolve": {"fn": _resolve, "arity": {0: []}}},
}


@cache
def compiled(rtype: str, expression: str):
    # fhirpathpy does not take ``Resource.`` / ``DomainResource.`` as a match for any type.
    expression = re.sub(r"(?<![\w.])(Resource|DomainResource)\.", rtype + ".", expression)
    return fhirpath_compile(expression, MODEL, _OPTIONS)


@cache
def compiled_plain(expression: str):
    return fhirpath_compile(expression, None, _OPTIONS)


def expression_of(rtype: str, param: str) -> str:
    if param == "_id":
        return f"{rtype}.id"
    d = definitions.search_params(rtype)[param]
    expr = d.get("expression")
    assert expr, f"{rtype}.{param} has no expression"
    return expr


def evaluate(rtype: str, expression: str, resource: dict) -> list[tuple[str | None, object]]:
    """``(type name or None, value)`` for each item the expression gives."""
    out = []
    for item in compiled(rtype, expression)(resource):
        if isinstance(item, ResourceNode):
            data = item.data
            kind = item.path
            if kind and "." in kind:
                kind = kind.rsplit(".", 1)[-1]
                kind = {"String": "string", "Boolean": "boolean", "Integer": "integer"}.get(
                    kind, kind
                )
        else:
            data, kind = item, None
        if data is None:
            continue
        out.append((kind or guess_type(data), data))
    return out


def guess_type(data: object) -> str:
    """The FHIR type of a value whose type fhirpathpy lost (unions, ``as``)."""
    if isinstance(data, bool):
        return "boolean"
    if isinstance(data, int):
        return "integer"
    if isinstance(data, (float, Decimal)):
        return "decimal"
    if isinstance(data, str):
        return "string"
    if not isinstance(data, dict):
        return "unknown"
    if "resourceType" in data:
        return data["resourceType"]
    if "coding" in data:
        return "CodeableConcept"
    if "reference" in data:
        return "Reference"
    if "currency" in data:
        return "Money"
    if "low" in data or "high" in data:
        return "Range"
    if "start" in data or "end" in data:
        return "Period"
    if "origin" in data and "dimensions" in data:
        return "SampledData"
    if "value" in data and isinstance(data["value"], (int, float, Decimal)):
        return "Quantity"
    if "family" in data or "given" in data:
        return "HumanName"
    if "code" in data or "display" in data:
        return "Coding"
    if "value" in data:
        return "Identifier"
    if "identifier" in data:
        return "Reference"
    if "text" in data:
        return "CodeableConcept"
    return "unknown"


# ------------------------------------------------------------------ strings


def fold(s: str) -> str:
    """Case- and accent-insensitive form of a string."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(s.casefold().split())


def string_parts(kind: str, data: object) -> list[str]:
    """The strings a string parameter matches on, from one value."""
    if isinstance(data, str):
        return [data]
    if not isinstance(data, dict):
        return []
    keys = {
        "HumanName": ("family", "given", "prefix", "suffix", "text"),
        "Address": ("line", "city", "district", "state", "postalCode", "country", "text"),
    }.get(kind)
    if keys is None:
        if kind in ("CodeableConcept",):
            return [data["text"]] if isinstance(data.get("text"), str) else []
        return []
    out = []
    for k in keys:
        v = data.get(k)
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            out += [x for x in v if isinstance(x, str)]
    return out


def string_match(parts: list[str], value: str, modifier: str | None) -> bool:
    if modifier == "exact":
        return value in parts
    q = fold(value)
    if modifier == "contains":
        return any(q in fold(p) for p in parts)
    return any(fold(p).startswith(q) for p in parts)


# ------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class TokenItem:
    system: str | None
    code: str | None
    texts: tuple[str, ...]


def token_items(kind: str, data: object) -> list[TokenItem]:
    if kind == "CodeableConcept" and isinstance(data, dict):
        codings = [c for c in data.get("coding") or [] if isinstance(c, dict)]
        texts = [data["text"]] if isinstance(data.get("text"), str) else []
        texts += [c["display"] for c in codings if isinstance(c.get("display"), str)]
        items = [TokenItem(c.get("system"), c.get("code"), tuple(texts)) for c in codings]
        return items or [TokenItem(None, None, tuple(texts))]
    if kind == "Coding" and isinstance(data, dict):
        disp = (data["display"],) if isinstance(data.get("display"), str) else ()
        return [TokenItem(data.get("system"), data.get("code"), disp)]
    if kind == "Identifier" and isinstance(data, dict):
        t = (data.get("type") or {}).get("text")
        return [
            TokenItem(data.get("system"), data.get("value"), (t,) if isinstance(t, str) else ())
        ]
    if kind == "ContactPoint" and isinstance(data, dict):
        return [TokenItem(None, data.get("value"), ())]
    if kind == "boolean" or isinstance(data, bool):
        return [TokenItem(None, "true" if data else "false", ())]
    if isinstance(data, str):
        return [TokenItem(None, data, ())]
    return []


def parse_token(value: str) -> tuple[str | None, str | None]:
    """``(system, code)``: system None = any system, "" = no system; code None = any code."""
    if "|" not in value:
        return None, value
    system, code = value.split("|", 1)
    return system, (code or None)


def token_match(items: list[TokenItem], value: str, modifier: str | None) -> bool:
    if modifier == "text":
        q = fold(value)
        return any(fold(t).startswith(q) for it in items for t in it.texts)
    system, code = parse_token(value)
    for it in items:
        if it.code is None:
            continue
        if code is not None and it.code != code:
            continue
        if system is None:
            return True
        if system == "" and not it.system:
            return True
        if system and it.system == system:
            return True
    return False


# ------------------------------------------------------------------ dates

_DATE_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


def date_range(text: str) -> tuple[int, int]:
    """Inclusive (low, high) of a date/dateTime/instant, in microseconds (UTC when no zone)."""
    m = _DATE_RE.fullmatch(text)
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s, frac, tz = m.groups()
    if mo is None:
        lo = datetime(int(y), 1, 1, tzinfo=UTC)
        return _us(lo), _us(datetime(int(y) + 1, 1, 1, tzinfo=UTC)) - 1
    if d is None:
        lo = datetime(int(y), int(mo), 1, tzinfo=UTC)
        nxt = datetime(int(y) + (int(mo) == 12), int(mo) % 12 + 1, 1, tzinfo=UTC)
        return _us(lo), _us(nxt) - 1
    day = date(int(y), int(mo), int(d))
    if h is None:
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return _us(lo), _us(lo + timedelta(days=1)) - 1
    offset = timedelta(0)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    base = datetime(day.year, day.month, day.day, int(h), int(mi), tzinfo=UTC) - offset
    if s is None:
        return _us(base), _us(base) + 60 * US - 1
    lo = _us(base) + int(s) * US
    if not frac:
        return lo, lo + US - 1
    digits = frac[1:7]
    lo += int(digits.ljust(6, "0"))
    return lo, lo + 10 ** (6 - len(digits)) - 1


def date_ranges(kind: str, data: object) -> list[tuple[float, float]]:
    if isinstance(data, str):
        try:
            return [date_range(data)]
        except ValueError:
            return []
    if kind == "Period" and isinstance(data, dict):
        lo = date_range(data["start"])[0] if data.get("start") else NEG_INF
        hi = date_range(data["end"])[1] if data.get("end") else POS_INF
        return [(lo, hi)]
    if kind == "Timing" and isinstance(data, dict):
        out = [date_range(e) for e in data.get("event") or []]
        bounds = (data.get("repeat") or {}).get("boundsPeriod")
        if bounds:
            out += date_ranges("Period", bounds)
        if not out:
            return []
        return [(min(r[0] for r in out), max(r[1] for r in out))]
    return []


def split_prefix(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in PREFIXES and not value[2].isalpha():
        return value[:2], value[2:]
    return "eq", value


def date_match(ranges: list[tuple[float, float]], value: str, now_us: int | None = None) -> bool:
    prefix, text = split_prefix(value)
    lo, hi = date_range(text)
    for t_lo, t_hi in ranges:
        contained = lo <= t_lo and t_hi <= hi
        if prefix == "eq" and contained:
            return True
        if prefix == "ne" and not contained:
            return True
        if prefix == "gt" and t_hi > hi:
            return True
        if prefix == "lt" and t_lo < lo:
            return True
        # ge/le: the project reads "the range above/below the search value intersects the
        # target's range" as an overlap with [search start, +inf) / (-inf, search end], as
        # HAPI does (docs/fhir-api.md); a stricter reading would drop partial overlaps.
        if prefix == "ge" and (t_hi >= lo or contained):
            return True
        if prefix == "le" and (t_lo <= hi or contained):
            return True
        if prefix == "sa" and t_lo > hi:
            return True
        if prefix == "eb" and t_hi < lo:
            return True
        if prefix == "ap":
            now = now_us if now_us is not None else int(time.time() * US)
            gap = abs(now - (lo + hi) / 2) * 0.1
            if t_lo <= hi + gap and t_hi >= lo - gap:
                return True
    return False


# ------------------------------------------------------------------ numbers and quantities


def number_of(data: object) -> Decimal | None:
    if isinstance(data, bool):
        return None
    if isinstance(data, (int, Decimal)):
        return Decimal(data)
    if isinstance(data, float):
        return Decimal(repr(data))
    return None


def number_match(numbers: list[Decimal], value: str) -> bool:
    prefix, text = split_prefix(value)
    v = Decimal(text)
    exp = v.as_tuple().exponent
    half = Decimal(5).scaleb(exp - 1)
    lo, hi = v - half, v + half
    for t in numbers:
        if prefix == "eq" and lo <= t < hi:
            return True
        if prefix == "ne" and not (lo <= t < hi):
            return True
        if prefix in ("gt", "sa") and t > v:
            return True
        if prefix in ("lt", "eb") and t < v:
            return True
        if prefix == "ge" and t >= v:
            return True
        if prefix == "le" and t <= v:
            return True
        if prefix == "ap" and abs(t - v) <= abs(v) * Decimal("0.1"):
            return True
    return False


@dataclass(frozen=True)
class Qty:
    value: Decimal
    system: str | None
    code: str | None
    unit: str | None


def quantities(kind: str, data: object) -> list[Qty]:
    if not isinstance(data, dict):
        return []
    if kind == "Money" or "currency" in data:
        n = number_of(data.get("value"))
        if n is None:
            return []
        return [Qty(n, "urn:iso:std:iso:4217", data.get("currency"), None)]
    if kind in ("Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity"):
        n = number_of(data.get("value"))
        if n is None:
            return []
        return [Qty(n, data.get("system"), data.get("code"), data.get("unit"))]
    return []


def quantity_match(qs: list[Qty], value: str) -> bool:
    parts = value.split("|")
    number = parts[0]
    system = code = None
    if len(parts) == 3:
        system, code = parts[1] or None, parts[2] or None
    for q in qs:
        if code is not None:
            if system is not None and (q.system != system or q.code != code):
                continue
            if system is None and code not in (q.code, q.unit):
                continue
        if number_match([q.value], number):
            return True
    return False


# ------------------------------------------------------------------ references and uris


@dataclass(frozen=True)
class Ref:
    type: str | None
    id: str | None
    url: str | None  # absolute URL, urn or canonical as written


_REF_RE = re.compile(r"(?:(https?://.+)/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/.+)?")


def references(kind: str, data: object) -> list[Ref]:
    if kind == "Reference" and isinstance(data, dict):
        ref = data.get("reference")
        if not isinstance(ref, str) or not ref or ref.startswith("#"):
            return []
        m = _REF_RE.fullmatch(ref)
        if m and definitions.is_resource_type(m[2]):
            return [Ref(m[2], m[3], ref if m[1] else None)]
        return [Ref(None, None, ref)]
    if isinstance(data, str):
        out = [Ref(None, None, data)]
        if "|" in data:
            out.append(Ref(None, None, data.split("|", 1)[0]))
        return out
    return []


def reference_identifiers(kind: str, data: object) -> list[TokenItem]:
    if kind == "Reference" and isinstance(data, dict) and isinstance(data.get("identifier"), dict):
        return token_items("Identifier", data["identifier"])
    return []


def reference_match(refs: list[Ref], value: str, type_modifier: str | None = None) -> bool:
    if value.startswith(("http://", "https://", "urn:")):
        return any(r.url == value for r in refs)
    parts = value.split("/")
    if len(parts) == 2:
        rtype, rid = parts
    else:
        rtype, rid = type_modifier, value
    return any(r.id == rid and (rtype is None or r.type == rtype) for r in refs)


def uri_values(kind: str, data: object) -> list[str]:
    if isinstance(data, str):
        return [data] + ([data.split("|", 1)[0]] if "|" in data else [])
    return []


def uri_match(uris: list[str], value: str, modifier: str | None) -> bool:
    if modifier == "below":
        return any(u.startswith(value) for u in uris)
    if modifier == "above":
        return any(
            value.startswith(u) and (len(u) == len(value) or value[len(u)] == "/") for u in uris
        )
    return value in uris


def parse_decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
