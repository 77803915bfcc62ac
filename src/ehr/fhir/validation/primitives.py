"""Checks of FHIR primitive values: JSON type, the format each definition states, and ranges.

The regular expressions come from the official definitions (``<type>.value`` carries a regex
extension); this module adds what a regex cannot say: JSON types, calendar validity, the 32-bit
range of integers and the size limits.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal
from functools import cache

from ehr.fhir import definitions

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_XHTML_DIV = re.compile(
    r"""\s*<div\b[^>]*\bxmlns\s*=\s*["']http://www\.w3\.org/1999/xhtml["'][^>]*>.*</div>\s*$""",
    re.DOTALL,
)
MAX_STRING = 1024 * 1024

NUMBER_TYPES = {"decimal"}
INTEGER_TYPES = {"integer", "positiveInt", "unsignedInt"}
BOOLEAN_TYPES = {"boolean"}


@cache
def regex(type_name: str) -> re.Pattern | None:
    dt = definitions.index()["datatypes"].get(type_name)
    pattern = dt.get("regex") if dt else None
    # The definitions' expressions follow XML Schema / Java conventions, where \s and \S are
    # ASCII classes (a no-break space is ordinary text).
    return re.compile(pattern, re.ASCII) if pattern else None


@cache
def is_primitive(type_name: str) -> bool:
    dt = definitions.index()["datatypes"].get(type_name)
    return bool(dt) and dt["kind"] == "primitive-type"


def check(type_name: str, value: object) -> str | None:
    """A message describing what is wrong with ``value`` as a ``type_name``, or None."""
    if type_name in BOOLEAN_TYPES:
        return None if value is True or value is False else "must be a JSON boolean (true or false)"
    if type_name in INTEGER_TYPES:
        if type(value) is not int:
            return f"must be a JSON integer, not {_json_kind(value)}"
        if not INT_MIN <= value <= INT_MAX:
            return f"{value} is outside the 32-bit integer range"
        if type_name == "positiveInt" and value < 1:
            return f"{value} is not a positive integer"
        if type_name == "unsignedInt" and value < 0:
            return f"{value} is negative"
        return None
    if type_name in NUMBER_TYPES:
        if type(value) not in (int, float, Decimal):
            return f"must be a JSON number, not {_json_kind(value)}"
        if type(value) is not int and not math.isfinite(value):
            return f"{value} is not a finite number"
        return None
    if type(value) is not str:
        return f"must be a JSON string, not {_json_kind(value)}"
    if not value:
        return "must not be empty"
    if len(value) > MAX_STRING and type_name in ("string", "markdown"):
        return "is longer than 1 MB"
    if type_name == "xhtml" and not _XHTML_DIV.match(value):
        return "must be an XHTML <div> element in the namespace http://www.w3.org/1999/xhtml"
    rx = regex(type_name)
    if rx is not None and rx.fullmatch(value) is None:
        return f"'{_short(value)}' is not a valid {type_name}"
    if type_name in ("date", "dateTime", "instant") and len(value) >= 10:
        try:
            date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
        except ValueError:
            return f"'{value}' is not a calendar date"
    return None


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."


@cache
def checker(type_name: str):
    """A fast check for one primitive type: returns None when the value is fine."""
    rx = regex(type_name)
    if type_name in BOOLEAN_TYPES or type_name in INTEGER_TYPES or type_name in NUMBER_TYPES:
        return lambda value: check(type_name, value)
    if type_name == "xhtml":
        return lambda value: check(type_name, value)
    if type_name in ("date", "dateTime", "instant"):

        def check_date(value: object) -> str | None:
            if type(value) is str and rx.fullmatch(value) is not None and len(value) < 10:
                return None
            return check(type_name, value)

        return check_date
    fullmatch = rx.fullmatch if rx is not None else None
    limitless = type_name not in ("string", "markdown")

    def check_text(value: object) -> str | None:
        if (
            type(value) is str
            and value
            and (len(value) <= MAX_STRING or limitless)
            and (fullmatch is None or fullmatch(value) is not None)
        ):
            return None
        return check(type_name, value)

    return check_text
