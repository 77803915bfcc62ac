"""System Quantity: a decimal value with a unit (UCUM code or calendar duration keyword)."""

from __future__ import annotations

from decimal import Decimal

from ehr.fhir.fhirpath import ucum

# calendar duration keywords (singular form) and the UCUM code each one equals, if any:
# weeks and shorter are definite durations; years and months are not (spec: not comparable)
CALENDAR = {
    "year": None,
    "month": None,
    "week": "wk",
    "day": "d",
    "hour": "h",
    "minute": "min",
    "second": "s",
    "millisecond": "ms",
}
CALENDAR_UCUM = {"a": "year", "mo": "month", "wk": "week", "d": "day", "h": "hour"}
CALENDAR_UCUM |= {"min": "minute", "s": "second", "ms": "millisecond"}


def calendar_keyword(word: str) -> str | None:
    """``days`` -> ``day``; None if the word is not a calendar duration keyword."""
    single = word[:-1] if word.endswith("s") else word
    return single if single in CALENDAR else None


class Quantity:
    __slots__ = ("value", "unit")

    def __init__(self, value: Decimal, unit: str = "1") -> None:
        self.value = value
        self.unit = unit

    def __repr__(self) -> str:
        return f"Quantity({self.value} {self.unit!r})"

    def __str__(self) -> str:
        unit = self.unit if self.unit in CALENDAR else f"'{self.unit}'"
        return f"{self.value} {unit}"

    def ucum_unit(self) -> str | None:
        """The UCUM unit this quantity's unit stands for (None for year and month keywords)."""
        if self.unit in CALENDAR:
            return CALENDAR[self.unit]
        return self.unit


def _scaled(q: Quantity) -> tuple[Decimal, ucum.Dims] | None:
    unit = q.ucum_unit()
    if unit is None:
        return None
    try:
        factor, dims = ucum.canonical(unit)
    except ucum.UnitError:
        return None
    return q.value * factor, dims


def compare(a: Quantity, b: Quantity) -> int | None:
    """-1/0/1, or None when the units cannot be compared."""
    if a.unit == b.unit:
        x, y = a.value, b.value
    else:
        sa, sb = _scaled(a), _scaled(b)
        if sa is None or sb is None or sa[1] != sb[1]:
            return None
        x, y = sa[0], sb[0]
    return 0 if x == y else (-1 if x < y else 1)
