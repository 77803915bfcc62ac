"""From nodes to System values, and back to plain Python values for callers.

A FHIR primitive node is compared, added or matched as the System value its type maps to
(``date`` -> Date with partial precision, ``decimal`` -> Decimal, ``code`` -> String, a
Quantity-like data type -> Quantity). Values computed by the engine already are System values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ehr.fhir.fhirpath import temporal
from ehr.fhir.fhirpath.model import Node
from ehr.fhir.fhirpath.quantity import CALENDAR_UCUM, Quantity
from ehr.fhir.fhirpath.temporal import Temporal

UCUM = "http://unitsofmeasure.org"


def to_decimal(v: Any) -> Decimal:
    t = type(v)
    if t is Decimal:
        return v
    if t is float:
        return Decimal(repr(v))
    return Decimal(v)


def quantity_of(d: dict) -> Quantity | None:
    """System Quantity of a FHIR Quantity (or Age, Duration...) JSON object."""
    value = d.get("value")
    if value is None or type(value) is bool:
        return None
    code = d.get("code")
    if code is not None and d.get("system") in (UCUM, None):
        unit = code
    else:
        unit = d.get("unit") or code or "1"
    return Quantity(to_decimal(value), unit)


def system_value(item: Any) -> Any:
    """The System value of ``item``; None for a primitive without a value; complex -> node."""
    if type(item) is not Node:
        return item
    v = item.value
    st = item.struct
    if st is None:
        t = type(v)
        if t is float:
            return Decimal(repr(v))
        return v if t is not dict else item
    k = st.system
    if k is None:
        return item
    if v is None:
        return None
    if k == "String" or k == "Boolean" or k == "Integer":
        return v
    if k == "Decimal":
        return to_decimal(v)
    if k == "DateTime":
        return temporal.parse_datetime(v) or v if type(v) is str else v
    if k == "Date":
        return temporal.parse_datetime(v, temporal.DATE) or v if type(v) is str else v
    if k == "Time":
        return temporal.parse_time(v) or v if type(v) is str else v
    if k == "Quantity":
        return quantity_of(v) if type(v) is dict else None
    return v


def system_type(value: Any) -> str | None:
    """System type name of a System value (``String``, ``Integer``...)."""
    t = type(value)
    if t is str:
        return "String"
    if t is bool:
        return "Boolean"
    if t is int:
        return "Integer"
    if t is Decimal or t is float:
        return "Decimal"
    if t is Temporal:
        return value.kind
    if t is Quantity:
        return "Quantity"
    return None


def to_plain(item: Any) -> Any:
    """Unwrap for callers: nodes give their JSON value, System values a plain Python value."""
    t = type(item)
    if t is Node:
        return item.value
    if t is Temporal:
        return item.text
    if t is Quantity:
        unit = item.unit
        if unit in CALENDAR_UCUM.values():
            return {"value": item.value, "unit": unit}
        return {"value": item.value, "unit": unit, "system": UCUM, "code": unit}
    return item
