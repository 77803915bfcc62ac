"""The FHIRPath function library (N1, plus the FHIR additions the R4 definitions use).

Each function is registered with its arity and how its arguments are passed:

- ``value``: arguments are evaluated first (against the current focus, i.e. ``$this``) and the
  implementation gets ``(input, *arg_collections)``;
- ``context``: like ``value`` but the implementation also gets the evaluation context first;
- ``lazy``: the implementation gets ``(ctx, input, *arg_closures)`` and evaluates them itself,
  once per input item (``where``, ``select``, ``all``, ``exists``, ``repeat``, ...);
- ``type``: the single argument is a type specifier, resolved at compile time to a predicate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ehr.fhir.fhirpath import model, narrative, quantity, temporal
from ehr.fhir.fhirpath.context import Context
from ehr.fhir.fhirpath.equality import equals, hash_key
from ehr.fhir.fhirpath.errors import FhirPathEvaluationError
from ehr.fhir.fhirpath.logic import EMPTY, FALSE, TRUE, boolean, single, truth
from ehr.fhir.fhirpath.model import Node
from ehr.fhir.fhirpath.quantity import Quantity
from ehr.fhir.fhirpath.temporal import Temporal
from ehr.fhir.fhirpath.values import system_value

Closure = Callable[[Context, list], list]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int
    mode: str
    impl: Callable[..., list]


REGISTRY: dict[str, FunctionSpec] = {}


def function(name: str, min_args: int = 0, max_args: int | None = None, mode: str = "value"):
    def register(impl: Callable[..., list]) -> Callable[..., list]:
        REGISTRY[name] = FunctionSpec(
            name, min_args, min_args if max_args is None else max_args, mode, impl
        )
        return impl

    return register


# ------------------------------------------------------------------ helpers


def _string(items: list, what: str) -> str | None:
    v = single(items, what)
    if v is None:
        return None
    v = system_value(v)
    if v is None:
        return None
    if type(v) is not str:
        raise FhirPathEvaluationError(f"{what} expects a string, got {type(v).__name__}")
    return v


def _integer(items: list, what: str) -> int | None:
    v = system_value(single(items, what))
    if v is None:
        return None
    if type(v) is not int:
        raise FhirPathEvaluationError(f"{what} expects an integer argument")
    return v


def _distinct(items: list) -> list:
    seen: set = set()
    out = []
    for item in items:
        try:
            key = hash_key(item)
        except TypeError:
            key = ("id", id(item))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _contains_item(items: list, item: Any) -> bool:
    return any(equals(item, other) for other in items)


# ------------------------------------------------------------------ existence


@function("empty")
def fn_empty(items: list) -> list:
    return FALSE if items else TRUE


@function("exists", 0, 1, mode="lazy")
def fn_exists(ctx: Context, items: list, criteria: Closure | None = None) -> list:
    if criteria is None:
        return TRUE if items else FALSE
    return TRUE if fn_where(ctx, items, criteria) else FALSE


@function("all", 1, mode="lazy")
def fn_all(ctx: Context, items: list, criteria: Closure) -> list:
    saved = ctx.index
    try:
        for i, item in enumerate(items):
            ctx.index = i
            if truth(criteria(ctx, [item])) is not True:
                return FALSE
    finally:
        ctx.index = saved
    return TRUE


def _booleans(items: list, what: str) -> list[bool | None]:
    out = []
    for item in items:
        v = system_value(item)
        if v is not None and type(v) is not bool:
            raise FhirPathEvaluationError(f"{what} expects booleans")
        out.append(v)
    return out


@function("allTrue")
def fn_all_true(items: list) -> list:
    return boolean(all(v is True for v in _booleans(items, "allTrue")))


@function("anyTrue")
def fn_any_true(items: list) -> list:
    return boolean(any(v is True for v in _booleans(items, "anyTrue")))


@function("allFalse")
def fn_all_false(items: list) -> list:
    return boolean(all(v is False for v in _booleans(items, "allFalse")))


@function("anyFalse")
def fn_any_false(items: list) -> list:
    return boolean(any(v is False for v in _booleans(items, "anyFalse")))


@function("subsetOf", 1)
def fn_subset_of(items: list, other: list) -> list:
    return boolean(all(_contains_item(other, x) for x in items))


@function("supersetOf", 1)
def fn_superset_of(items: list, other: list) -> list:
    return boolean(all(_contains_item(items, x) for x in other))


@function("count")
def fn_count(items: list) -> list:
    return [len(items)]


@function("distinct")
def fn_distinct(items: list) -> list:
    return _distinct(items)


@function("isDistinct")
def fn_is_distinct(items: list) -> list:
    return boolean(len(_distinct(items)) == len(items))


# ------------------------------------------------------------------ filtering and projection


@function("where", 1, mode="lazy")
def fn_where(ctx: Context, items: list, criteria: Closure) -> list:
    out = []
    saved = ctx.index
    try:
        for i, item in enumerate(items):
            ctx.index = i
            if truth(criteria(ctx, [item])) is True:
                out.append(item)
    finally:
        ctx.index = saved
    return out


@function("select", 1, mode="lazy")
def fn_select(ctx: Context, items: list, projection: Closure) -> list:
    out: list = []
    saved = ctx.index
    try:
        for i, item in enumerate(items):
            ctx.index = i
            out.extend(projection(ctx, [item]))
    finally:
        ctx.index = saved
    return out


def _identity_key(item: Any) -> Any:
    if type(item) is Node:
        return ("node", id(item.value), item.struct) if item.value is not None else id(item)
    return hash_key(item)


@function("repeat", 1, mode="lazy")
def fn_repeat(ctx: Context, items: list, projection: Closure) -> list:
    out: list = []
    seen: set = set()
    queue = list(items)
    while queue:
        nxt: list = []
        for item in queue:
            for child in projection(ctx, [item]):
                key = _identity_key(child)
                if key not in seen:
                    seen.add(key)
                    out.append(child)
                    nxt.append(child)
        queue = nxt
    return out


@function("ofType", 1, mode="type")
def fn_of_type(items: list, test: Callable[[Any], bool]) -> list:
    return [x for x in items if test(x)]


@function("as", 1, mode="type")
def fn_as(items: list, test: Callable[[Any], bool]) -> list:
    return [x for x in items if test(x)]


@function("is", 1, mode="type")
def fn_is(items: list, test: Callable[[Any], bool]) -> list:
    item = single(items, "is")
    if item is None:
        return EMPTY
    return TRUE if test(item) else FALSE


@function("aggregate", 1, 2, mode="lazy")
def fn_aggregate(
    ctx: Context, items: list, aggregator: Closure, init: Closure | None = None
) -> list:
    saved_index, saved_total = ctx.index, ctx.total
    try:
        total = init(ctx, items) if init is not None else EMPTY
        for i, item in enumerate(items):
            ctx.index = i
            ctx.total = total
            total = aggregator(ctx, [item])
    finally:
        ctx.index, ctx.total = saved_index, saved_total
    return total


# ------------------------------------------------------------------ subsetting and combining


@function("single")
def fn_single(items: list) -> list:
    if len(items) > 1:
        raise FhirPathEvaluationError(f"single() on a collection of {len(items)} items")
    return items


@function("first")
def fn_first(items: list) -> list:
    return items[:1]


@function("last")
def fn_last(items: list) -> list:
    return items[-1:]


@function("tail")
def fn_tail(items: list) -> list:
    return items[1:]


@function("skip", 1)
def fn_skip(items: list, num: list) -> list:
    n = _integer(num, "skip")
    if n is None:
        return EMPTY
    return items[max(n, 0) :]


@function("take", 1)
def fn_take(items: list, num: list) -> list:
    n = _integer(num, "take")
    if n is None or n <= 0:
        return EMPTY
    return items[:n]


@function("intersect", 1)
def fn_intersect(items: list, other: list) -> list:
    keys = {hash_key(x) for x in other}
    return [x for x in _distinct(items) if hash_key(x) in keys]


@function("exclude", 1)
def fn_exclude(items: list, other: list) -> list:
    keys = {hash_key(x) for x in other}
    return [x for x in items if hash_key(x) not in keys]


@function("union", 1)
def fn_union(items: list, other: list) -> list:
    return _distinct(items + other)


@function("combine", 1)
def fn_combine(items: list, other: list) -> list:
    return items + other


# ------------------------------------------------------------------ conversion


@function("iif", 2, 3, mode="lazy")
def fn_iif(
    ctx: Context, items: list, criterion: Closure, yes: Closure, no: Closure | None = None
) -> list:
    if truth(criterion(ctx, items)) is True:
        return yes(ctx, items)
    return no(ctx, items) if no is not None else EMPTY


_TRUE_STRINGS = frozenset(["true", "t", "yes", "y", "1", "1.0"])
_FALSE_STRINGS = frozenset(["false", "f", "no", "n", "0", "0.0"])
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_QUANTITY = re.compile(r"([+-]?\d+(?:\.\d+)?)\s*(?:'([^']+)'|([a-z]+))?")


def _convert_boolean(v: Any) -> bool | None:
    t = type(v)
    if t is bool:
        return v
    if t is str:
        low = v.lower()
        return True if low in _TRUE_STRINGS else (False if low in _FALSE_STRINGS else None)
    if t is int or t is Decimal:
        return True if v == 1 else (False if v == 0 else None)
    return None


def _convert_integer(v: Any) -> int | None:
    t = type(v)
    if t is int:
        return v
    if t is bool:
        return int(v)
    if t is str and _INTEGER.fullmatch(v):
        return int(v)
    return None


def _convert_decimal(v: Any) -> Decimal | None:
    t = type(v)
    if t is Decimal:
        return v
    if t is bool:
        return Decimal(int(v))
    if t is int:
        return Decimal(v)
    if t is str and _DECIMAL.fullmatch(v):
        return Decimal(v)
    return None


def _convert_string(v: Any) -> str | None:
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int or t is Decimal:
        return str(v)
    if t is Temporal:
        return v.text
    if t is Quantity:
        return str(v)
    return None


def _convert_quantity(v: Any, unit: str | None = None) -> Quantity | None:
    t = type(v)
    q: Quantity | None = None
    if t is Quantity:
        q = v
    elif t is int or t is Decimal:
        q = Quantity(Decimal(v), "1")
    elif t is bool:
        q = Quantity(Decimal(int(v)), "1")
    elif t is str:
        m = _QUANTITY.fullmatch(v.strip())
        if m:
            if m.group(3):
                cal = quantity.calendar_keyword(m.group(3))
                if cal is None:
                    return None
                q = Quantity(Decimal(m.group(1)), cal)
            else:
                q = Quantity(Decimal(m.group(1)), m.group(2) or "1")
    if q is None or unit is None or unit == q.unit:
        return q
    target = Quantity(Decimal(1), unit)
    try:
        from ehr.fhir.fhirpath import ucum

        fa, da = ucum.canonical(q.ucum_unit() or q.unit)
        fb, db = ucum.canonical(target.ucum_unit() or unit)
    except ValueError:
        return None
    if da != db:
        return None
    return Quantity(q.value * fa / fb, unit)


def _convert_datetime(v: Any) -> Temporal | None:
    if type(v) is Temporal:
        return v.to_datetime() if v.kind != temporal.TIME else None
    if type(v) is str:
        return temporal.parse_datetime(v)
    return None


def _convert_date(v: Any) -> Temporal | None:
    if type(v) is Temporal:
        if v.kind == temporal.TIME:
            return None
        return temporal.make(temporal.DATE, v.parts[:3], None)
    if type(v) is str:
        return temporal.parse_datetime(v, temporal.DATE)
    return None


def _convert_time(v: Any) -> Temporal | None:
    if type(v) is Temporal:
        return v if v.kind == temporal.TIME else None
    if type(v) is str:
        return temporal.parse_time(v)
    return None


def _converter(name: str, convert: Callable[[Any], Any]) -> None:
    def to_x(items: list) -> list:
        v = system_value(single(items, name))
        if v is None:
            return EMPTY
        out = convert(v)
        return EMPTY if out is None else [out]

    def converts_to_x(items: list) -> list:
        v = system_value(single(items, name))
        if v is None:
            return EMPTY
        return boolean(convert(v) is not None)

    REGISTRY["to" + name] = FunctionSpec("to" + name, 0, 0, "value", to_x)
    REGISTRY["convertsTo" + name] = FunctionSpec("convertsTo" + name, 0, 0, "value", converts_to_x)


_converter("Boolean", _convert_boolean)
_converter("Integer", _convert_integer)
_converter("Decimal", _convert_decimal)
_converter("String", _convert_string)
_converter("DateTime", _convert_datetime)
_converter("Date", _convert_date)
_converter("Time", _convert_time)


@function("toQuantity", 0, 1)
def fn_to_quantity(items: list, unit: list | None = None) -> list:
    v = system_value(single(items, "toQuantity"))
    if v is None:
        return EMPTY
    u = _string(unit, "toQuantity") if unit is not None else None
    q = _convert_quantity(v, u)
    return EMPTY if q is None else [q]


@function("convertsToQuantity", 0, 1)
def fn_converts_to_quantity(items: list, unit: list | None = None) -> list:
    v = system_value(single(items, "convertsToQuantity"))
    if v is None:
        return EMPTY
    u = _string(unit, "convertsToQuantity") if unit is not None else None
    return boolean(_convert_quantity(v, u) is not None)


# ------------------------------------------------------------------ strings


@function("indexOf", 1)
def fn_index_of(items: list, sub: list) -> list:
    s, x = _string(items, "indexOf"), _string(sub, "indexOf")
    if s is None or x is None:
        return EMPTY
    return [s.find(x)]


@function("substring", 1, 2)
def fn_substring(items: list, start: list, length: list | None = None) -> list:
    s = _string(items, "substring")
    b = _integer(start, "substring")
    if s is None or b is None or b < 0 or b >= len(s):
        return EMPTY
    if length is None:
        return [s[b:]]
    n = _integer(length, "substring")
    if n is None:
        return [s[b:]]
    return [s[b : b + max(n, 0)]]


@function("startsWith", 1)
def fn_starts_with(items: list, prefix: list) -> list:
    s, p = _string(items, "startsWith"), _string(prefix, "startsWith")
    if s is None or p is None:
        return EMPTY
    return TRUE if s.startswith(p) else FALSE


@function("endsWith", 1)
def fn_ends_with(items: list, suffix: list) -> list:
    s, p = _string(items, "endsWith"), _string(suffix, "endsWith")
    if s is None or p is None:
        return EMPTY
    return TRUE if s.endswith(p) else FALSE


@function("contains", 1)
def fn_contains(items: list, sub: list) -> list:
    s, p = _string(items, "contains"), _string(sub, "contains")
    if s is None or p is None:
        return EMPTY
    return TRUE if p in s else FALSE


@function("upper")
def fn_upper(items: list) -> list:
    s = _string(items, "upper")
    return EMPTY if s is None else [s.upper()]


@function("lower")
def fn_lower(items: list) -> list:
    s = _string(items, "lower")
    return EMPTY if s is None else [s.lower()]


@function("replace", 2)
def fn_replace(items: list, pattern: list, substitution: list) -> list:
    s = _string(items, "replace")
    p, r = _string(pattern, "replace"), _string(substitution, "replace")
    if s is None or p is None or r is None:
        return EMPTY
    if p == "":
        return [r + r.join(s) + r]
    return [s.replace(p, r)]


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise FhirPathEvaluationError(f"invalid regular expression {pattern!r}: {exc}") from None


@function("matches", 1)
def fn_matches(items: list, regex: list) -> list:
    s, p = _string(items, "matches"), _string(regex, "matches")
    if s is None or p is None:
        return EMPTY
    return TRUE if _regex(p).search(s) else FALSE


_GROUP_REF = re.compile(r"\$(\d+)")


@function("replaceMatches", 2)
def fn_replace_matches(items: list, regex: list, substitution: list) -> list:
    s = _string(items, "replaceMatches")
    p, r = _string(regex, "replaceMatches"), _string(substitution, "replaceMatches")
    if s is None or p is None or r is None:
        return EMPTY
    repl = _GROUP_REF.sub(r"\\g<\1>", r.replace("\\", "\\\\"))
    return [_regex(p).sub(repl, s)]


@function("length")
def fn_length(items: list) -> list:
    s = _string(items, "length")
    return EMPTY if s is None else [len(s)]


@function("toChars")
def fn_to_chars(items: list) -> list:
    s = _string(items, "toChars")
    return EMPTY if s is None else list(s)


@function("trim")
def fn_trim(items: list) -> list:
    s = _string(items, "trim")
    return EMPTY if s is None else [s.strip()]


@function("split", 1)
def fn_split(items: list, sep: list) -> list:
    s, p = _string(items, "split"), _string(sep, "split")
    if s is None or p is None:
        return EMPTY
    return list(s.split(p)) if p else list(s)


@function("join", 0, 1)
def fn_join(items: list, sep: list | None = None) -> list:
    p = _string(sep, "join") if sep is not None else ""
    parts = []
    for item in items:
        v = system_value(item)
        if type(v) is not str:
            raise FhirPathEvaluationError("join expects strings")
        parts.append(v)
    return [(p or "").join(parts)]


# ------------------------------------------------------------------ math


def _number(items: list, what: str) -> int | Decimal | None:
    v = system_value(single(items, what))
    if v is None:
        return None
    if type(v) not in (int, Decimal):
        raise FhirPathEvaluationError(f"{what} expects a number")
    return v


def _math(name: str, op: Callable[[Any], Any]) -> None:
    def impl(items: list) -> list:
        v = _number(items, name)
        if v is None:
            return EMPTY
        try:
            out = op(v)
        except (ValueError, InvalidOperation, ArithmeticError):
            return EMPTY
        return EMPTY if out is None else [out]

    REGISTRY[name] = FunctionSpec(name, 0, 0, "value", impl)


_math("abs", abs)
_math("ceiling", lambda v: int(math.ceil(v)))
_math("floor", lambda v: int(math.floor(v)))
_math("truncate", lambda v: int(v))
_math("sqrt", lambda v: Decimal(v).sqrt() if v >= 0 else None)
_math("exp", lambda v: Decimal(v).exp())
_math("ln", lambda v: Decimal(v).ln() if v > 0 else None)


@function("log", 1)
def fn_log(items: list, base: list) -> list:
    v, b = _number(items, "log"), _number(base, "log")
    if v is None or b is None or v <= 0 or b <= 0 or b == 1:
        return EMPTY
    return [Decimal(v).ln() / Decimal(b).ln()]


@function("power", 1)
def fn_power(items: list, exponent: list) -> list:
    v, e = _number(items, "power"), _number(exponent, "power")
    if v is None or e is None:
        return EMPTY
    try:
        out = v**e
    except (ArithmeticError, InvalidOperation):
        return EMPTY
    if type(out) is complex:
        return EMPTY
    return [out]


@function("round", 0, 1)
def fn_round(items: list, precision: list | None = None) -> list:
    v = _number(items, "round")
    if v is None:
        return EMPTY
    p = _integer(precision, "round") if precision is not None else 0
    q = Decimal(1).scaleb(-(p or 0))
    return [Decimal(v).quantize(q, rounding=ROUND_HALF_UP)]


# ------------------------------------------------------------------ tree navigation


@function("children")
def fn_children(items: list) -> list:
    out: list = []
    for item in items:
        if type(item) is Node:
            model.children_of(item, out)
    return out


@function("descendants")
def fn_descendants(items: list) -> list:
    out: list = []
    level = items
    while level:
        nxt: list = []
        for item in level:
            if type(item) is Node:
                model.children_of(item, nxt)
        out.extend(nxt)
        level = nxt
    return out


# ------------------------------------------------------------------ utility


@function("trace", 1, 2, mode="lazy")
def fn_trace(ctx: Context, items: list, name: Closure, projection: Closure | None = None) -> list:
    return items


@function("now")
def fn_now(items: list) -> list:
    return [temporal.now()]


@function("today")
def fn_today(items: list) -> list:
    return [temporal.today()]


@function("timeOfDay")
def fn_time_of_day(items: list) -> list:
    return [temporal.time_of_day()]


@function("not")
def fn_not(items: list) -> list:
    t = truth(items)
    if t is None:
        return EMPTY
    return FALSE if t else TRUE


# ------------------------------------------------------------------ FHIR additions


@function("extension", 1)
def fn_extension(items: list, url: list) -> list:
    u = _string(url, "extension")
    if u is None:
        return EMPTY
    exts: list = []
    for item in items:
        if type(item) is Node:
            model.navigate_into(item, "extension", exts)
    return [e for e in exts if type(e.value) is dict and e.value.get("url") == u]


@function("hasExtension", 1)
def fn_has_extension(items: list, url: list) -> list:
    return TRUE if fn_extension(items, url) else FALSE


@function("hasValue")
def fn_has_value(items: list) -> list:
    if len(items) != 1:
        return FALSE
    item = items[0]
    if type(item) is Node:
        st = item.struct
        if st is None:
            return boolean(item.value is not None and type(item.value) not in (dict, list))
        return TRUE if st.kind == model.PRIMITIVE and item.value is not None else FALSE
    return TRUE


@function("getValue")
def fn_get_value(items: list) -> list:
    if len(items) != 1:
        return EMPTY
    v = system_value(items[0])
    return EMPTY if v is None or type(v) is Node else [v]


@function("htmlChecks")
def fn_html_checks(items: list) -> list:
    v = system_value(single(items, "htmlChecks"))
    if v is None:
        return EMPTY
    if type(v) is not str:
        return FALSE
    return TRUE if narrative.check(v) else FALSE


def _unknown(items: list, *args: list) -> list:
    """Terminology and profile checks are the validator's job: the answer here is unknown."""
    return EMPTY


for _name, _lo, _hi in (
    ("memberOf", 1, 1),
    ("conformsTo", 1, 1),
    ("subsumes", 1, 1),
    ("subsumedBy", 1, 1),
):
    REGISTRY[_name] = FunctionSpec(_name, _lo, _hi, "value", _unknown)


@function("resolve", mode="context")
def fn_resolve(ctx: Context, items: list) -> list:
    out: list = []
    for item in items:
        v = item.value if type(item) is Node else item
        ref_type = None
        if type(v) is dict:
            ref = v.get("reference")
            ref_type = v.get("type")
        else:
            ref = v
        if type(ref) is not str:
            if type(ref_type) is str:
                out.append(model.resource_node({"resourceType": ref_type}))
            continue
        target = _resolve(ctx, ref)
        if target is not None:
            out.append(target)
        elif type(ref_type) is str and model.type_struct(ref_type) is not None:
            out.append(model.resource_node({"resourceType": ref_type}))
    return out


_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def _resolve(ctx: Context, ref: str) -> Node | None:
    resource = ctx.resource.value if ctx.resource is not None else None
    root = ctx.root.value if ctx.root is not None else None
    if ref.startswith("#"):
        if ref == "#":
            return ctx.root if root is not None else ctx.resource
        for holder in (root, resource):
            if type(holder) is dict:
                for c in holder.get("contained") or ():
                    if type(c) is dict and c.get("id") == ref[1:]:
                        return model.resource_node(c)
        return None
    for bundle in (root, resource):
        if type(bundle) is dict and bundle.get("resourceType") == "Bundle":
            found = _in_bundle(bundle, ref, resource)
            if found is not None:
                return model.resource_node(found)
    m = _REF.search(ref)
    if m and model.type_struct(m.group(1)) is not None:
        return model.resource_node({"resourceType": m.group(1), "id": m.group(2)})
    return None


def _in_bundle(bundle: dict, ref: str, current: Any) -> dict | None:
    entries = [e for e in bundle.get("entry") or () if type(e) is dict]
    for e in entries:
        if e.get("fullUrl") == ref and type(e.get("resource")) is dict:
            return e["resource"]
    m = _REF.search(ref)
    if not m or "://" in ref:
        return None
    rtype, rid = m.group(1), m.group(2)
    base = None
    for e in entries:
        if e.get("resource") is current and type(e.get("fullUrl")) is str:
            base = e["fullUrl"].rsplit("/", 2)[0] if "://" in e["fullUrl"] else None
    if base is not None:
        for e in entries:
            if e.get("fullUrl") == f"{base}/{rtype}/{rid}" and type(e.get("resource")) is dict:
                return e["resource"]
    for e in entries:
        r = e.get("resource")
        if type(r) is dict and r.get("resourceType") == rtype and r.get("id") == rid:
            return r
    return None
