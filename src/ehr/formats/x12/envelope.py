"""Interchange (ISA/IEA), functional group (GS/GE) and transaction set (ST/SE) envelopes.

Parsing checks what a receiver checks before reading the content: every envelope is closed,
the counts (IEA01 groups, GE01 transaction sets, SE01 segments including ST and SE) are right
and each trailer repeats its header's control number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ehr.formats.x12.tokens import (
    DEFAULT,
    Delimiters,
    Segment,
    X12Error,
    tokenize,
    write_segment,
)

Elements = Sequence[str | Sequence[str] | None]


@dataclass(slots=True)
class TransactionSet:
    code: str  # ST01, e.g. "270"
    control_number: str  # ST02
    version: str  # ST03 (implementation guide), '' when absent
    segments: list[Segment]  # between ST and SE
    position: int = 0  # of the ST segment


@dataclass(slots=True)
class FunctionalGroup:
    functional_id: str  # GS01, e.g. "HS" (270) or "HB" (271)
    sender: str  # GS02
    receiver: str  # GS03
    date: str  # GS04 CCYYMMDD
    time: str  # GS05
    control_number: str  # GS06
    version: str  # GS08, e.g. "005010X279A1"
    transactions: list[TransactionSet] = field(default_factory=list)
    position: int = 0


@dataclass(slots=True)
class Interchange:
    delimiters: Delimiters
    sender_qualifier: str  # ISA05
    sender_id: str  # ISA06 (trimmed)
    receiver_qualifier: str  # ISA07
    receiver_id: str  # ISA08 (trimmed)
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    version: str  # ISA12, "00501" for 5010
    control_number: str  # ISA13
    usage: str  # ISA15: P production, T test
    groups: list[FunctionalGroup] = field(default_factory=list)


def _same_number(a: str, b: str) -> bool:
    """Control numbers match; leading zeros do not matter when both are numeric."""
    a, b = a.strip(), b.strip()
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a == b


def _count(seg: Segment, n: int, what: str) -> int:
    value = seg.get(n).strip()
    if not value.isdigit():
        raise seg.error(f"{seg.id}0{n} must be the number of {what}, found {value!r}")
    return int(value)


def peek_versions(segments: list[Segment]) -> tuple[str, list[str]]:
    """(ISA12, [GS08 ...]): what a reader checks before trusting the rest of the file."""
    isa = segments[0].get(12) if segments and segments[0].id == "ISA" else ""
    return isa, [s.get(8) for s in segments if s.id == "GS"]


def parse_interchange(text: str) -> Interchange:
    """Parse and check the envelopes of one interchange."""
    delims, segments = tokenize(text)
    return interchange_from_segments(delims, segments)


def interchange_from_segments(delims: Delimiters, segments: list[Segment]) -> Interchange:
    isa = segments[0]
    if len(isa.elements) != 16:
        raise isa.error(f"ISA must have 16 elements, found {len(isa.elements)}")
    ic = Interchange(
        delimiters=delims,
        sender_qualifier=isa.get(5),
        sender_id=isa.get(6).strip(),
        receiver_qualifier=isa.get(7),
        receiver_id=isa.get(8).strip(),
        date=isa.get(9),
        time=isa.get(10),
        version=isa.get(12),
        control_number=isa.get(13),
        usage=isa.get(15),
    )
    group: FunctionalGroup | None = None
    txn: TransactionSet | None = None
    closed = False
    for seg in segments[1:]:
        if closed:
            raise seg.error("Segment after the IEA that closes the interchange")
        if seg.id == "IEA":
            if group is not None:
                raise seg.error(f"IEA before the GE that closes group {group.control_number}")
            if _count(seg, 1, "functional groups") != len(ic.groups):
                raise seg.error(
                    f"IEA01 says {seg.get(1)} functional groups, the interchange has "
                    f"{len(ic.groups)}"
                )
            if not _same_number(seg.get(2), ic.control_number):
                raise seg.error(
                    f"IEA02 control number {seg.get(2)!r} does not match ISA13 "
                    f"{ic.control_number!r}"
                )
            closed = True
        elif seg.id == "GS":
            if group is not None:
                raise seg.error("GS inside another functional group (missing GE)")
            group = FunctionalGroup(
                seg.get(1), seg.get(2), seg.get(3), seg.get(4), seg.get(5), seg.get(6),
                seg.get(8), position=seg.position,
            )  # fmt: skip
        elif seg.id == "GE":
            if group is None:
                raise seg.error("GE without a GS")
            if txn is not None:
                raise seg.error(f"GE before the SE that closes transaction {txn.control_number}")
            if _count(seg, 1, "transaction sets") != len(group.transactions):
                raise seg.error(
                    f"GE01 says {seg.get(1)} transaction sets, the group has "
                    f"{len(group.transactions)}"
                )
            if not _same_number(seg.get(2), group.control_number):
                raise seg.error(
                    f"GE02 control number {seg.get(2)!r} does not match GS06 "
                    f"{group.control_number!r}"
                )
            ic.groups.append(group)
            group = None
        elif seg.id == "ST":
            if group is None:
                raise seg.error("ST outside a functional group (missing GS)")
            if txn is not None:
                raise seg.error("ST inside another transaction set (missing SE)")
            txn = TransactionSet(seg.get(1), seg.get(2), seg.get(3), [], seg.position)
        elif seg.id == "SE":
            if txn is None:
                raise seg.error("SE without an ST")
            actual = len(txn.segments) + 2
            if _count(seg, 1, "segments") != actual:
                raise seg.error(
                    f"SE01 says {seg.get(1)} segments, the transaction set has {actual} "
                    "(counting ST and SE)"
                )
            if not _same_number(seg.get(2), txn.control_number):
                raise seg.error(
                    f"SE02 control number {seg.get(2)!r} does not match ST02 {txn.control_number!r}"
                )
            assert group is not None
            group.transactions.append(txn)
            txn = None
        elif seg.id == "ISA":
            raise seg.error("A second ISA: one interchange per message, please")
        elif txn is None:
            raise seg.error("Segment outside a transaction set (between the envelopes)")
        else:
            txn.segments.append(seg)
    if not closed:
        last = segments[-1]
        raise X12Error(
            "The interchange ends without its IEA trailer (truncated?)",
            position=last.position,
            segment_id=last.id,
        )
    if not ic.groups:
        raise X12Error("The interchange holds no functional group")
    return ic


def write_interchange(
    *,
    functional_id: str,
    version: str,
    transaction_code: str,
    bodies: Sequence[Sequence[tuple[str, Elements]]],
    sender_id: str,
    receiver_id: str,
    control_number: int,
    now: datetime,
    usage: str = "P",
    delimiters: Delimiters = DEFAULT,
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    line_breaks: bool = False,
) -> str:
    """An interchange with one functional group holding one transaction set per body.

    Each body is the list of segments between ST and SE; the envelopes, counts and control
    numbers (ISA13 = GS06 = ``control_number``; ST02 numbered from 0001) are written here.
    """
    if not 0 < control_number < 10**9:
        raise X12Error(f"The interchange control number must be 1-999999999: {control_number}")
    if usage not in ("P", "T"):
        raise X12Error(f"ISA15 usage must be P or T, not {usage!r}")
    for name, value, size in (("sender", sender_id, 15), ("receiver", receiver_id, 15)):
        if not value or len(value) > size:
            raise X12Error(f"The interchange {name} id must be 1-{size} characters: {value!r}")
    d = delimiters
    out: list[str] = []
    isa = [
        "00", " " * 10, "00", " " * 10,
        sender_qualifier, sender_id.ljust(15), receiver_qualifier, receiver_id.ljust(15),
        now.strftime("%y%m%d"), now.strftime("%H%M"), d.repetition, "00501",
        f"{control_number:09d}", "0", usage, d.component,
    ]  # fmt: skip
    # ISA16 is the component separator itself, so it bypasses the delimiter check.
    out.append(d.element.join(["ISA", *isa]) + d.segment)
    gs = [
        functional_id, sender_id, receiver_id, now.strftime("%Y%m%d"), now.strftime("%H%M"),
        str(control_number), "X", version,
    ]  # fmt: skip
    out.append(write_segment("GS", gs, d))
    for n, body in enumerate(bodies, start=1):
        st_number = f"{n:04d}"
        out.append(write_segment("ST", [transaction_code, st_number, version], d))
        for sid, elements in body:
            out.append(write_segment(sid, elements, d))
        out.append(write_segment("SE", [str(len(body) + 2), st_number], d))
    out.append(write_segment("GE", [str(len(bodies)), str(control_number)], d))
    out.append(write_segment("IEA", ["1", f"{control_number:09d}"], d))
    sep = "\n" if line_breaks else ""
    return sep.join(out) + sep
