"""JSON reading and writing that keeps FHIR decimals exactly as sent.

FHIR decimals carry their precision (``1.50`` is not ``1.5``). A number whose binary float
prints back exactly as sent is read as a float; any other (``1.50``, ``1e2``, a long
fraction) is read as a ``Decimal`` and written back digit for digit. Reading uses the standard
library's scanner with a per-number callback; writing uses orjson.
"""

from __future__ import annotations

import json
from decimal import Decimal

import orjson

JSONDecodeError = (orjson.JSONDecodeError, json.JSONDecodeError)


def _float_or_decimal(text: str) -> float | Decimal:
    """A binary float when it prints back as sent (``93.56``), else the exact ``Decimal``."""
    value = float(text)
    return value if repr(value) == text else Decimal(text)


def _int(text: str) -> int | Decimal:
    value = int(text)
    return value if -(2**63) <= value < 2**64 else Decimal(text)


def _no_constants(name: str) -> object:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


_decoder = json.JSONDecoder(
    parse_float=_float_or_decimal, parse_int=_int, parse_constant=_no_constants
)


def loads(data: bytes | str) -> object:
    """Parse JSON; decimals that a float would change (``1.50``, ``1e2``) become ``Decimal``.

    The standard library's C scanner calls back for each number only, which costs less than
    parsing with orjson and then scanning the text for numbers a float would not keep. What it
    accepts beyond JSON is refused here, as orjson would: bytes that are not UTF-8, ``NaN`` and
    ``Infinity``, and escaped lone surrogates (which could not be written back).
    """
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode()
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"not UTF-8: {exc.reason}", "", exc.start) from None
    obj = _decoder.decode(text)
    if "\\ud" in text or "\\uD" in text:
        orjson.loads(text)  # strict about surrogates; raises orjson.JSONDecodeError
    return obj


def _default(obj: object) -> object:
    if isinstance(obj, Decimal):
        return orjson.Fragment(str(obj).encode())
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: object, *, pretty: bool = False) -> bytes:
    option = orjson.OPT_INDENT_2 if pretty else 0
    return orjson.dumps(obj, default=_default, option=option)
