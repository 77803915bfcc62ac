"""Tokenizer: expression text -> list of tokens, each with its position in the text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ehr.fhir.fhirpath.errors import FhirPathSyntaxError

# Token kinds
IDENT: Final = "ident"  # plain identifier (keywords included; the parser tells them apart)
DELIMITED: Final = "delimited"  # `identifier`
STRING: Final = "string"
NUMBER: Final = "number"
DATETIME: Final = "datetime"  # @2020-01-01T10:00 (text without the @)
TIME: Final = "time"  # @T10:00 (text without the @T)
VARIABLE: Final = "variable"  # $this, $index, $total (text without the $)
EXTERNAL: Final = "external"  # %name, %`name`, %'name', %"name" (text without the % and quotes)
OP: Final = "op"
EOF_KIND: Final = "eof"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    pos: int


_ESCAPES = {
    "'": "'",
    '"': '"',
    "`": "`",
    "\\": "\\",
    "/": "/",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}

_WS = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)+", re.S)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TZ = r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
_TIME = r"[0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
_DATETIME = re.compile(
    r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?"
    rf"(?:T(?:{_TIME})?{_TZ}?|{_TZ})?"
)
_TIME_LIT = re.compile(rf"T{_TIME}")
_VARIABLE = re.compile(r"\$(this|index|total)\b")
_OPS = ("<=", ">=", "!=", "!~", ".", "[", "]", "(", ")", ",", "+", "-", "*", "/", "&", "|")
_OPS += ("<", ">", "=", "~", "{", "}")


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """Read a quoted literal starting at ``start`` (the opening quote); return (value, end)."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= n:
                break
            esc = text[i + 1]
            if esc == "u":
                digits = text[i + 2 : i + 6]
                if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise FhirPathSyntaxError("bad \\u escape", text, i)
                out.append(chr(int(digits, 16)))
                i += 6
                continue
            if esc not in _ESCAPES:
                raise FhirPathSyntaxError(f"unknown escape \\{esc}", text, i)
            out.append(_ESCAPES[esc])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise FhirPathSyntaxError("unterminated quoted text", text, start)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(text)
    append = tokens.append
    while i < n:
        m = _WS.match(text, i)
        if m:
            i = m.end()
            if i >= n:
                break
        ch = text[i]
        if ch.isalpha() or ch == "_":
            m = _IDENT.match(text, i)
            assert m is not None
            append(Token(IDENT, m.group(), i))
            i = m.end()
        elif ch.isdigit():
            m = _NUMBER.match(text, i)
            assert m is not None
            append(Token(NUMBER, m.group(), i))
            i = m.end()
        elif ch == "'":
            value, end = _quoted(text, i, "'")
            append(Token(STRING, value, i))
            i = end
        elif ch == "`":
            value, end = _quoted(text, i, "`")
            append(Token(DELIMITED, value, i))
            i = end
        elif ch == "@":
            m = _TIME_LIT.match(text, i + 1)
            if m:
                append(Token(TIME, m.group()[1:], i))
                i = m.end()
                continue
            m = _DATETIME.match(text, i + 1)
            if not m or not m.group():
                raise FhirPathSyntaxError("bad date/time literal", text, i)
            append(Token(DATETIME, m.group(), i))
            i = m.end()
        elif ch == "$":
            m = _VARIABLE.match(text, i)
            if not m:
                raise FhirPathSyntaxError("unknown $ variable", text, i)
            append(Token(VARIABLE, m.group(1), i))
            i = m.end()
        elif ch == "%":
            if i + 1 < n and text[i + 1] in "`'\"":
                value, end = _quoted(text, i + 1, text[i + 1])
            else:
                m = _IDENT.match(text, i + 1)
                if not m:
                    raise FhirPathSyntaxError("bad environment variable name", text, i)
                value, end = m.group(), m.end()
            append(Token(EXTERNAL, value, i))
            i = end
        else:
            for op in _OPS:
                if text.startswith(op, i):
                    append(Token(OP, op, i))
                    i += len(op)
                    break
            else:
                raise FhirPathSyntaxError(f"unexpected character {ch!r}", text, i)
    append(Token(EOF_KIND, "", n))
    return tokens
