"""Operators on collections: arithmetic, string concatenation, comparison, equality,
membership, union and the three-valued logic of ``and``, ``or``, ``xor`` and ``implies``.

Each operator takes the two operand collections and returns the result collection; the
compiler wires them to the operand closures (the logical ones short-circuit there).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from ehr.fhir.fhirpath import temporal
from ehr.fhir.fhirpath.equality import compare, equals, equivalent, hash_key
from ehr.fhir.fhirpath.errors import FhirPathEvaluationError
from ehr.fhir.fhirpath.logic import EMPTY, FALSE, TRUE, single
from ehr.fhir.fhirpath.quantity import CALENDAR, CALENDAR_UCUM, Quantity
from ehr.fhir.fhirpath.temporal import Temporal
from ehr.fhir.fhirpath.values import system_value

Operator = Callable[[list, list], list]


def _operands(left: list, right: list, op: str) -> tuple[Any, Any] | None:
    a = single(left, op)
    b = single(right, op)
    if a is None or b is None:
        return None
    a, b = system_value(a), system_value(b)
    if a is None or b is None:
        return None
    return a, b


def _num(v: Any) -> bool:
    return type(v) is int or type(v) is Decimal


def _calendar_unit(q: Quantity) -> str | None:
    if q.unit in CALENDAR:
        return q.unit
    return CALENDAR_UCUM.get(q.unit)


def _shift(t: Temporal, q: Quantity, sign: int) -> Temporal:
    unit = _calendar_unit(q)
    if unit is None:
        raise FhirPathEvaluationError(f"cannot add {q.unit!r} to a date or time")
    try:
        return temporal.add(t, q.value * sign, unit)
    except (ValueError, OverflowError) as exc:
        raise FhirPathEvaluationError(str(exc)) from None


def op_plus(left: list, right: list) -> list:
    pair = _operands(left, right, "+")
    if pair is None:
        return EMPTY
    a, b = pair
    if type(a) is str and type(b) is str:
        return [a + b]
    if _num(a) and _num(b):
        return [a + b]
    if type(a) is Temporal and type(b) is Quantity:
        return [_shift(a, b, 1)]
    if type(a) is Quantity and type(b) is Quantity and a.unit == b.unit:
        return [Quantity(a.value + b.value, a.unit)]
    raise FhirPathEvaluationError("invalid operands for +")


def op_minus(left: list, right: list) -> list:
    pair = _operands(left, right, "-")
    if pair is None:
        return EMPTY
    a, b = pair
    if _num(a) and _num(b):
        return [a - b]
    if type(a) is Temporal and type(b) is Quantity:
        return [_shift(a, b, -1)]
    if type(a) is Quantity and type(b) is Quantity and a.unit == b.unit:
        return [Quantity(a.value - b.value, a.unit)]
    raise FhirPathEvaluationError("invalid operands for -")


def _unit_product(a: str, b: str, sign: str) -> str:
    if b == "1":
        return a
    if a == "1" and sign == ".":
        return b
    return f"{a}{sign}{b}"


def op_times(left: list, right: list) -> list:
    pair = _operands(left, right, "*")
    if pair is None:
        return EMPTY
    a, b = pair
    if _num(a) and _num(b):
        return [a * b]
    if type(a) is Quantity and _num(b):
        return [Quantity(a.value * b, a.unit)]
    if type(b) is Quantity and _num(a):
        return [Quantity(b.value * a, b.unit)]
    if type(a) is Quantity and type(b) is Quantity:
        return [Quantity(a.value * b.value, _unit_product(a.unit, b.unit, "."))]
    raise FhirPathEvaluationError("invalid operands for *")


def op_divide(left: list, right: list) -> list:
    pair = _operands(left, right, "/")
    if pair is None:
        return EMPTY
    a, b = pair
    try:
        if _num(a) and _num(b):
            return [Decimal(a) / Decimal(b)]
        if type(a) is Quantity and _num(b):
            return [Quantity(a.value / Decimal(b), a.unit)]
        if type(a) is Quantity and type(b) is Quantity:
            return [Quantity(a.value / b.value, _unit_product(a.unit, b.unit, "/"))]
    except (DivisionByZero, InvalidOperation, ZeroDivisionError):
        return EMPTY
    raise FhirPathEvaluationError("invalid operands for /")


def op_div(left: list, right: list) -> list:
    pair = _operands(left, right, "div")
    if pair is None:
        return EMPTY
    a, b = pair
    if not (_num(a) and _num(b)):
        raise FhirPathEvaluationError("invalid operands for div")
    if b == 0:
        return EMPTY
    q = Decimal(a) / Decimal(b)
    return [int(q)]


def op_mod(left: list, right: list) -> list:
    pair = _operands(left, right, "mod")
    if pair is None:
        return EMPTY
    a, b = pair
    if not (_num(a) and _num(b)):
        raise FhirPathEvaluationError("invalid operands for mod")
    if b == 0:
        return EMPTY
    if type(a) is int and type(b) is int:
        r = abs(a) % abs(b)
        return [r if a >= 0 else -r]
    return [Decimal(a) % Decimal(b)]


def op_concat(left: list, right: list) -> list:
    a = system_value(single(left, "&"))
    b = system_value(single(right, "&"))
    a = "" if a is None else a
    b = "" if b is None else b
    if type(a) is not str or type(b) is not str:
        raise FhirPathEvaluationError("& expects strings")
    return [a + b]


def negate(items: list) -> list:
    v = system_value(single(items, "-"))
    if v is None:
        return EMPTY
    if _num(v):
        return [-v]
    if type(v) is Quantity:
        return [Quantity(-v.value, v.unit)]
    raise FhirPathEvaluationError("unary - expects a number or a quantity")


# ------------------------------------------------------------------ comparison


def _comparison(accept: Callable[[int], bool], op: str) -> Operator:
    def impl(left: list, right: list) -> list:
        a = single(left, op)
        b = single(right, op)
        if a is None or b is None:
            return EMPTY
        c = compare(a, b)
        if c is None:
            return EMPTY
        return TRUE if accept(c) else FALSE

    return impl


op_lt = _comparison(lambda c: c < 0, "<")
op_gt = _comparison(lambda c: c > 0, ">")
op_le = _comparison(lambda c: c <= 0, "<=")
op_ge = _comparison(lambda c: c >= 0, ">=")


def op_equals(left: list, right: list) -> list:
    if not left or not right:
        return EMPTY
    if len(left) != len(right):
        return FALSE
    unknown = False
    for a, b in zip(left, right, strict=True):
        e = equals(a, b)
        if e is False:
            return FALSE
        if e is None:
            unknown = True
    return EMPTY if unknown else TRUE


def op_not_equals(left: list, right: list) -> list:
    r = op_equals(left, right)
    if not r:
        return EMPTY
    return FALSE if r[0] else TRUE


def op_equivalent(left: list, right: list) -> list:
    if not left and not right:
        return TRUE
    if len(left) != len(right):
        return FALSE
    remaining = list(right)
    for a in left:
        for i, b in enumerate(remaining):
            if equivalent(a, b):
                del remaining[i]
                break
        else:
            return FALSE
    return TRUE


def op_not_equivalent(left: list, right: list) -> list:
    return FALSE if op_equivalent(left, right)[0] else TRUE


# ------------------------------------------------------------------ collections


def op_in(left: list, right: list) -> list:
    a = single(left, "in")
    if a is None:
        return EMPTY
    for b in right:
        if equals(a, b):
            return TRUE
    return FALSE


def op_contains(left: list, right: list) -> list:
    return op_in(right, left)


def op_union(left: list, right: list) -> list:
    out = []
    seen: set = set()
    for item in left:
        key = hash_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    for item in right:
        key = hash_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


BINARY: dict[str, Operator] = {
    "+": op_plus,
    "-": op_minus,
    "*": op_times,
    "/": op_divide,
    "div": op_div,
    "mod": op_mod,
    "&": op_concat,
    "<": op_lt,
    ">": op_gt,
    "<=": op_le,
    ">=": op_ge,
    "=": op_equals,
    "!=": op_not_equals,
    "~": op_equivalent,
    "!~": op_not_equivalent,
    "in": op_in,
    "contains": op_contains,
    "|": op_union,
}
