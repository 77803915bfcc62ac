"""Check a Coverage's eligibility: build the 270, send it, read the 271, store the answer.

Everything is read and written through the repository, under the caller's access policy.
The clearinghouse is called outside any database transaction; the request, the response and
the raw exchange are then stored together in one. Every failure after the Coverage is found
(missing data, transport, an unreadable 271, an AAA rejection) ends as a stored
CoverageEligibilityResponse with outcome ``error`` and a readable message.

The raw 270 and 271 are kept as a DocumentReference (two ``application/edi-x12``
attachments, ``context.related`` pointing at the request and the response), so they sit in
the patient's record under the same access rules. A role that may not create
DocumentReference (the billing role, by default) still gets its check stored, without them.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings

from ehr.eligibility.clearinghouse import Clearinghouse, ClearinghouseError, get_clearinghouse
from ehr.fhir import access
from ehr.fhir.errors import FhirError, NotFound
from ehr.fhir.search import engine
from ehr.fhir.storage import repository
from ehr.fhir.storage.db import atomic
from ehr.formats.x12 import x279
from ehr.formats.x12.eligibility import (
    Benefit,
    EligibilityInquiry,
    EligibilityResult,
    Member,
    build_270,
    check_inquiry,
    parse_271,
)
from ehr.formats.x12.tokens import X12Error

log = logging.getLogger(__name__)

NPI = "http://hl7.org/fhir/sid/us-npi"
BASE = "http://ehr.example.org/fhir"
SERVICE_TYPE_SYSTEM = "https://x12.org/codes/service-type-codes"
AAA_SYSTEM = f"{BASE}/CodeSystem/x12-aaa-reject-reason"
FAILURE_SYSTEM = f"{BASE}/CodeSystem/eligibility-failure"
TRACE_SYSTEM = f"{BASE}/sid/x12-270-trace"
BENEFIT_TYPE = "http://terminology.hl7.org/CodeSystem/benefit-type"
BENEFIT_NETWORK = "http://terminology.hl7.org/CodeSystem/benefit-network"
BENEFIT_UNIT = "http://terminology.hl7.org/CodeSystem/benefit-unit"
BENEFIT_TERM = "http://terminology.hl7.org/CodeSystem/benefit-term"
X12_CONTENT_TYPE = "application/edi-x12"

# Our benefit kinds -> (benefit-type code or None, text shown).
BENEFIT_TYPES = {
    "copay": ("copay", "copay"),
    "coinsurance": ("copay-percent", "coinsurance"),
    "deductible": ("deductible", "deductible"),
    "out_of_pocket": (None, "out-of-pocket maximum"),
}
BENEFIT_TEXTS = {text: kind for kind, (_code, text) in BENEFIT_TYPES.items()}
ANNUAL_PERIODS = {"22", "23", "24", "29"}  # service year, calendar year, year to date, remaining
LIFETIME_PERIODS = {"32", "33"}


class EligibilityError(Exception):
    """The check cannot even start (no such coverage, payer is not an organization)."""


@dataclass(frozen=True)
class Party:
    reference: str
    name: str
    npi: str = ""
    first_name: str = ""


def _ref_id(reference: str, rtype: str) -> str | None:
    prefix = f"{rtype}/"
    if reference.startswith(prefix) and "/" not in reference[len(prefix) :]:
        return reference[len(prefix) :]
    return None


def _name_parts(resource: dict) -> tuple[str, str, str]:
    """(family, first given, middle) from the official (or first) HumanName."""
    names = resource.get("name") or []
    if not names:
        return "", "", ""
    name = next((n for n in names if n.get("use") == "official"), names[0])
    given = name.get("given") or []
    return name.get("family", ""), given[0] if given else "", given[1] if len(given) > 1 else ""


def _gender(resource: dict) -> str:
    return {"male": "M", "female": "F"}.get(resource.get("gender", ""), "U")


def _birth(resource: dict) -> date | None:
    value = resource.get("birthDate", "")
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _npi_of(resource: dict) -> str:
    for ident in resource.get("identifier") or []:
        if ident.get("system") == NPI and ident.get("value"):
            return ident["value"]
    return ""


def billing_provider() -> Party | None:
    """The practice's billing provider: the first Organization with an NPI, else the first
    Practitioner with one."""
    for rtype in ("Organization", "Practitioner"):
        page = engine.run(engine.parse(rtype, [("identifier", f"{NPI}|"), ("_count", "1")]))
        for stored in page.rows:
            res = stored.resource()
            if rtype == "Organization":
                return Party(f"Organization/{stored.id}", res.get("name", ""), _npi_of(res))
            family, given, _ = _name_parts(res)
            return Party(f"Practitioner/{stored.id}", family, _npi_of(res), given)
    return None


def payer_id_of(org: dict, org_id: str) -> str:
    """The payer ID sent in NM109 (2100A): the Organization's first identifier, else its id
    in capitals without punctuation (the demo payers carry no payer ID)."""
    for ident in org.get("identifier") or []:
        if ident.get("value") and ident.get("system") != NPI:
            return ident["value"]
    return re.sub(r"[^A-Z0-9]", "", org_id.upper())[:80]


def _member_id(coverage: dict) -> str:
    for ident in coverage.get("identifier") or []:
        codes = {c.get("code") for c in (ident.get("type") or {}).get("coding") or []}
        if "MB" in codes and ident.get("value"):
            return ident["value"]
    return ""


def _relationship(coverage: dict) -> str:
    codings = (coverage.get("relationship") or {}).get("coding") or []
    return codings[0].get("code", "self") if codings else "self"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------ check


@dataclass
class _Context:
    coverage_id: str
    coverage: dict
    patient_ref: str
    payer: Party
    provider: Party | None
    inquiry: EligibilityInquiry | None
    problems: list[str]


def _context(coverage_id: str, service_types: tuple[str, ...], today: date, trace: str):
    try:
        coverage = repository.read("Coverage", coverage_id).resource()
    except NotFound as exc:
        raise EligibilityError(f"There is no coverage {coverage_id}") from exc
    patient_ref = (coverage.get("beneficiary") or {}).get("reference", "")
    patient_id = _ref_id(patient_ref, "Patient")
    if patient_id is None:
        raise EligibilityError("The coverage does not name its beneficiary (a Patient)")
    payer_ref = next(
        (
            p["reference"]
            for p in coverage.get("payor") or []
            if _ref_id(p.get("reference", ""), "Organization")
        ),
        None,
    )
    if payer_ref is None:
        raise EligibilityError(
            "The coverage's payer is not an insurance organization, so there is no one to ask"
        )
    payer_id = _ref_id(payer_ref, "Organization") or ""
    try:
        org = repository.read("Organization", payer_id).resource()
    except NotFound as exc:
        raise EligibilityError(f"The coverage's payer {payer_ref} does not exist") from exc
    payer = Party(payer_ref, org.get("name", ""), payer_id_of(org, payer_id))
    patient = repository.read("Patient", patient_id).resource()
    provider = billing_provider()
    problems: list[str] = []
    if provider is None:
        problems.append(
            "The practice has no billing provider with an NPI "
            "(an Organization or Practitioner with an identifier in " + NPI + ")."
        )
    family, given, middle = _name_parts(patient)
    beneficiary = Member(family, given, "", _birth(patient), _gender(patient), middle)
    subscriber_id = coverage.get("subscriberId") or _member_id(coverage)
    if _relationship(coverage) == "self":
        subscriber = Member(family, given, subscriber_id, beneficiary.birth_date,
                            beneficiary.gender, middle)  # fmt: skip
        dependent = None
    else:
        subscriber = _subscriber(coverage, subscriber_id)
        dependent = beneficiary
    inquiry = None
    if provider is not None:
        inquiry = EligibilityInquiry(
            payer_name=payer.name,
            payer_id=payer.npi,
            provider_name=provider.name,
            provider_npi=provider.npi,
            provider_first_name=provider.first_name,
            subscriber=subscriber,
            dependent=dependent,
            service_types=service_types,
            service_date=today,
            trace_number=trace,
            reference=trace,
        )
        problems += check_inquiry(inquiry)
    return _Context(coverage_id, coverage, patient_ref, payer, provider, inquiry, problems)


def _subscriber(coverage: dict, subscriber_id: str) -> Member:
    """The subscriber when the patient is a dependent: named if the Coverage points at them."""
    ref = (coverage.get("subscriber") or {}).get("reference", "")
    for rtype in ("Patient", "RelatedPerson"):
        rid = _ref_id(ref, rtype)
        if rid:
            try:
                res = repository.read(rtype, rid).resource()
            except FhirError:
                break
            family, given, middle = _name_parts(res)
            return Member(family, given, subscriber_id, _birth(res), _gender(res), middle)
    return Member(member_id=subscriber_id)


def check_eligibility(
    coverage_id: str,
    *,
    clearinghouse: Clearinghouse | None = None,
    service_types: tuple[str, ...] = ("30",),
    now: datetime | None = None,
) -> dict:
    """Ask the payer about a Coverage; returns the stored CoverageEligibilityResponse.

    Raises EligibilityError only when there is nothing to ask about (no such coverage, no
    payer organization); FhirError (e.g. Forbidden) when the caller's role may not do this.
    """
    now = now or _now()
    request_id, response_id = repository.new_id(), repository.new_id()
    trace = f"{now:%Y%m%d}{secrets.randbelow(10**8):08d}"
    ctx = _context(coverage_id, service_types, now.date(), trace)
    access.require("c", "CoverageEligibilityRequest")
    access.require("c", "CoverageEligibilityResponse")
    x270 = x271 = ""
    result: EligibilityResult | None = None
    failure: tuple[str, str] | None = None  # (code, message)
    if ctx.problems or ctx.inquiry is None:
        failure = ("incomplete-data", " ".join(ctx.problems))
    else:
        try:
            chooser = clearinghouse or get_clearinghouse()
            control = secrets.randbelow(10**9 - 1) + 1
            sender = getattr(settings, "EHR_X12_SENDER_ID", "") or ctx.inquiry.provider_npi
            receiver = ctx.inquiry.payer_id[:15]
            x270 = build_270(ctx.inquiry, sender[:15], receiver, control, now)
            x271 = chooser.send_270(x270)
            results = parse_271(x271)
            result = _pick(results, trace)
        except ClearinghouseError as exc:
            failure = ("transport", str(exc))
        except X12Error as exc:
            if not x270:
                failure = ("incomplete-data", str(exc))
            else:
                failure = ("unreadable-response", f"The payer's answer could not be read: {exc}")
        except Exception as exc:  # a broken adapter must not lose the check
            log.exception("Eligibility check for Coverage/%s failed", coverage_id)
            failure = ("internal", f"The check failed unexpectedly ({type(exc).__name__}).")
    request = _request_resource(ctx, now, trace)
    response = _response_resource(ctx, now, request_id, result, failure)
    with atomic():
        repository.create(request, resource_id=request_id)
        stored = repository.create(response, resource_id=response_id)
        if (x270 or x271) and access.permits("c", "DocumentReference"):
            doc = _exchange_document(ctx, now, request_id, response_id, x270, x271)
            repository.create(doc)
    return stored.resource()


def _pick(results: list[EligibilityResult], trace: str) -> EligibilityResult:
    """The result that answers our inquiry: the one echoing our trace number, else the first
    member-level one, else the first."""
    for r in results:
        if trace in r.trace_numbers:
            return r
    members = [r for r in results if r.level in ("subscriber", "dependent")]
    return (members or results)[0]


# ------------------------------------------------------------------------------ resources


def _service_concept(code: str) -> dict:
    return {
        "coding": [
            {"system": SERVICE_TYPE_SYSTEM, "code": code, "display": x279.service_type_name(code)}
        ]
    }


def _request_resource(ctx: _Context, now: datetime, trace: str) -> dict:
    types = ctx.inquiry.service_types if ctx.inquiry else ("30",)
    res: dict = {
        "resourceType": "CoverageEligibilityRequest",
        "identifier": [{"system": TRACE_SYSTEM, "value": trace}],
        "status": "active",
        "purpose": ["benefits"],
        "patient": {"reference": ctx.patient_ref},
        "servicedDate": now.date().isoformat(),
        "created": _instant(now),
        "insurer": {"reference": ctx.payer.reference, "display": ctx.payer.name},
        "insurance": [{"focal": True, "coverage": {"reference": f"Coverage/{ctx.coverage_id}"}}],
        "item": [{"category": _service_concept(code)} for code in types],
    }
    if ctx.provider is not None:
        res["provider"] = {"reference": ctx.provider.reference}
    return res


def _money(value: Decimal) -> dict:
    return {"value": float(value.quantize(Decimal("0.01"))), "currency": "USD"}


def _item_key(b: Benefit) -> tuple[str, str, str]:
    network = {"Y": "in", "N": "out"}.get(b.network, "")
    unit = {"IND": "individual", "FAM": "family"}.get(b.coverage_level, "")
    term = ""
    if b.time_period in ANNUAL_PERIODS:
        term = "annual"
    elif b.time_period in LIFETIME_PERIODS:
        term = "lifetime"
    elif b.time_period == "7":
        term = "day"
    return network, unit, term


def _items(result: EligibilityResult) -> list[dict]:
    """insurance.item[]: one per service type, network, unit and term; each holds one benefit
    per kind (copay, coinsurance, deductible, out-of-pocket). A total and its "remaining"
    (EB06 29) become allowed and used (= allowed - remaining)."""
    groups: dict[tuple[str, str, str, str], dict[str, dict]] = {}
    order: list[tuple[str, str, str, str]] = []
    for b in result.benefits:
        if b.kind not in BENEFIT_TYPES:
            continue
        for st in b.service_types or ("30",):
            key = (st, *_item_key(b))
            if key not in groups:
                groups[key] = {}
                order.append(key)
            slot = groups[key].setdefault(b.kind, {"totals": [], "remaining": None, "msgs": []})
            if b.remaining:
                slot["remaining"] = b.amount
            else:
                slot["totals"].append(b)
            slot["msgs"] += b.messages
    items = []
    for key in order:
        st, network, unit, term = key
        item: dict = {"category": _service_concept(st)}
        if network:
            item["network"] = {"coding": [{"system": BENEFIT_NETWORK, "code": network}]}
        if unit:
            item["unit"] = {"coding": [{"system": BENEFIT_UNIT, "code": unit}]}
        if term:
            item["term"] = {"coding": [{"system": BENEFIT_TERM, "code": term}]}
        benefits, notes = [], []
        for kind, slot in groups[key].items():
            benefits += _benefit_entries(kind, slot)
            notes += [m for m in slot["msgs"] if m not in notes]
        if not benefits:
            continue
        item["benefit"] = benefits
        if notes:
            item["description"] = "; ".join(notes)
        items.append(item)
    return items


def _benefit_type(kind: str) -> dict:
    code, text = BENEFIT_TYPES[kind]
    concept: dict = {"text": text}
    if code:
        concept["coding"] = [{"system": BENEFIT_TYPE, "code": code}]
    return concept


def _benefit_entries(kind: str, slot: dict) -> list[dict]:
    out = []
    remaining: Decimal | None = slot["remaining"]
    totals: list[Benefit] = slot["totals"]
    for n, b in enumerate(totals):
        entry: dict = {"type": _benefit_type(kind)}
        if b.amount is not None:
            entry["allowedMoney"] = _money(b.amount)
            if remaining is not None and n == 0:
                entry["usedMoney"] = _money(max(Decimal(0), b.amount - remaining))
        elif b.percent_value is not None:
            pct = b.percent_value
            if pct == pct.to_integral_value():
                entry["allowedUnsignedInt"] = int(pct)
            else:
                entry["allowedString"] = f"{pct}%"
        else:
            continue
        out.append(entry)
    if not out and remaining is not None:
        out.append({"type": _benefit_type(kind), "allowedString": f"{remaining:.2f} remaining"})
    return out


def _error(code: str, display: str, text: str, system: str = FAILURE_SYSTEM) -> dict:
    return {
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": text}
    }


_FAILURE_DISPLAY = {
    "incomplete-data": "Information needed for the inquiry is missing",
    "transport": "The clearinghouse could not be reached",
    "unreadable-response": "The payer's answer could not be read",
    "internal": "Unexpected failure",
}


def _response_resource(
    ctx: _Context,
    now: datetime,
    request_id: str,
    result: EligibilityResult | None,
    failure: tuple[str, str] | None,
) -> dict:
    insurance: dict = {"coverage": {"reference": f"Coverage/{ctx.coverage_id}"}}
    res: dict = {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": ["benefits"],
        "patient": {"reference": ctx.patient_ref},
        "servicedDate": now.date().isoformat(),
        "created": _instant(now),
        "request": {"reference": f"CoverageEligibilityRequest/{request_id}"},
        "outcome": "complete",
        "insurer": {"reference": ctx.payer.reference, "display": ctx.payer.name},
    }
    if ctx.provider is not None:
        res["requestor"] = {"reference": ctx.provider.reference}
    errors: list[dict] = []
    if failure is not None:
        code, message = failure
        errors.append(_error(code, _FAILURE_DISPLAY[code], message))
        res["disposition"] = message
    elif result is not None:
        errors += [_error(e.reason_code, e.reason, e.message, AAA_SYSTEM) for e in result.errors]
        if result.active is not None:
            insurance["inforce"] = result.active
        period = _period(result)
        if period:
            insurance["benefitPeriod"] = period
        if result.active:
            items = _items(result)
            if items:
                insurance["item"] = items
        res["disposition"] = _disposition(result)
    res["insurance"] = [insurance]
    if errors:
        res["error"] = errors
        res["outcome"] = "error"
    return res


def _period(result: EligibilityResult) -> dict:
    out = {}
    for qual, key in (("346", "start"), ("356", "start"), ("347", "end"), ("357", "end")):
        value = result.date_of(qual)
        if key not in out and re.fullmatch(r"\d{8}", value):
            out[key] = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return out


def _disposition(result: EligibilityResult) -> str:
    if result.errors:
        return " ".join(e.message for e in result.errors)
    plan = f" ({result.plan_name})" if result.plan_name else ""
    if result.active:
        return f"Coverage is active{plan}."
    if result.active is False:
        ended = result.date_of("347") or result.date_of("357")
        when = f" since {ended[:4]}-{ended[4:6]}-{ended[6:]}" if len(ended) == 8 else ""
        return f"Coverage is not active{when}{plan}."
    return "The payer answered without saying whether the coverage is active."


def _exchange_document(
    ctx: _Context, now: datetime, request_id: str, response_id: str, x270: str, x271: str
) -> dict:
    def attachment(text: str, title: str) -> dict:
        return {
            "contentType": X12_CONTENT_TYPE,
            "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
            "title": title,
            "creation": _instant(now),
        }

    content = []
    if x270:
        content.append({"attachment": attachment(x270, "270 eligibility inquiry")})
    if x271:
        content.append({"attachment": attachment(x271, "271 eligibility response")})
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "X12 270/271 eligibility exchange"},
        "category": [{"text": "Insurance eligibility"}],
        "subject": {"reference": ctx.patient_ref},
        "date": _instant(now),
        "description": f"Eligibility inquiry and response for Coverage/{ctx.coverage_id}",
        "content": content,
        "context": {
            "related": [
                {"reference": f"CoverageEligibilityRequest/{request_id}"},
                {"reference": f"CoverageEligibilityResponse/{response_id}"},
            ]
        },
    }


# ------------------------------------------------------------------------------ reading back


def latest_response(coverage_id: str, patient_ref: str) -> dict | None:
    """The newest stored CoverageEligibilityResponse for this coverage (R4 has no search
    parameter for the coverage, so the patient's responses are filtered here)."""
    page = engine.run(
        engine.parse(
            "CoverageEligibilityResponse",
            [("patient", patient_ref), ("_sort", "-created"), ("_count", "50")],
        )
    )
    want = f"Coverage/{coverage_id}"
    for stored in page.rows:
        res = stored.resource()
        if any(
            (i.get("coverage") or {}).get("reference") == want for i in res.get("insurance", [])
        ):
            return res
    return None


def exchange_texts(response_id: str) -> tuple[str, str] | None:
    """(270, 271) stored with a response, when the caller may read them."""
    if not access.permits("s", "DocumentReference"):
        return None
    page = engine.run(
        engine.parse(
            "DocumentReference",
            [("related", f"CoverageEligibilityResponse/{response_id}"), ("_count", "1")],
        )
    )
    for stored in page.rows:
        texts = {"270": "", "271": ""}
        for c in stored.resource().get("content", []):
            att = c.get("attachment", {})
            key = att.get("title", "")[:3]
            if key in texts and att.get("data"):
                texts[key] = base64.b64decode(att["data"]).decode("utf-8", "replace")
        return texts["270"], texts["271"]
    return None
