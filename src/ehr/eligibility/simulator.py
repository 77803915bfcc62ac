"""A local payer that answers 270s with realistic 271s, so the whole path runs without an
outside party. What it answers depends on the subscriber's member ID (case does not matter):

    DOWN...          payer unavailable: AAA*Y**42*R in 2100A (unable to respond now)
    NF...            unknown member: AAA*Y**75*C (subscriber/insured not found)
    BAD..., or an ID that is shorter than 3 characters or holds anything but letters, digits
    and '-'          invalid member ID: AAA*N**72*C
    INACT...         inactive coverage: EB*6, plan ended on the last day of last year
    anything else    active PPO with copays, coinsurance, deductible and out-of-pocket amounts
                     (and what remains of them) for service types 30, 98, 47, 86, UC and 88

The amounts already met depend on the member ID, so different patients show different
remaining amounts, and the same patient always the same ones.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal

from ehr.formats.x12.eligibility import (
    Benefit,
    EligibilityInquiry,
    EligibilityReply,
    RequestError,
    build_271,
    parse_270,
)
from ehr.formats.x12.envelope import parse_interchange

PLAN_NAME = "SIMULATED GOLD PPO"
GENERAL = "30"
# What a payer returns for a service type 30 inquiry (the guide's minimum set, abridged).
STANDARD_SET = ("30", "98", "47", "86", "UC", "88")
_VALID_ID = re.compile(r"^[A-Z0-9-]{3,80}$")


def _seed(member_id: str) -> int:
    return int.from_bytes(hashlib.sha256(member_id.encode()).digest()[:4], "big")


def _money(n: int) -> Decimal:
    return Decimal(n)


def _benefits(inquiry: EligibilityInquiry) -> list[Benefit]:
    member_id = inquiry.subscriber.member_id.upper()
    seed = _seed(member_id)
    met_ind = (seed % 16) * 100  # 0-1500 of the individual deductible already met
    met_fam = met_ind + (seed // 16 % 10) * 100
    oop_ind = met_ind + (seed // 160 % 20) * 50
    level = "FAM" if inquiry.dependent is not None else "IND"
    asked = list(inquiry.service_types) or [GENERAL]
    types = list(STANDARD_SET) if GENERAL in asked else []
    types += [t for t in asked if t not in types]

    out = [Benefit("1", level, tuple(types), "PR", PLAN_NAME)]

    def eb(code: str, st: str, *, period: str = "", amount: int | None = None,
           percent: str | None = None, network: str = "Y", level: str = "IND",
           messages: tuple[str, ...] = ()) -> None:  # fmt: skip
        out.append(
            Benefit(
                code,
                level,
                (st,),
                "PR",
                "",
                period,
                None if amount is None else _money(amount),
                None if percent is None else Decimal(percent),
                network=network,
                messages=list(messages),
            )  # fmt: skip
        )

    for st in types:
        if st == "30":
            eb("C", st, period="23", amount=1500)
            eb("C", st, period="29", amount=1500 - met_ind)
            eb("C", st, period="23", amount=3000, level="FAM")
            eb("C", st, period="29", amount=max(0, 3000 - met_fam), level="FAM")
            eb("C", st, period="23", amount=3000, network="N")
            eb("C", st, period="29", amount=3000 - met_ind, network="N")
            eb("G", st, period="23", amount=5000)
            eb("G", st, period="29", amount=5000 - oop_ind)
            eb("A", st, percent="0.2")
            eb("A", st, percent="0.4", network="N")
        elif st == "98":
            eb("B", st, period="27", amount=25, messages=("No copay for preventive visits",))
            eb("B", st, period="27", amount=60, network="N")
        elif st == "47":
            eb("A", st, percent="0.2", messages=("Deductible applies",))
            eb("A", st, percent="0.4", network="N", messages=("Deductible applies",))
        elif st == "86":
            eb(
                "B",
                st,
                period="27",
                amount=250,
                network="W",
                messages=("Copay waived if admitted",),
            )
        elif st == "UC":
            eb("B", st, period="27", amount=75)
            eb("B", st, period="27", amount=100, network="N")
        elif st == "88":
            eb("B", st, period="27", amount=10, messages=("Generic drugs",))
            eb("B", st, period="27", amount=40, messages=("Preferred brand drugs",))
    return out


def reply_for(inquiry: EligibilityInquiry, today: date) -> EligibilityReply:
    """The simulated payer's answer to one inquiry (see the module docstring)."""
    member_id = inquiry.subscriber.member_id.upper()
    member_loop = "2100D" if inquiry.dependent is not None else "2100C"
    reply = EligibilityReply(inquiry)
    if member_id.startswith("DOWN"):
        reply.payer_errors.append(RequestError("2100A", "42", "R"))
    elif member_id.startswith("BAD") or not _VALID_ID.match(member_id):
        reply.member_errors.append(RequestError(member_loop, "72", "C", valid_request=False))
    elif member_id.startswith("NF"):
        reply.member_errors.append(RequestError(member_loop, "75", "C"))
    else:
        seed = _seed(member_id)
        reply.group_number = f"GRP{seed % 90000 + 10000}"
        reply.group_name = "SIMULATED EMPLOYER GROUP"
        reply.plan_number = f"PPO-{seed % 900 + 100}"
        reply.plan_name = PLAN_NAME
        if member_id.startswith("INACT"):
            reply.plan_begin = date(today.year - 2, 1, 1)
            reply.plan_end = date(today.year - 1, 12, 31)
            level = "FAM" if inquiry.dependent is not None else "IND"
            reply.benefits = [
                Benefit(
                    "6",
                    level,
                    (GENERAL,),
                    "PR",
                    PLAN_NAME,
                    messages=["Coverage ended; ask the patient for current insurance"],
                )  # fmt: skip
            ]
        else:
            reply.plan_begin = date(today.year, 1, 1)
            reply.benefits = _benefits(inquiry)
    return reply


class SimulatorError(ValueError):
    """The 270 could not be read; a real payer would answer with a 999 rejection."""


def answer_270(x12_text: str, now: datetime | None = None) -> str:
    """The 271 for a 270 (the first inquiry in it). Raises SimulatorError on a bad 270."""
    from ehr.formats.x12.tokens import X12Error

    now = now or datetime.now(UTC)
    try:
        inquiries = parse_270(x12_text)
        envelope = parse_interchange(x12_text)
    except X12Error as exc:
        raise SimulatorError(f"The 270 was rejected: {exc}") from exc
    if not inquiries:
        raise SimulatorError("The 270 holds no inquiry")
    reply = reply_for(inquiries[0], now.date())
    return build_271(
        reply,
        sender_id=envelope.receiver_id or "SIMPAYER",
        receiver_id=envelope.sender_id or "SUBMITTER",
        control_number=secrets.randbelow(10**9 - 1) + 1,
        now=now,
        usage=envelope.usage if envelope.usage in ("P", "T") else "P",
    )
