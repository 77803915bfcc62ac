"""JSON reading and writing that keeps FHIR decimals exactly as sent.

FHIR decimals carry their precision (``1.50`` is not ``1.5``). orjson is fast but turns every
decimal into a binary float. Bodies whose decimals would change that way are parsed with the
standard library into ``Decimal`` values instead, and written back digit for digit. Everything
else takes the fast path.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import orjson

JSONDecodeError = (orjson.JSONDecodeError, json.JSONDecodeError)
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _float_is_faithful(token: bytes) -> bool:
    if b"." not in token and b"e" not in token and b"E" not in token:
        return -(2**63) <= int(token) < 2**64
    return orjson.dumps(float(token)) == token


def loads(data: bytes | str) -> object:
    raw = data.encode() if isinstance(data, str) else data
    obj = orjson.loads(raw)
    for m in _NUMBER.finditer(raw):
        token = m.group()
        if (b"." in token or b"e" in token or b"E" in token or len(token) > 18) and not (
            _float_is_faithful(token)
        ):
            return json.loads(raw, parse_float=Decimal, parse_int=_int)
    return obj


def _int(text: str) -> int | Decimal:
    value = int(text)
    return value if -(2**63) <= value < 2**64 else Decimal(text)


def _default(obj: object) -> object:
    if isinstance(obj, Decimal):
        return orjson.Fragment(str(obj).encode())
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: object, *, pretty: bool = False) -> bytes:
    option = orjson.OPT_INDENT_2 if pretty else 0
    return orjson.dumps(obj, default=_default, option=option)
