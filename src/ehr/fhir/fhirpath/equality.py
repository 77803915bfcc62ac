"""Equality (``=``), equivalence (``~``) and ordering (``<`` ...) of single items.

Each function answers for two items; ``None`` means unknown (the operator then yields the
empty collection). Dates of different precision are unknown when equal as far as both go;
quantities compare after UCUM conversion; complex values are equal when their JSON is.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ehr.fhir.fhirpath import quantity as qty
from ehr.fhir.fhirpath import temporal
from ehr.fhir.fhirpath.errors import FhirPathEvaluationError
from ehr.fhir.fhirpath.model import Node
from ehr.fhir.fhirpath.quantity import Quantity
from ehr.fhir.fhirpath.temporal import Temporal
from ehr.fhir.fhirpath.values import system_value

_WS = re.compile(r"\s+")
_NUMERIC = (int, Decimal)


def _coerce_temporal(a: Any, b: Any) -> tuple[Any, Any]:
    """A string compared with a date is read as one (common practice in FHIR invariants)."""
    if type(a) is Temporal and type(b) is str:
        b2 = temporal.parse_time(b) if a.kind == temporal.TIME else temporal.parse_datetime(b)
        return a, b2 if b2 is not None else b
    if type(b) is Temporal and type(a) is str:
        a2 = temporal.parse_time(a) if b.kind == temporal.TIME else temporal.parse_datetime(a)
        return a2 if a2 is not None else a, b
    return a, b


def equals(a: Any, b: Any) -> bool | None:
    a = system_value(a)
    b = system_value(b)
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is Temporal:
            return _temporal_equals(a, b)
        if ta is Quantity:
            c = qty.compare(a, b)
            return None if c is None else c == 0
        if ta is Node:
            return a.value == b.value
        return a == b
    if ta in _NUMERIC and tb in _NUMERIC:
        return a == b
    if ta is Temporal or tb is Temporal:
        a, b = _coerce_temporal(a, b)
        if type(a) is Temporal and type(b) is Temporal:
            return _temporal_equals(a, b)
        return False
    if ta is Quantity and tb in _NUMERIC:
        return equals(a, Quantity(Decimal(b), "1"))
    if tb is Quantity and ta in _NUMERIC:
        return equals(Quantity(Decimal(a), "1"), b)
    return False


def _temporal_equals(a: Temporal, b: Temporal) -> bool | None:
    if (a.kind == temporal.TIME) != (b.kind == temporal.TIME):
        return False
    c = temporal.compare(a, b)
    return None if c is None else c == 0


def _decimal_places(d: Decimal) -> int:
    exp = d.as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def equivalent(a: Any, b: Any) -> bool:
    a = system_value(a)
    b = system_value(b)
    if a is None or b is None:
        return a is None and b is None
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return _WS.sub(" ", a.strip()).lower() == _WS.sub(" ", b.strip()).lower()
    if ta in _NUMERIC and tb in _NUMERIC:
        if ta is int and tb is int:
            return a == b
        da, db = Decimal(a), Decimal(b)
        places = min(_decimal_places(da), _decimal_places(db))
        q = Decimal(1).scaleb(-places)
        return da.quantize(q) == db.quantize(q)
    if ta is Temporal or tb is Temporal:
        a, b = _coerce_temporal(a, b)
        if type(a) is not Temporal or type(b) is not Temporal:
            return False
        if a.precision != b.precision:
            return False
        return bool(_temporal_equals(a, b))
    if ta is Node and tb is Node:
        return a.value == b.value
    return bool(equals(a, b))


def compare(a: Any, b: Any) -> int | None:
    """-1, 0, 1; None if unknown (precision, units); raises for values of unrelated types."""
    a = system_value(a)
    b = system_value(b)
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return 0 if a == b else (-1 if a < b else 1)
    if ta in _NUMERIC and tb in _NUMERIC:
        return 0 if a == b else (-1 if a < b else 1)
    if ta is Temporal or tb is Temporal:
        a, b = _coerce_temporal(a, b)
        if type(a) is Temporal and type(b) is Temporal:
            try:
                return temporal.compare(a, b)
            except TypeError as exc:
                raise FhirPathEvaluationError(str(exc)) from None
    if ta is Quantity or tb is Quantity:
        if ta in _NUMERIC:
            a = Quantity(Decimal(a), "1")
        if tb in _NUMERIC:
            b = Quantity(Decimal(b), "1")
        if type(a) is Quantity and type(b) is Quantity:
            return qty.compare(a, b)
    raise FhirPathEvaluationError(f"cannot compare {_type_label(a)} with {_type_label(b)}")


def _type_label(v: Any) -> str:
    if type(v) is Node:
        return v.type_name or "element"
    if type(v) is Temporal:
        return v.kind
    return type(v).__name__


def hash_key(item: Any) -> Any:
    """A key such that equal items (``=``) get equal keys, for distinct/union/isDistinct."""
    v = system_value(item)
    t = type(v)
    if t is str:
        return ("s", v)
    if t is bool:
        return ("b", v)
    if t is int or t is Decimal:
        return ("n", Decimal(v).normalize())
    if t is Temporal:
        return ("t", v.kind == temporal.TIME, v.utc_parts() if v.tz is not None else v.parts)
    if t is Quantity:
        return ("q", v.value.normalize(), v.unit)
    if t is Node:
        return ("o", _freeze(v.value))
    if v is None:
        return ("none", id(item))
    return ("x", repr(v))


def _freeze(v: Any) -> Any:
    t = type(v)
    if t is dict:
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if t is list:
        return tuple(_freeze(x) for x in v)
    if t is float or t is Decimal:
        return Decimal(repr(v) if t is float else v).normalize()
    return v
