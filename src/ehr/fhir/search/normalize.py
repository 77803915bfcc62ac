"""Normal forms shared by index extraction (write time) and query parsing (read time).

Both sides must turn a value into the same folded string, the same time range, the same
number range and the same hashed key, so every rule lives here once:

- ``fold``: strings compared case- and accent-insensitively (NFKD, combining marks dropped,
  casefolded, whitespace collapsed, trimmed). String index rows keep ``fold(v)[:STRING_MAX]``.
- ``date_range``: the implicit range of a FHIR date, dateTime or instant, in microseconds since
  1970-01-01T00:00:00Z, both ends inclusive. Partial values cover their whole year, month,
  day, minute or second; fractions cover their last digit (``.5`` is 500000..599999 µs;
  digits past the microsecond are dropped). A time without a zone, and a date without a time,
  are read as UTC. Open ends of periods are ``MIN_US`` / ``MAX_US``.
- ``number_range``: the implicit range of a decimal from its significant figures, as the
  FHIR search specification defines it: ``"100"`` is 99.5..100.5, ``"1.50"`` is
  1.495..1.505, ``"1e2"`` is 50..150. A Python ``int`` (a JSON integer in a resource) is
  exact. A ``float`` is read through its shortest repr (``ehr.fhir.jsonio`` parses a decimal
  into a float only when that repr gives back the digits that were sent; otherwise it keeps a
  ``Decimal``, whose own digits are used).
- hashed keys: ``hash_param``, token and quantity hashes, composite keys, all through
  ``ehr.fhir.search.extract.hash64``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from ehr.fhir.search import extract as _extract

STRING_MAX = 200  # characters of value_norm kept in the string index
TEXT_MAX = 65536  # characters of the _text and _content columns
MIN_US = -(2**62)  # open start of a period
MAX_US = 2**62  # open end of a period
INF = float("inf")

# ------------------------------------------------------------------ strings


class _StripMarks(dict):
    """``str.translate`` table dropping combining marks, filled in as characters are seen."""

    def __missing__(self, cp: int) -> int | None:
        out = None if unicodedata.combining(chr(cp)) else cp
        self[cp] = out
        return out


_STRIP = _StripMarks()


def fold(s: str) -> str:
    """Case- and accent-insensitive form: NFKD, no combining marks, casefold, one space."""
    if s.isascii():
        return " ".join(s.lower().split())
    s = unicodedata.normalize("NFKD", s).translate(_STRIP).casefold()
    return " ".join(s.split())


# ------------------------------------------------------------------ dates

_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_EPOCH = date(1970, 1, 1).toordinal()
_EPOCH_DT = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_DAY = 86_400_000_000
_HOUR = 3_600_000_000
_MINUTE = 60_000_000
_SECOND = 1_000_000


def _day_us(y: int, m: int, d: int) -> int:
    return (date(y, m, d).toordinal() - _EPOCH) * _DAY


def date_range(value: str) -> tuple[int, int]:
    """Implicit range ``(low_us, high_us)``, inclusive, of a FHIR date/dateTime/instant.

    Raises ValueError for a value that is not one.
    """
    if (
        len(value) >= 20
        and value[10] == "T"
        and value[4] == "-"
        and value[7] == "-"
        and value[13] == ":"
        and value[16] == ":"
        and value[19] in ".+-Z"
    ):
        # The common shape (an instant: seconds and a zone) through the C parser
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            dt = None
        if dt is not None and dt.tzinfo is not None:
            low = (dt - _EPOCH_DT) // _ONE_US
            if value[19] == ".":
                n = 20
                while n < len(value) and value[n].isdigit():
                    n += 1
                digits = n - 20
                if digits < 6:
                    return low, low + 10 ** (6 - digits) - 1
                return low, low
            return low, low + _SECOND - 1
    return _date_range_parsed(value)


def _date_range_parsed(value: str) -> tuple[int, int]:
    """``date_range`` for every shape, from the regular expression (the reference)."""
    m = _DATE.fullmatch(value)
    if m is None:
        raise ValueError(f"not a FHIR date, dateTime or instant: {value!r}")
    ys, ms, ds, hs, mins, ss, frac, tz = m.groups()
    y = int(ys)
    if ms is None:
        return _day_us(y, 1, 1), _day_us(y + 1, 1, 1) - 1
    mo = int(ms)
    if ds is None:
        nxt = _day_us(y + 1, 1, 1) if mo == 12 else _day_us(y, mo + 1, 1)
        return _day_us(y, mo, 1), nxt - 1
    day = _day_us(y, mo, int(ds))
    if hs is None:
        return day, day + _DAY - 1
    h, mi = int(hs), int(mins)
    if h > 23 or mi > 59:
        raise ValueError(f"not a valid time: {value!r}")
    low = day + h * _HOUR + mi * _MINUTE
    if ss is None:
        width = _MINUTE
    else:
        s = int(ss)
        if s > 60:
            raise ValueError(f"not a valid time: {value!r}")
        low += s * _SECOND
        if frac is None:
            width = _SECOND
        elif len(frac) <= 6:
            low += int(frac.ljust(6, "0"))
            width = 10 ** (6 - len(frac))
        else:
            low += int(frac[:6])
            width = 1
    if tz is not None and tz != "Z":
        offset = int(tz[1:3]) * _HOUR + int(tz[4:6]) * _MINUTE
        low += -offset if tz[0] == "+" else offset
    return low, low + width - 1


def period_range(start: str | None, end: str | None) -> tuple[int, int]:
    """Range of a Period: start's low to end's high, open ends at MIN_US / MAX_US."""
    low = date_range(start)[0] if start is not None else MIN_US
    high = date_range(end)[1] if end is not None else MAX_US
    return low, high


# ------------------------------------------------------------------ numbers


def number_range(value: object) -> tuple[float, float, float]:
    """``(value, low, high)``: the implicit range of a number (see the module docstring)."""
    t = type(value)
    if t is int:
        f = float(value)  # type: ignore[arg-type]
        return f, f, f
    if t is bool:
        raise ValueError("a boolean is not a number")
    if t is float:
        text = repr(value)
    elif t is Decimal:
        text = str(value)
    elif t is str:
        text = value.strip()  # type: ignore[union-attr]
    else:
        raise ValueError(f"not a number: {value!r}")
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    exp = d.as_tuple().exponent
    assert isinstance(exp, int)
    half = Decimal(5).scaleb(exp - 1)
    return float(d), float(d - half), float(d + half)


# ------------------------------------------------------------------ hashed keys

_HASHES: dict[tuple, int] = {}
_HASHES_MAX = 500_000


def hashed(parts: tuple[str, ...]) -> int:
    """``hash64(*parts)``, memoised (the same codes and systems come back all the time)."""
    h = _HASHES.get(parts)
    if h is None:
        if len(_HASHES) >= _HASHES_MAX:
            _HASHES.clear()
        h = _HASHES[parts] = _extract.hash64(*parts)
    return h


def hash_param(resource_type: str, param: str) -> int:
    return hashed((resource_type, param))


_TOKENS: dict[tuple, tuple[int, int, int]] = {}


def token_hashes(
    resource_type: str, param: str, system: str | None, code: str
) -> tuple[int, int, int]:
    """``(hash_value, hash_sys_value, hash_system)`` of a token.

    ``system`` None and "" are the same (no system): ``|code`` searches hash_sys_value with
    system "". ``param`` is the stored parameter name (``identifier:of-type``,
    ``subject:identifier`` for those modifiers).
    """
    key = (resource_type, param, system, code)
    h = _TOKENS.get(key)
    if h is None:
        sys_ = system or ""
        h = (
            hashed((resource_type, param, code)),
            hashed((resource_type, param, sys_, code)),
            hashed((resource_type, param, sys_)),
        )
        if len(_TOKENS) >= _HASHES_MAX:
            _TOKENS.clear()
        _TOKENS[key] = h
    return h


def quantity_hashes(
    resource_type: str, param: str, system: str | None, code: str | None, unit: str | None
) -> tuple[int, int]:
    """``(hash_units, hash_code)``: (system, code or unit) and (code or unit); 0 if no unit."""
    c = code or unit
    if not c:
        return 0, 0
    return hashed((resource_type, param, system or "", c)), hashed((resource_type, param, c))


def token_variants(system: str | None, code: str) -> list[str]:
    """Strings a token component matches in composites: ``code`` and ``system|code``.

    A query ``code`` uses the first form, ``system|code`` the second, ``|code`` (explicitly no
    system) the second with an empty system.
    """
    return [code, f"{system or ''}|{code}"]


def composite_key(resource_type: str, param: str, *variants: str) -> int:
    """Key of a composite row: the parameter and the component variants that are hashed.

    Token/string/reference second components are part of the key
    (``composite_key(t, p, v1, v2)``, low/high None). Quantity, number and date second
    components are the row's low/high and the key has the first component only
    (``composite_key(t, p, v1)``; units of a quantity component are not compared).
    """
    return hashed((resource_type, param, *variants))
