"""Parsing the values of search parameters: prefixes, dates, numbers, tokens, quantities."""

from __future__ import annotations

from dataclasses import dataclass

from ehr.fhir.errors import FhirError

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def split_or(value: str) -> list[str]:
    """Split on commas that are not escaped with a backslash; unescape ``\\,`` ``\\|`` ``\\$``."""
    parts, current, escaped = [], [], False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
            current.append(ch)
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p != ""]


def unescape(value: str) -> str:
    return value.replace("\\,", ",").replace("\\|", "|").replace("\\$", "$").replace("\\\\", "\\")


def split_unescaped(value: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in value:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def prefixed(value: str, name: str, allow_prefix: bool = True) -> tuple[str, str]:
    if allow_prefix and len(value) > 2 and value[:2] in PREFIXES and not value[2].isalpha():
        return value[:2], value[2:]
    return "eq", value


@dataclass(frozen=True)
class Token:
    system: str | None  # None: any system; "": explicitly none
    code: str | None  # None: system only (``system|``)


def token(value: str, name: str) -> Token:
    parts = split_unescaped(value, "|")
    if len(parts) == 1:
        return Token(None, unescape(parts[0]))
    if len(parts) == 2:
        system, code = unescape(parts[0]), unescape(parts[1])
        if not system and not code:
            raise FhirError(f"{name}: '|' alone is not a token", expression=name)
        return Token(system, code or None)
    raise FhirError(f"{name}: a token is code, system|code, |code or system|", expression=name)


@dataclass(frozen=True)
class QuantityValue:
    prefix: str
    number: str
    system: str | None
    code: str | None


def quantity(value: str, name: str) -> QuantityValue:
    parts = split_unescaped(value, "|")
    prefix, number = prefixed(parts[0], name)
    if len(parts) == 1:
        return QuantityValue(prefix, number, None, None)
    if len(parts) == 3:
        system = unescape(parts[1]) or None
        return QuantityValue(prefix, number, system, unescape(parts[2]) or None)
    raise FhirError(f"{name}: a quantity is [prefix]number[|system|code]", expression=name)


def number_text(text: str, name: str) -> str:
    try:
        float(text)
    except ValueError:
        raise FhirError(f"{name}: '{text}' is not a number", expression=name) from None
    return text
