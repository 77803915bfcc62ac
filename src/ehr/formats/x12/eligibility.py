"""Eligibility inquiries and responses: X12 5010 270 and 271 (005010X279A1).

``build_270`` writes an inquiry, ``parse_270`` reads one (a payer's side, e.g. the simulator),
``build_271`` writes a response and ``parse_271`` reads one into plain results: active or not,
plan and group, benefits by service type (copay, coinsurance, deductible, out-of-pocket and
what remains) and the payer's request validation errors (AAA) in plain English. The loop and
code knowledge lives in ``x279``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ehr.formats.x12 import x279
from ehr.formats.x12.envelope import (
    Elements,
    TransactionSet,
    interchange_from_segments,
    peek_versions,
    write_interchange,
)
from ehr.formats.x12.tokens import Delimiters, Segment, X12Error, clean, tokenize

_CODE = re.compile(r"^[A-Z0-9]{1,3}$")
_GENDERS = ("M", "F", "U")


# ----------------------------------------------------------------------------- plain data


@dataclass(frozen=True, slots=True)
class Member:
    """A subscriber or dependent as the payer knows them."""

    last_name: str = ""
    first_name: str = ""
    member_id: str = ""
    birth_date: date | None = None
    gender: str = ""  # DMG03: M, F or U
    middle_name: str = ""

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)


@dataclass(frozen=True, slots=True)
class EligibilityInquiry:
    """What a 270 asks: is this member covered by this payer, for these services, on this day."""

    payer_name: str
    payer_id: str
    provider_name: str  # an organization's name, or a person's last name
    provider_npi: str
    subscriber: Member
    dependent: Member | None = None  # set when the patient is not the subscriber
    service_types: tuple[str, ...] = ("30",)
    service_date: date | None = None
    trace_number: str = ""  # TRN02, echoed by the payer; made from the control number if empty
    trace_originator: str = "9EHRSYSTEM"  # TRN03: "1" + EIN or "9" + 9 characters
    provider_first_name: str = ""  # set when the provider is a person
    reference: str = ""  # BHT03

    @property
    def patient(self) -> Member:
        return self.dependent or self.subscriber


@dataclass(frozen=True, slots=True)
class RequestError:
    """An AAA segment: the payer could not accept (part of) the request."""

    loop: str  # where it was found, e.g. "2100C"
    reason_code: str  # AAA03
    follow_up_code: str  # AAA04
    valid_request: bool = True  # AAA01: Y the request was valid, N it was not

    @property
    def reason(self) -> str:
        return x279.reject_reason_text(self.reason_code)

    @property
    def follow_up(self) -> str:
        return x279.FOLLOW_UP.get(self.follow_up_code, self.follow_up_code)

    @property
    def message(self) -> str:
        """One sentence or two for the front desk."""
        advice = x279.REJECT_ADVICE.get(self.reason_code, self.reason + ".")
        follow = f" Payer's advice: {self.follow_up.lower()}." if self.follow_up_code else ""
        return f"{advice}{follow} (AAA {self.reason_code}, loop {self.loop})"


_KINDS = {"A": "coinsurance", "B": "copay", "C": "deductible", "G": "out_of_pocket"}


@dataclass(slots=True)
class Benefit:
    """One EB segment (loop 2110C/D) with the MSG and DTP segments that follow it."""

    code: str  # EB01
    coverage_level: str = ""  # EB02: IND, FAM, ...
    service_types: tuple[str, ...] = ()  # EB03 (repeating)
    insurance_type: str = ""  # EB04
    plan: str = ""  # EB05 plan coverage description
    time_period: str = ""  # EB06: 23 calendar year, 29 remaining, 27 visit, ...
    amount: Decimal | None = None  # EB07
    percent: Decimal | None = None  # EB08, as sent: 0.2 is 20 %
    quantity_qualifier: str = ""  # EB09
    quantity: Decimal | None = None  # EB10
    authorization_required: str = ""  # EB11: Y, N, U
    network: str = ""  # EB12: Y in network, N out of network, W not applicable, U unknown
    messages: list[str] = field(default_factory=list)
    dates: list[tuple[str, str]] = field(default_factory=list)  # (DTP01, DTP03)
    errors: list[RequestError] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """active, inactive, copay, coinsurance, deductible, out_of_pocket or other."""
        if self.code in x279.ACTIVE_CODES:
            return "active"
        if self.code in x279.INACTIVE_CODES:
            return "inactive"
        return _KINDS.get(self.code, "other")

    @property
    def remaining(self) -> bool:
        return self.time_period in x279.REMAINING_PERIODS

    @property
    def in_network(self) -> bool | None:
        return {"Y": True, "N": False}.get(self.network)

    @property
    def percent_value(self) -> Decimal | None:
        """EB08 as a percentage (20 for 0.2)."""
        return None if self.percent is None else (self.percent * 100).normalize()

    @property
    def description(self) -> str:
        return x279.BENEFIT_INFO.get(self.code, f"Benefit {self.code}")


@dataclass(slots=True)
class EligibilityResult:
    """What a 271 says about one subscriber or dependent.

    ``level`` is "subscriber" or "dependent"; when the payer answered only at the payer or
    provider level (an AAA in 2000A/2100A/2100B), there is one result with level "payer" or
    "provider" that carries those errors.
    """

    level: str
    payer_name: str = ""
    payer_id: str = ""
    provider_name: str = ""
    provider_id: str = ""
    member: Member = field(default_factory=Member)
    subscriber_id: str = ""  # the subscriber's member id (for a dependent)
    trace_numbers: list[str] = field(default_factory=list)  # TRN02 of the TRN*2 echoed
    references: list[tuple[str, str, str]] = field(default_factory=list)  # REF01-03
    dates: list[tuple[str, str]] = field(default_factory=list)  # (DTP01, DTP03)
    benefits: list[Benefit] = field(default_factory=list)
    errors: list[RequestError] = field(default_factory=list)
    reference: str = ""  # BHT03
    control_number: str = ""  # ISA13

    @property
    def active(self) -> bool | None:
        """True when the payer reports active coverage, False when inactive, None when the
        answer says neither (for instance when the request was rejected)."""
        codes = {b.code for b in self.benefits}
        if codes & x279.ACTIVE_CODES:
            return True
        if codes & x279.INACTIVE_CODES:
            return False
        return None

    @property
    def status(self) -> str:
        return {True: "active", False: "inactive", None: "unknown"}[self.active]

    def reference_value(self, *qualifiers: str) -> tuple[str, str]:
        """(REF02, REF03) of the first REF with one of these qualifiers, or ('', '')."""
        for q in qualifiers:
            for qual, value, desc in self.references:
                if qual == q:
                    return value, desc
        return "", ""

    @property
    def plan_name(self) -> str:
        for b in self.benefits:
            if b.plan and b.kind in ("active", "inactive"):
                return b.plan
        for b in self.benefits:
            if b.plan:
                return b.plan
        number, desc = self.reference_value("18")
        return desc or number

    @property
    def plan_number(self) -> str:
        return self.reference_value("18")[0]

    @property
    def group_number(self) -> str:
        return self.reference_value("6P", "1L")[0]

    @property
    def group_name(self) -> str:
        return self.reference_value("6P", "1L")[1]

    @property
    def messages(self) -> list[str]:
        return [m for b in self.benefits for m in b.messages]

    def date_of(self, qualifier: str) -> str:
        return next((v for q, v in self.dates if q == qualifier), "")


# ----------------------------------------------------------------------------- 270


def _npi_ok(npi: str) -> bool:
    """NPI check digit (Luhn over '80840' + the first nine digits)."""
    if not re.fullmatch(r"\d{10}", npi):
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def check_inquiry(inquiry: EligibilityInquiry) -> list[str]:
    """What is missing or wrong for a 270, in plain words (empty when it can be sent)."""
    problems: list[str] = []
    if not clean(inquiry.payer_name):
        problems.append("The payer has no name.")
    if not clean(inquiry.payer_id):
        problems.append("The payer has no payer ID.")
    if not clean(inquiry.provider_name):
        problems.append("The billing provider has no name.")
    if not _npi_ok(inquiry.provider_npi):
        problems.append(f"The billing provider's NPI {inquiry.provider_npi!r} is not a valid NPI.")
    sub = inquiry.subscriber
    if not clean(sub.member_id):
        problems.append("The coverage has no member ID.")
    elif len(clean(sub.member_id)) > 80:
        problems.append("The member ID is longer than 80 characters.")
    patient = inquiry.patient
    if not clean(patient.last_name):
        problems.append("The patient has no last name.")
    for member in (sub, inquiry.dependent):
        if member is not None and member.gender and member.gender not in _GENDERS:
            problems.append(f"Gender must be M, F or U, not {member.gender!r}.")
    if not inquiry.service_types:
        problems.append("Ask about at least one service type (30 for the health plan).")
    for code in inquiry.service_types:
        if not _CODE.match(code):
            problems.append(f"{code!r} is not a service type code.")
    if not re.fullmatch(r"[19][A-Z0-9]{9}", inquiry.trace_originator):
        problems.append("The trace originator must be '1' or '9' followed by 9 characters.")
    return problems


def _d8(value: date) -> str:
    return value.strftime("%Y%m%d")


def _member_segments(member: Member, entity: str, with_id: bool) -> list[tuple[str, Elements]]:
    out: list[tuple[str, Elements]] = []
    nm1: list[str] = [entity, "1", clean(member.last_name), clean(member.first_name)]
    nm1 += [clean(member.middle_name), "", ""]
    if with_id and member.member_id:
        nm1 += ["MI", clean(member.member_id, upper=False)]
    out.append(("NM1", nm1))
    if member.birth_date is not None:
        out.append(("DMG", ["D8", _d8(member.birth_date), member.gender or ""]))
    return out


def _provider_nm1(name: str, first: str, npi: str) -> tuple[str, Elements]:
    if first:
        return ("NM1", ["1P", "1", clean(name), clean(first), "", "", "", "XX", npi])
    return ("NM1", ["1P", "2", clean(name), "", "", "", "", "XX", npi])


def build_270(
    inquiry: EligibilityInquiry,
    sender_id: str,
    receiver_id: str,
    control_number: int,
    now: datetime,
    *,
    usage: str = "P",
    line_breaks: bool = False,
) -> str:
    """The 270 for one inquiry, in its own interchange. Raises X12Error when data is missing."""
    problems = check_inquiry(inquiry)
    if problems:
        raise X12Error("The inquiry cannot be sent: " + " ".join(problems))
    trace = clean(inquiry.trace_number, upper=False) or f"{control_number:09d}"
    reference = clean(inquiry.reference, upper=False) or trace
    dependent = inquiry.dependent
    body: list[tuple[str, Elements]] = [
        ("BHT", ["0022", "13", reference[:50], _d8(now), now.strftime("%H%M")]),
        ("HL", ["1", "", "20", "1"]),
        ("NM1", ["PR", "2", clean(inquiry.payer_name)[:60], "", "", "", "", "PI",
                 clean(inquiry.payer_id)]),
        ("HL", ["2", "1", "21", "1"]),
        _provider_nm1(inquiry.provider_name, inquiry.provider_first_name, inquiry.provider_npi),
        ("HL", ["3", "2", "22", "1" if dependent else "0"]),
    ]  # fmt: skip
    trn = ("TRN", ["1", trace[:50], inquiry.trace_originator])
    asked: list[tuple[str, Elements]] = []
    if inquiry.service_date is not None:
        asked.append(("DTP", ["291", "D8", _d8(inquiry.service_date)]))
    # 5010 repeats EQ01 for several service types (one 2110C loop).
    asked.append(("EQ", [list(inquiry.service_types)]))
    if dependent is None:
        body.append(trn)
        body += _member_segments(inquiry.subscriber, "IL", with_id=True)
        body += asked
    else:
        body += _member_segments(inquiry.subscriber, "IL", with_id=True)
        body.append(("HL", ["4", "3", "23", "0"]))
        body.append(trn)
        body += _member_segments(dependent, "03", with_id=False)
        body += asked
    return write_interchange(
        functional_id=x279.INQUIRY[0],
        version=x279.VERSION,
        transaction_code=x279.INQUIRY[1],
        bodies=[body],
        sender_id=sender_id,
        receiver_id=receiver_id,
        control_number=control_number,
        now=now,
        usage=usage,
        line_breaks=line_breaks,
    )


# ----------------------------------------------------------------------------- reading loops


@dataclass(slots=True)
class _Node:
    """One HL with its loops: 2000x segments, 2100x segments, and each 2110x group."""

    level: x279.Level
    hl: Segment
    parent: _Node | None
    header: list[Segment] = field(default_factory=list)
    name: list[Segment] = field(default_factory=list)
    groups: list[list[Segment]] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)

    def first(self, sid: str, where: list[Segment] | None = None) -> Segment | None:
        return next((s for s in (self.name if where is None else where) if s.id == sid), None)


_NAMES = {
    "270": "a 270 eligibility inquiry",
    "271": "a 271 eligibility response",
    "276": "a 276 claim status request",
    "277": "a 277 claim status response",
    "835": "an 835 remittance advice",
    "837": "an 837 claim",
    "997": "a 997 functional acknowledgement",
    "999": "a 999 implementation acknowledgement",
}


def _check_kind_and_version(segments: list[Segment], expect: tuple[str, str]) -> None:
    """Say what the file is before judging its details: a claim sent to the eligibility
    reader, or a 4010 file, gets that answer rather than a complaint about some segment."""
    for seg in segments:
        if seg.id == "ST" and seg.get(1) != expect[1]:
            what = _NAMES.get(seg.get(1), f"an X12 {seg.get(1)} transaction")
            raise seg.error(f"This is {what}, not {_NAMES[expect[1]]}")
    isa_version, group_versions = peek_versions(segments)
    for version in group_versions:
        if version not in x279.ACCEPTED_VERSIONS:
            raise X12Error(
                f"Unsupported X12 version {version!r} (GS08): only HIPAA 5010 eligibility "
                f"transactions ({x279.VERSION}) are supported"
            )
    if isa_version != "00501":
        raise X12Error(
            f"Unsupported interchange version {isa_version!r} (ISA12): only 00501 (5010) is "
            "supported",
            position=1,
            segment_id="ISA",
        )


def _transactions(text: str, expect: tuple[str, str]) -> list[tuple[str, TransactionSet]]:
    """(ISA13, transaction set) for each transaction, after the envelope and version checks."""
    delims, segments = tokenize(text)
    ta1 = next((s for s in segments if s.id == "TA1"), None)
    if ta1 is not None and not any(s.id == "ST" for s in segments):
        raise ta1.error(
            f"The receiver rejected the interchange (TA1 acknowledgement code {ta1.get(4)!r}, "
            f"note {ta1.get(5)!r}), so there is no {expect[1]}"
        )
    _check_kind_and_version(segments, expect)
    ic = interchange_from_segments(delims, segments)
    out: list[tuple[str, TransactionSet]] = []
    for group in ic.groups:
        for txn in group.transactions:
            if txn.code != expect[1]:
                what = _NAMES.get(txn.code, f"an X12 {txn.code} transaction")
                raise X12Error(
                    f"This is {what}, not {_NAMES[expect[1]]}",
                    position=txn.position,
                    segment_id="ST",
                )
            if group.functional_id != expect[0]:
                raise X12Error(
                    f"GS01 must be {expect[0]} for a {expect[1]}, found {group.functional_id!r}",
                    position=group.position,
                    segment_id="GS",
                )
            out.append((ic.control_number, txn))
    if not out:
        raise X12Error(f"The interchange holds no {expect[1]} transaction set")
    return out


def _walk(txn: TransactionSet, kind: str) -> tuple[Segment, list[_Node]]:
    """Place each segment in its loop (see ``x279``), refusing what does not belong."""
    table = x279.LOOP_SEGMENTS_270 if kind == "270" else x279.LOOP_SEGMENTS_271
    starter = "EQ" if kind == "270" else "EB"
    segs = txn.segments
    if not segs or segs[0].id != "BHT":
        where = segs[0] if segs else None
        raise X12Error(
            f"A {kind} starts with BHT after ST",
            position=where.position if where else txn.position,
            segment_id=where.id if where else "ST",
        )
    bht = segs[0]
    roots: list[_Node] = []
    by_id: dict[str, _Node] = {}
    node: _Node | None = None
    state = ""  # header | name | benefit | related
    for seg in segs[1:]:
        if seg.id == "HL":
            if state == "related":
                raise seg.error("HL before the LE that closes the LS loop")
            node, state = _open_hl(seg, by_id, roots), "header"
            continue
        if node is None:
            raise seg.error(f"{seg.id} before the first HL (loop 2000A)")
        level = node.level
        if seg.id == "NM1" and state == "header":
            entity = seg.get(1)
            if level.code in ("22", "23") and entity != level.entity:
                raise seg.error(
                    f"NM101 must be {level.entity!r} in loop {level.name_loop} "
                    f"({level.label}), found {entity!r}"
                )
            node.name.append(seg)
            state = "name"
        elif state == "header" and seg.id in table[level.hl_loop]:
            node.header.append(seg)
        elif state == "header":
            raise seg.error(f"Loop {level.name_loop} must start with NM1 after the HL")
        elif seg.id == starter and level.benefit_loop:
            node.groups.append([seg])
            state = "benefit"
        elif state == "name" and seg.id in table[level.name_loop]:
            node.name.append(seg)
        elif state == "benefit" and seg.id == "LS":
            node.groups[-1].append(seg)
            state = "related"
        elif state == "related" and seg.id == "LE":
            node.groups[-1].append(seg)
            state = "benefit"
        elif (state == "related" and seg.id in x279.RELATED_ENTITY_SEGMENTS) or (
            state == "benefit" and seg.id in table[level.benefit_loop] and seg.id != "LE"
        ):
            node.groups[-1].append(seg)
        else:
            loop = {
                "name": level.name_loop,
                "benefit": level.benefit_loop,
                "related": level.benefit_loop.replace("2110", "2120"),
            }[state]
            raise seg.error(f"{seg.id} is not expected here, in loop {loop} of a {kind}")
    if state == "related":
        raise X12Error(f"A {kind} ends inside an LS loop (no LE)")
    for n in by_id.values():
        if not n.name:
            raise n.hl.error(f"Loop {n.level.hl_loop} has no NM1 (loop {n.level.name_loop})")
    if not roots:
        raise bht.error(f"A {kind} holds at least one HL (loop 2000A); this one has none")
    return bht, roots


def _open_hl(seg: Segment, by_id: dict[str, _Node], roots: list[_Node]) -> _Node:
    hl_id, parent_id, code = seg.get(1), seg.get(2), seg.get(3)
    level = x279.LEVELS.get(code)
    if level is None:
        raise seg.error(f"HL03 level code {code!r} is not one of 20, 21, 22, 23")
    if not hl_id or hl_id in by_id:
        raise seg.error(f"HL01 must be a new id, found {hl_id!r}")
    if hl_id != str(len(by_id) + 1):
        raise seg.error(f"HL01 must count up from 1: expected {len(by_id) + 1}, found {hl_id}")
    want = x279.PARENT_LEVEL[code]
    parent = by_id.get(parent_id) if parent_id else None
    if want and (parent is None or parent.level.code != want):
        wanted = x279.LEVELS[want]
        raise seg.error(
            f"HL*{hl_id} ({level.label}) must point to an HL of the {wanted.label} "
            f"level (HL02), found {parent_id!r}"
        )
    if not want and parent_id:
        raise seg.error("The information source HL (level 20) has no parent")
    node = _Node(level, seg, parent)
    by_id[hl_id] = node
    (parent.children if parent else roots).append(node)
    return node


def _date(seg: Segment, n: int, fmt_at: int | None = None) -> date:
    raw = seg.get(n)
    if fmt_at is not None and seg.get(fmt_at) not in ("D8", ""):
        raise seg.error(f"Only D8 dates are read here; {seg.id}0{fmt_at} is {seg.get(fmt_at)!r}")
    try:
        return datetime.strptime(raw, "%Y%m%d").date()
    except ValueError:
        raise seg.error(f"{seg.id}{n:02d} {raw!r} is not a date (CCYYMMDD)") from None


def _member(node: _Node) -> Member:
    nm1 = node.first("NM1")
    assert nm1 is not None
    dmg = node.first("DMG")
    birth, gender = None, ""
    if dmg is not None and dmg.get(2):
        birth = _date(dmg, 2, 1)
        gender = dmg.get(3)
    member_id = nm1.get(9) if nm1.get(8) in ("MI", "II", "") else ""
    return Member(nm1.get(3), nm1.get(4), member_id, birth, gender, nm1.get(5))


def _entity(node: _Node | None) -> tuple[str, str]:
    if node is None:
        return "", ""
    nm1 = node.first("NM1")
    if nm1 is None:
        return "", ""
    name = nm1.get(3) if nm1.get(2) != "1" else " ".join(p for p in (nm1.get(4), nm1.get(3)) if p)
    return name, nm1.get(9)


def _members(roots: list[_Node]) -> list[tuple[_Node, _Node, _Node]]:
    """(source, receiver, member) for every subscriber and dependent."""
    out = []
    for source in roots:
        for receiver in source.children:
            for sub in receiver.children:
                out.append((source, receiver, sub))
                out.extend((source, receiver, dep) for dep in sub.children)
    return out


# ----------------------------------------------------------------------------- parse 270


def parse_270(text: str) -> list[EligibilityInquiry]:
    """Every inquiry in a 270: one per subscriber or dependent that asks (EQ)."""
    out: list[EligibilityInquiry] = []
    for _control, txn in _transactions(text, x279.INQUIRY):
        bht, roots = _walk(txn, "270")
        for source, receiver, node in _members(roots):
            if not node.groups:
                if not node.children:
                    raise node.hl.error(f"The {node.level.label} loop asks nothing (no EQ)")
                continue
            payer_name, payer_id = _entity(source)
            nm1 = receiver.first("NM1")
            assert nm1 is not None
            first = nm1.get(4) if nm1.get(2) == "1" else ""
            if node.level.code == "23":
                assert node.parent is not None
                subscriber, dependent = _member(node.parent), _member(node)
            else:
                subscriber, dependent = _member(node), None
            service_types: list[str] = []
            for group in node.groups:
                service_types += group[0].repeats(1)
            when = node.first("DTP")
            service_date = None
            if when is not None and when.get(1) == "291" and when.get(2) == "D8":
                service_date = _date(when, 3)
            trn = node.first("TRN", node.header)
            out.append(
                EligibilityInquiry(
                    payer_name=payer_name,
                    payer_id=payer_id,
                    provider_name=nm1.get(3),
                    provider_npi=nm1.get(9),
                    subscriber=subscriber,
                    dependent=dependent,
                    service_types=tuple(service_types),
                    service_date=service_date,
                    trace_number=trn.get(2) if trn else "",
                    trace_originator=trn.get(3) if trn else "",
                    provider_first_name=first,
                    reference=bht.get(3),
                )
            )
    return out


# ----------------------------------------------------------------------------- parse 271


def _aaa(seg: Segment, loop: str) -> RequestError:
    if not seg.get(3):
        raise seg.error("AAA03 (reject reason) is missing")
    return RequestError(loop, seg.get(3), seg.get(4), seg.get(1) != "N")


def _decimal(seg: Segment, n: int) -> Decimal | None:
    raw = seg.get(n)
    if not raw:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise seg.error(f"{seg.id}{n:02d} {raw!r} is not a number") from None


def _benefit(group: list[Segment], loop: str) -> Benefit:
    eb = group[0]
    if not eb.get(1):
        raise eb.error("EB01 (eligibility or benefit information) is missing")
    b = Benefit(
        code=eb.get(1),
        coverage_level=eb.get(2),
        service_types=tuple(eb.repeats(3)),
        insurance_type=eb.get(4),
        plan=eb.get(5),
        time_period=eb.get(6),
        amount=_decimal(eb, 7),
        percent=_decimal(eb, 8),
        quantity_qualifier=eb.get(9),
        quantity=_decimal(eb, 10),
        authorization_required=eb.get(11),
        network=eb.get(12),
    )
    inside = False
    for seg in group[1:]:
        if seg.id == "LS":
            inside = True
        elif seg.id == "LE":
            inside = False
        elif inside:
            continue
        elif seg.id == "MSG" and seg.get(1):
            b.messages.append(seg.get(1))
        elif seg.id == "DTP":
            b.dates.append((seg.get(1), seg.get(3)))
        elif seg.id == "AAA":
            b.errors.append(_aaa(seg, loop))
    return b


def parse_271(text: str) -> list[EligibilityResult]:
    """Every subscriber's and dependent's answer in a 271 (see ``EligibilityResult``)."""
    results: list[EligibilityResult] = []
    for control, txn in _transactions(text, x279.RESPONSE):
        bht, roots = _walk(txn, "271")
        for source in roots:
            upper = [_aaa(s, "2000A") for s in source.header if s.id == "AAA"]
            upper += [_aaa(s, "2100A") for s in source.name if s.id == "AAA"]
            payer_name, payer_id = _entity(source)
            receivers = source.children or [None]
            for receiver in receivers:
                errors = list(upper)
                if receiver is not None:
                    errors += [_aaa(s, "2100B") for s in receiver.name if s.id == "AAA"]
                provider_name, provider_id = _entity(receiver)
                common = dict(
                    payer_name=payer_name,
                    payer_id=payer_id,
                    provider_name=provider_name,
                    provider_id=provider_id,
                    reference=bht.get(3),
                    control_number=control,
                )
                members = []
                for sub in receiver.children if receiver else []:
                    members.append(sub)
                    members.extend(sub.children)
                found = [r for n in members if (r := _result(n, errors, common)) is not None]
                if not found:
                    level = "provider" if receiver is not None else "payer"
                    found = [EligibilityResult(level=level, errors=errors, **common)]
                results.extend(found)
    return results


def _result(node: _Node, errors: list[RequestError], common: dict) -> EligibilityResult | None:
    loop = node.level.name_loop
    own = [_aaa(s, loop) for s in node.name if s.id == "AAA"]
    if node.children and not node.groups and not own:
        return None  # a subscriber that only introduces dependents
    dependent = node.level.code == "23"
    result = EligibilityResult(
        level="dependent" if dependent else "subscriber",
        member=_member(node),
        errors=[*errors, *own],
        **common,
    )
    if dependent and node.parent is not None:
        result.subscriber_id = _member(node.parent).member_id
    else:
        result.subscriber_id = result.member.member_id
    result.trace_numbers = [s.get(2) for s in node.header if s.id == "TRN" and s.get(1) == "2"]
    result.references = [(s.get(1), s.get(2), s.get(3)) for s in node.name if s.id == "REF"]
    result.dates = [(s.get(1), s.get(3)) for s in node.name if s.id == "DTP"]
    for group in node.groups:
        benefit = _benefit(group, node.level.benefit_loop)
        result.benefits.append(benefit)
        result.errors.extend(benefit.errors)
    return result


# ----------------------------------------------------------------------------- build 271


@dataclass(slots=True)
class EligibilityReply:
    """What a payer answers to one inquiry (for ``build_271``; used by the simulator)."""

    inquiry: EligibilityInquiry
    payer_errors: list[RequestError] = field(default_factory=list)  # 2100A
    provider_errors: list[RequestError] = field(default_factory=list)  # 2100B
    member_errors: list[RequestError] = field(default_factory=list)  # 2100C/D
    benefits: list[Benefit] = field(default_factory=list)
    plan_number: str = ""
    plan_name: str = ""
    group_number: str = ""
    group_name: str = ""
    plan_begin: date | None = None
    plan_end: date | None = None


def _number(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def _aaa_elements(e: RequestError) -> Elements:
    return ["Y" if e.valid_request else "N", "", e.reason_code, e.follow_up_code]


def _eb(b: Benefit) -> list[tuple[str, Elements]]:
    elements: list[str | Sequence[str]] = [
        b.code, b.coverage_level, list(b.service_types), b.insurance_type, clean(b.plan),
        b.time_period, _number(b.amount), _number(b.percent), b.quantity_qualifier,
        _number(b.quantity), b.authorization_required, b.network,
    ]  # fmt: skip
    out: list[tuple[str, Elements]] = [("EB", elements)]
    out += [("DTP", [q, "D8" if "-" not in v else "RD8", v]) for q, v in b.dates]
    out += [("AAA", _aaa_elements(e)) for e in b.errors]
    out += [("MSG", [clean(m, upper=False)[:264]]) for m in b.messages]
    return out


def build_271(
    reply: EligibilityReply,
    sender_id: str,
    receiver_id: str,
    control_number: int,
    now: datetime,
    *,
    usage: str = "P",
    line_breaks: bool = False,
) -> str:
    """The 271 answering one inquiry.

    A payer-level error (2100A AAA) still echoes the provider and member loops, without
    benefits; a provider-level error (2100B AAA) ends the response after 2100B, as in the
    guide's example; member errors go in 2100C/D."""
    q = reply.inquiry
    # BHT03 echoes the inquiry's reference; the guide requires one.
    reference = clean(q.reference or q.trace_number, upper=False) or f"{control_number:09d}"
    body: list[tuple[str, Elements]] = [
        ("BHT", ["0022", "11", reference[:50], _d8(now), now.strftime("%H%M")]),
        ("HL", ["1", "", "20", "1"]),
        (
            "NM1",
            [
                "PR",
                "2",
                clean(q.payer_name)[:60],
                "",
                "",
                "",
                "",
                "PI",
                clean(q.payer_id, upper=False),
            ],
        ),
    ]
    body += [("AAA", _aaa_elements(e)) for e in reply.payer_errors]
    body.append(("HL", ["2", "1", "21", "1"]))
    body.append(_provider_nm1(q.provider_name, q.provider_first_name, q.provider_npi))
    body += [("AAA", _aaa_elements(e)) for e in reply.provider_errors]
    if not reply.provider_errors:
        body += _member_part(reply)
    return write_interchange(
        functional_id=x279.RESPONSE[0],
        version=x279.VERSION,
        transaction_code=x279.RESPONSE[1],
        bodies=[body],
        sender_id=sender_id,
        receiver_id=receiver_id,
        control_number=control_number,
        now=now,
        usage=usage,
        line_breaks=line_breaks,
    )


def _member_part(reply: EligibilityReply) -> list[tuple[str, Elements]]:
    q = reply.inquiry
    out: list[tuple[str, Elements]] = []
    trn: tuple[str, Elements] | None = None
    if q.trace_number and q.trace_originator:
        trn = ("TRN", ["2", clean(q.trace_number, upper=False)[:50], q.trace_originator])
    out.append(("HL", ["3", "2", "22", "1" if q.dependent else "0"]))
    patient_part: list[tuple[str, Elements]] = []
    if q.dependent is not None:
        out += _member_segments(q.subscriber, "IL", with_id=True)
        out.append(("HL", ["4", "3", "23", "0"]))
        patient = _member_segments(q.dependent, "03", with_id=False)
    else:
        patient = _member_segments(q.subscriber, "IL", with_id=True)
    if trn is not None:
        out.append(trn)
    patient_part.append(patient[0])  # NM1
    for qual, value, desc in (
        ("18", reply.plan_number, reply.plan_name),
        ("6P", reply.group_number, reply.group_name),
    ):
        if value:
            patient_part.append(("REF", [qual, clean(value, upper=False), clean(desc)[:80]]))
    patient_part += [("AAA", _aaa_elements(e)) for e in reply.member_errors]
    patient_part += patient[1:]  # DMG
    if not reply.member_errors and not reply.payer_errors:
        if reply.plan_begin is not None:
            patient_part.append(("DTP", ["346", "D8", _d8(reply.plan_begin)]))
        if reply.plan_end is not None:
            patient_part.append(("DTP", ["347", "D8", _d8(reply.plan_end)]))
        for b in reply.benefits:
            patient_part += _eb(b)
    return out + patient_part


__all__ = [
    "Benefit",
    "Delimiters",
    "EligibilityInquiry",
    "EligibilityReply",
    "EligibilityResult",
    "Member",
    "RequestError",
    "X12Error",
    "build_270",
    "build_271",
    "check_inquiry",
    "parse_270",
    "parse_271",
]
