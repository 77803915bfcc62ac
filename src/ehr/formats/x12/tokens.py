"""Reading and writing X12 segments.

An interchange declares its own delimiters in the fixed-layout ISA segment: the element
separator is the 4th character, the repetition separator is ISA11 (5010), the component
separator is ISA16 and the segment terminator is the character right after ISA16. Line breaks
after a terminator are common in files written for people and are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_ISA_ELEMENTS = 16


class X12Error(ValueError):
    """Input that is not a well-formed X12 interchange, with where and why in plain words."""

    def __init__(self, message: str, *, position: int | None = None, segment_id: str = ""):
        self.message = message
        self.position = position
        self.segment_id = segment_id
        where = ""
        if position is not None:
            where = f"Segment {position}" + (f" ({segment_id})" if segment_id else "") + ": "
        super().__init__(where + message)


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    repetition: str = "^"
    component: str = ":"
    segment: str = "~"

    def all(self) -> tuple[str, ...]:
        return (self.element, self.repetition, self.component, self.segment)


DEFAULT = Delimiters()


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its id, its elements (``elements[0]`` is X12's element 01) and its
    1-based position in the interchange (0 for segments built in memory)."""

    id: str
    elements: tuple[str, ...]
    position: int = 0
    delimiters: Delimiters = DEFAULT

    def get(self, n: int) -> str:
        """Element ``n`` (1-based, as the guides number them), '' when absent."""
        return self.elements[n - 1] if 0 < n <= len(self.elements) else ""

    def repeats(self, n: int) -> list[str]:
        """The repetitions of element ``n`` (e.g. EB03 service types), without empty ones."""
        value = self.get(n)
        return [v for v in value.split(self.delimiters.repetition) if v] if value else []

    def components(self, n: int) -> list[str]:
        value = self.get(n)
        return value.split(self.delimiters.component) if value else []

    def error(self, message: str) -> X12Error:
        return X12Error(message, position=self.position or None, segment_id=self.id)


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def read_delimiters(text: str) -> Delimiters:
    """The delimiters an interchange declares in its ISA segment."""
    text = _strip_bom(text).lstrip()
    if not text.startswith("ISA"):
        found = text[:3] or "nothing"
        raise X12Error(f"An X12 interchange starts with an ISA segment; this starts with {found!r}")
    if len(text) < 106:
        raise X12Error("The ISA segment is cut short: it must be 106 characters long", position=1)
    element = text[3]
    if element.isalnum() or element.isspace():
        raise X12Error(f"Invalid element separator {element!r} in ISA", position=1)
    # Count 16 element separators: ISA16 (one character) and the terminator follow.
    at = 0
    for _ in range(_ISA_ELEMENTS):
        at = text.find(element, at + 1)
        if at < 0:
            raise X12Error("The ISA segment does not have its 16 elements", position=1)
    if at + 2 >= len(text):
        raise X12Error("The ISA segment has no segment terminator", position=1)
    component, segment = text[at + 1], text[at + 2]
    isa = text[:at].split(element)
    if len(isa[11]) == 1 and not isa[11].isalnum():
        repetition = isa[11]
    else:  # 4010 and earlier: ISA11 is a standards id ("U") and there are no repetitions
        repetition = next(c for c in "^{\x1f" if c not in (element, component, segment))
    found = Delimiters(element, repetition, component, segment)
    if len(set(found.all())) != 4:
        raise X12Error("The ISA segment uses the same character for two delimiters", position=1)
    if segment.isalnum() or component.isalnum():
        raise X12Error(
            f"Invalid delimiters in ISA: component {component!r}, terminator {segment!r}",
            position=1,
        )
    return found


def tokenize(text: str) -> tuple[Delimiters, list[Segment]]:
    """Split an interchange into segments, with the delimiters it declares."""
    if not isinstance(text, str):
        raise X12Error("X12 input must be text")
    text = _strip_bom(text).lstrip()
    delims = read_delimiters(text)
    segments: list[Segment] = []
    for n, raw in enumerate(text.split(delims.segment), start=1):
        raw = raw.strip("\r\n")
        if not raw.strip():
            if raw:
                raise X12Error("Empty segment (only spaces)", position=n)
            continue
        parts = raw.split(delims.element)
        sid = parts[0]
        if not sid:
            raise X12Error(
                f"A segment has no identifier: it starts with the element separator ({raw[:40]!r})",
                position=len(segments) + 1,
            )
        if not _SEGMENT_ID.match(sid):
            raise X12Error(
                f"{sid!r} is not a segment identifier (2-3 capital letters or digits)",
                position=len(segments) + 1,
            )
        segments.append(Segment(sid, tuple(parts[1:]), len(segments) + 1, delims))
    if not segments:
        raise X12Error("The interchange holds no segments")
    return delims, segments


def clean(value: str | None, delims: Delimiters = DEFAULT, upper: bool = True) -> str:
    """A value made safe to write: delimiters and control characters become spaces."""
    if not value:
        return ""
    text = "".join(" " if ch in delims.all() or ord(ch) < 32 else ch for ch in str(value))
    text = " ".join(text.split())
    return text.upper() if upper else text


def write_segment(
    sid: str, elements: Sequence[str | Sequence[str] | None], delims: Delimiters
) -> str:
    """One segment as text. An element given as a list is written as repetitions;
    trailing empty elements are dropped, as X12 requires."""
    values: list[str] = []
    for element in elements:
        if element is None:
            values.append("")
        elif isinstance(element, str):
            values.append(_checked(element, delims, sid))
        else:
            values.append(delims.repetition.join(_checked(e, delims, sid) for e in element))
    while values and values[-1] == "":
        values.pop()
    return delims.element.join([sid, *values]) + delims.segment


def _checked(value: str, delims: Delimiters, sid: str) -> str:
    for ch in delims.all():
        if ch in value:
            raise X12Error(f"The value {value!r} for {sid} contains the delimiter {ch!r}")
    return value


def write_segments(
    segments: Iterable[tuple[str, Sequence[str | Sequence[str] | None]]],
    delims: Delimiters,
    line_breaks: bool = False,
) -> str:
    sep = "\n" if line_breaks else ""
    return sep.join(write_segment(sid, elements, delims) for sid, elements in segments) + sep
