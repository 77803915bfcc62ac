"""System Date, DateTime and Time values with partial precision.

A value keeps the components it was written with (``@2020-01`` has year and month only), its
timezone offset if any, and its original text. Comparison walks the components from the most
significant one; when all the shared components are equal but one value is more precise than
the other the answer is unknown (``None``), as the specification asks. Seconds and fractions of
a second count as one precision. Values that both carry a timezone are compared in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

DATE: str = "Date"
DATETIME: str = "DateTime"
TIME: str = "Time"

_DT = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(?:T(?:(\d{2})(?::(\d{2})(?::(\d{2}(?:\.\d+)?))?)?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?"
)
_T = re.compile(r"(\d{2})(?::(\d{2})(?::(\d{2}(?:\.\d+)?))?)?(Z|[+-]\d{2}:\d{2})?")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class Temporal:
    """A Date, DateTime or Time value. ``parts`` holds as many components as the precision."""

    __slots__ = ("kind", "parts", "tz", "text", "_utc")

    def __init__(self, kind: str, parts: tuple, tz: int | None, text: str) -> None:
        self.kind = kind
        self.parts = parts
        self.tz = tz
        self.text = text
        self._utc: tuple | None = None

    @property
    def precision(self) -> int:
        return len(self.parts)

    def __repr__(self) -> str:
        return f"{self.kind}({self.text})"

    def utc_parts(self) -> tuple:
        """Components shifted to UTC (only meaningful when there is a time and a timezone)."""
        if self._utc is None:
            parts = self.parts
            if self.tz is None or self.kind == TIME or len(parts) < 4:
                self._utc = parts
            else:
                sec = parts[5] if len(parts) > 5 else Decimal(0)
                whole = int(sec)
                moment = datetime(
                    parts[0],
                    parts[1],
                    parts[2],
                    parts[3],
                    parts[4] if len(parts) > 4 else 0,
                    whole,
                ) - timedelta(minutes=self.tz)
                full = (moment.year, moment.month, moment.day, moment.hour, moment.minute)
                full += (Decimal(moment.second) + (sec - whole),)
                self._utc = full[: len(parts)]
        return self._utc

    def to_datetime(self) -> Temporal:
        if self.kind == DATE:
            return Temporal(DATETIME, self.parts, self.tz, self.text)
        return self


def compare(a: Temporal, b: Temporal) -> int | None:
    """-1, 0 or 1; None when the precisions differ over equal shared components."""
    if (a.kind == TIME) != (b.kind == TIME):
        raise TypeError("cannot compare a time with a date")
    if a.tz is not None and b.tz is not None:
        pa, pb = a.utc_parts(), b.utc_parts()
    else:
        pa, pb = a.parts, b.parts
    for x, y in zip(pa, pb, strict=False):
        if x != y:
            return -1 if x < y else 1
    return 0 if len(pa) == len(pb) else None


def _tz(text: str | None) -> int | None:
    if not text:
        return None
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    return sign * (int(text[1:3]) * 60 + int(text[4:6]))


def _valid_date(y: int, m: int | None, d: int | None) -> bool:
    if m is None:
        return True
    if not 1 <= m <= 12:
        return False
    if d is None:
        return True
    if m == 2 and d == 29:
        return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return 1 <= d <= _DAYS_IN_MONTH[m - 1]


@lru_cache(maxsize=4096)
def parse_datetime(text: str, kind: str = DATETIME) -> Temporal | None:
    """Parse a FHIR date/dateTime/instant or a FHIRPath literal (without ``@``)."""
    m = _DT.fullmatch(text)
    if not m:
        return None
    y, mo, d, h, mi, s, tz = m.groups()
    parts: list = [int(y)]
    for comp in (mo, d, h, mi):
        if comp is None:
            break
        parts.append(int(comp))
    if len(parts) == 5 and s is not None:
        parts.append(Decimal(s))
    # components must be contiguous: a time needs the full date
    if h is not None and (mo is None or d is None):
        return None
    if not _valid_date(
        parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None
    ):
        return None
    if len(parts) > 3 and (parts[3] > 23 or (len(parts) > 4 and parts[4] > 59)):
        return None
    if len(parts) > 5 and parts[5] >= 60:
        return None
    if kind == DATE and len(parts) > 3:
        return None
    if len(parts) <= 3 and tz is not None and kind == DATE:
        return None
    return Temporal(kind if len(parts) > 3 or kind == DATE else kind, tuple(parts), _tz(tz), text)


@lru_cache(maxsize=1024)
def parse_time(text: str) -> Temporal | None:
    """Parse a FHIR time or a FHIRPath time literal (without ``@T``)."""
    m = _T.fullmatch(text)
    if not m:
        return None
    h, mi, s, tz = m.groups()
    parts: list = [int(h)]
    if mi is not None:
        parts.append(int(mi))
        if s is not None:
            parts.append(Decimal(s))
    if parts[0] > 23 or (len(parts) > 1 and parts[1] > 59) or (len(parts) > 2 and parts[2] >= 60):
        return None
    return Temporal(TIME, tuple(parts), _tz(tz), text)


def parse_date(text: str) -> Temporal | None:
    return parse_datetime(text, DATE)


def _text(kind: str, parts: tuple, tz: int | None) -> str:
    if kind == TIME:
        out = f"{parts[0]:02d}"
        if len(parts) > 1:
            out += f":{parts[1]:02d}"
        if len(parts) > 2:
            out += ":" + _sec(parts[2])
        return out
    out = f"{parts[0]:04d}"
    if len(parts) > 1:
        out += f"-{parts[1]:02d}"
    if len(parts) > 2:
        out += f"-{parts[2]:02d}"
    if len(parts) > 3:
        out += f"T{parts[3]:02d}"
    if len(parts) > 4:
        out += f":{parts[4]:02d}"
    if len(parts) > 5:
        out += ":" + _sec(parts[5])
    if tz is not None and len(parts) > 3:
        if tz == 0:
            out += "Z"
        else:
            sign = "+" if tz > 0 else "-"
            out += f"{sign}{abs(tz) // 60:02d}:{abs(tz) % 60:02d}"
    return out


def _sec(sec: Decimal) -> str:
    whole = int(sec)
    frac = sec - whole
    if frac == 0:
        return f"{whole:02d}"
    return f"{whole:02d}" + str(frac.normalize())[1:]


def make(kind: str, parts: tuple, tz: int | None) -> Temporal:
    return Temporal(kind, parts, tz, _text(kind, parts, tz))


def now() -> Temporal:
    moment = datetime.now(UTC)
    sec = Decimal(moment.second) + Decimal(moment.microsecond // 1000) / 1000
    parts = (moment.year, moment.month, moment.day, moment.hour, moment.minute, sec)
    return make(DATETIME, parts, 0)


def today() -> Temporal:
    d = date.today()
    return make(DATE, (d.year, d.month, d.day), None)


def time_of_day() -> Temporal:
    moment = datetime.now()
    sec = Decimal(moment.second) + Decimal(moment.microsecond // 1000) / 1000
    return make(TIME, (moment.hour, moment.minute, sec), None)


# calendar unit -> component index it adds to (years, months) or seconds per unit
_CAL_MONTHS = {"year": 12, "month": 1}
_CAL_SECONDS = {
    "week": Decimal(604800),
    "day": Decimal(86400),
    "hour": Decimal(3600),
    "minute": Decimal(60),
    "second": Decimal(1),
    "millisecond": Decimal("0.001"),
}


def add(value: Temporal, amount: Decimal, unit: str) -> Temporal:
    """``value + amount unit`` for a calendar unit (year, month, week, day, hour, ...)."""
    parts = list(value.parts)
    if value.kind == TIME:
        if unit not in ("hour", "minute", "second", "millisecond"):
            raise ValueError(f"cannot add {unit} to a time")
        full = parts + [0] * (3 - len(parts))
        total = full[0] * 3600 + full[1] * 60 + Decimal(full[2]) + amount * _CAL_SECONDS[unit]
        total %= 86400
        h = int(total // 3600)
        mi = int((total % 3600) // 60)
        new = (h, mi, total % 60)
        return make(TIME, new[: len(parts)], value.tz)
    if unit in _CAL_MONTHS:
        months = int(amount) * _CAL_MONTHS[unit]
        if unit == "year" and len(parts) == 1:
            parts[0] += int(amount)
        else:
            if len(parts) < 2:
                parts[0] += months // 12 if months >= 0 else -((-months) // 12)
                return make(value.kind, tuple(parts), value.tz)
            total = parts[0] * 12 + (parts[1] - 1) + months
            parts[0], parts[1] = divmod(total, 12)
            parts[1] += 1
        if len(parts) > 2:
            parts[2] = min(parts[2], _month_days(parts[0], parts[1]))
        return make(value.kind, tuple(parts), value.tz)
    seconds = amount * _CAL_SECONDS[unit]
    if len(parts) < 3:
        # below day precision the amount is truncated to whole units of that precision
        days = int(seconds // 86400)
        if len(parts) == 2:
            return add(value, Decimal(days // 30), "month")
        return add(value, Decimal(days // 365), "year")
    full = parts + [0] * (6 - len(parts))
    whole = int(full[5])
    moment = datetime(full[0], full[1], full[2], full[3], full[4], whole)
    frac = Decimal(full[5]) - whole + seconds
    moment += timedelta(seconds=int(frac // 1))
    new_sec = Decimal(moment.second) + frac % 1
    new = (moment.year, moment.month, moment.day, moment.hour, moment.minute, new_sec)
    return make(value.kind, new[: len(parts)], value.tz)


def _month_days(y: int, m: int) -> int:
    if m == 2 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return 28
    return _DAYS_IN_MONTH[m - 1]
