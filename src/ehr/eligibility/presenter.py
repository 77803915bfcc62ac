"""A stored CoverageEligibilityResponse in plain words, for the screen."""

from __future__ import annotations

from dataclasses import dataclass, field

from ehr.eligibility.service import BENEFIT_TEXTS

NETWORK_WORDS = {"in": "In network", "out": "Out of network"}
UNIT_WORDS = {"individual": "Individual", "family": "Family"}


@dataclass
class Row:
    """One line of the benefits table: a service type in one network for one unit."""

    service: str
    network: str
    unit: str
    copay: list[str] = field(default_factory=list)
    coinsurance: list[str] = field(default_factory=list)
    deductible: list[str] = field(default_factory=list)
    deductible_remaining: list[str] = field(default_factory=list)
    out_of_pocket: list[str] = field(default_factory=list)
    out_of_pocket_remaining: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Summary:
    status: str  # active | inactive | unknown | error
    headline: str
    disposition: str
    created: str
    insurer: str
    period: str
    rows: list[Row]
    errors: list[str]


def _code(concept: dict | None) -> str:
    for coding in (concept or {}).get("coding") or []:
        return coding.get("code", "")
    return ""


def _display(concept: dict | None) -> str:
    for coding in (concept or {}).get("coding") or []:
        return coding.get("display") or coding.get("code", "")
    return (concept or {}).get("text", "")


def _dollars(money: dict | None) -> str | None:
    if not money or "value" not in money:
        return None
    return f"${money['value']:,.2f}"


def _kind(benefit: dict) -> str:
    return BENEFIT_TEXTS.get((benefit.get("type") or {}).get("text", ""), "")


def _fill(row: Row, benefit: dict) -> None:
    kind = _kind(benefit)
    allowed = _dollars(benefit.get("allowedMoney"))
    if "allowedUnsignedInt" in benefit:
        allowed = f"{benefit['allowedUnsignedInt']}%"
    elif "allowedString" in benefit:
        allowed = benefit["allowedString"]
    used = benefit.get("usedMoney")
    remaining = None
    if used is not None and benefit.get("allowedMoney"):
        left = benefit["allowedMoney"]["value"] - used["value"]
        remaining = f"${left:,.2f}"
    if kind == "copay" and allowed:
        row.copay.append(allowed)
    elif kind == "coinsurance" and allowed:
        row.coinsurance.append(allowed)
    elif kind == "deductible":
        if allowed:
            row.deductible.append(allowed)
        if remaining:
            row.deductible_remaining.append(remaining)
    elif kind == "out_of_pocket":
        if allowed:
            row.out_of_pocket.append(allowed)
        if remaining:
            row.out_of_pocket_remaining.append(remaining)


def _when(instant: str) -> str:
    """``2026-11-27T14:16:45Z`` as ``27-Nov-2026 09:16`` in the practice's time zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.conf import settings

    try:
        moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    except ValueError:
        return instant
    if moment.tzinfo is None:
        return instant
    return f"{moment.astimezone(ZoneInfo(settings.EHR_TIME_ZONE)):%d-%b-%Y %H:%M}"


def summarize(response: dict) -> Summary:
    insurance = (response.get("insurance") or [{}])[0]
    errors = [
        (e.get("code") or {}).get("text") or _display(e.get("code"))
        for e in response.get("error") or []
    ]
    inforce = insurance.get("inforce")
    if response.get("outcome") == "error":
        status, headline = "error", "The payer could not answer"
    elif inforce is True:
        status, headline = "active", "Coverage is active"
    elif inforce is False:
        status, headline = "inactive", "Coverage is NOT active"
    else:
        status, headline = "unknown", "The payer did not say whether coverage is active"
    rows: dict[tuple[str, str, str], Row] = {}
    for item in insurance.get("item") or []:
        key = (
            _display(item.get("category")),
            NETWORK_WORDS.get(_code(item.get("network")), ""),
            UNIT_WORDS.get(_code(item.get("unit")), ""),
        )
        row = rows.setdefault(key, Row(*key))
        for benefit in item.get("benefit") or []:
            _fill(row, benefit)
        if item.get("description") and item["description"] not in row.notes:
            row.notes.append(item["description"])
    period = insurance.get("benefitPeriod") or {}
    span = " to ".join(p for p in (period.get("start", ""), period.get("end", "")) if p)
    return Summary(
        status=status,
        headline=headline,
        disposition=response.get("disposition", ""),
        created=_when(response.get("created", "")),
        insurer=(response.get("insurer") or {}).get("display", ""),
        period=span,
        rows=list(rows.values()),
        errors=errors,
    )
