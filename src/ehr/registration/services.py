"""Front-desk writes through the repository, each with its audit record in the same transaction.

Views call these; they never write resource tables. ``atomic()`` around the repository calls
and ``record_event`` makes every change and its audit trail land together or not at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.db.models import F

from ehr.audit.events import record_event
from ehr.fhir import access
from ehr.fhir.errors import FhirError
from ehr.fhir.search import engine
from ehr.fhir.search.engine import compartment_condition
from ehr.fhir.storage import repository
from ehr.fhir.storage.db import atomic
from ehr.registration import codes, fhirmap
from ehr.registration.matching import Match, Person, format_phone, person_of, phone_key, score
from ehr.registration.models import MrnCounter

MRN_START = 90_000_000  # registration MRNs: MRN90000001...; demo data draws 10^7..9*10^7 at random


def _search(rtype: str, params: list[tuple[str, str]]) -> list[repository.Stored]:
    return engine.run(engine.parse(rtype, params)).rows


def _audit(action: str, principal: Any, stored: repository.Stored, patient: str, detail: str = ""):
    record_event(
        action,
        principal,
        resource_type=stored.resource_type,
        resource_id=stored.id,
        patient=patient,
        detail=detail,
    )


# ---------------------------------------------------------------------------- MRN


def next_mrn() -> str:
    """The next practice MRN; call inside the registration's transaction (rolled back with it).

    Skips any number already on a patient (imported or demo records), checked by the index.
    """
    counter, _ = MrnCounter.objects.get_or_create(pk=1, defaults={"value": MRN_START})
    while True:
        MrnCounter.objects.filter(pk=1).update(value=F("value") + 1)
        counter.refresh_from_db()
        mrn = f"MRN{counter.value:08d}"
        if not engine.match_ids("Patient", [("identifier", f"{codes.MRN_SYSTEM}|{mrn}")], 1):
            return mrn


# ---------------------------------------------------------------------------- duplicates


@dataclass
class Candidate:
    id: str
    match: Match
    row: dict


def person_from_form(data: dict) -> Person:
    return Person(
        family=data.get("family") or "",
        given=data.get("given") or "",
        birth_date=data.get("birth_date") if isinstance(data.get("birth_date"), dt.date) else None,
        sex=data.get("gender") or "",
        phones=[p for p in (data.get("phone_mobile"), data.get("phone_home")) if p],
        address_line=data.get("addr1_line1") or "",
        postal_code=data.get("addr1_postal") or "",
    )


def duplicate_candidates(
    person: Person, *, exclude: str | None = None, limit: int = 5
) -> list[Candidate]:
    """Existing patients that may be ``person``: indexed, bounded candidate queries, scored.

    Candidates come from the family name (exact, then a 3-letter prefix within the birth
    year), the date of birth, the phone number and the names swapped; each query is capped.
    """
    from ehr.registration.banner import summary
    from ehr.registration.matching import POSSIBLE, name_key

    queries: list[list[tuple[str, str]]] = []
    family, given = name_key(person.family), name_key(person.given)
    if person.birth_date:
        queries.append([("birthdate", person.birth_date.isoformat())])
    if family:
        queries.append([("family", family)])
        if person.birth_date and len(family) >= 3:
            y = person.birth_date.year
            queries.append(
                [
                    ("family", family[:3]),
                    ("birthdate", f"ge{y}-01-01"),
                    ("birthdate", f"le{y}-12-31"),
                ]
            )
    if family and given:
        queries.append([("family", given), ("given", family)])
    for phone in person.phones:
        key = phone_key(phone)
        if key:
            queries.append([("phone", f"{format_phone(key)},{key}")])
    if not queries:
        return []
    seen: dict[str, dict] = {}
    for params in queries:
        try:
            rows = _search("Patient", [*params, ("_count", "50")])
        except FhirError:
            continue
        for row in rows:
            if row.id != exclude and row.id not in seen:
                seen[row.id] = row.resource()
    out = []
    for pid, patient in seen.items():
        if patient.get("active") is False:
            continue  # retired (merged) records are not duplicates to warn about
        m = score(person, person_of(patient))
        if m.score >= POSSIBLE:
            out.append(Candidate(pid, m, summary(patient, pid)))
    out.sort(key=lambda c: -c.match.score)
    return out[:limit]


# ---------------------------------------------------------------------------- registration


def _guarantor_of(patient_id: str) -> dict | None:
    if not access.permits("s", "RelatedPerson"):
        return None
    for row in _search("RelatedPerson", [("patient", patient_id), ("_count", "50")]):
        rp = row.resource()
        if fhirmap.is_guarantor(rp) and rp.get("active", True):
            return rp
    return None


def _orientation_of(patient_id: str) -> str:
    """The latest sexual orientation answer's code, or '' (also when the role cannot see it)."""
    if not access.permits("s", "Observation"):
        return ""
    rows = _search(
        "Observation",
        [("subject", f"Patient/{patient_id}"), ("code", f"{codes.LOINC}|76690-7"),
         ("_sort", "-date"), ("_count", "1")],
    )  # fmt: skip
    if not rows:
        return ""
    return fhirmap._code_of(rows[0].resource().get("valueCodeableConcept"))


def form_initial(patient_id: str) -> tuple[dict, dict]:
    """(stored Patient, initial form values) for the edit screen."""
    patient = repository.read("Patient", patient_id).resource()
    return patient, fhirmap.initial_from_patient(
        patient, _guarantor_of(patient_id), _orientation_of(patient_id)
    )


def register(data: dict, principal: Any) -> str:
    """Create the Patient, its guarantor and sexual orientation answer in one transaction."""
    with atomic():
        mrn = next_mrn()
        patient = fhirmap.patient_from_form(data, None, mrn=mrn)
        stored = repository.create(patient)
        pid = stored.id
        _audit("create", principal, stored, pid, "registration")
        _write_related(data, pid, principal, guarantor=None, orientation="")
    return pid


def update_demographics(patient_id: str, data: dict, principal: Any) -> None:
    with atomic():
        existing = repository.read("Patient", patient_id).resource()
        patient = fhirmap.patient_from_form(data, existing)
        stored, _ = repository.update("Patient", patient_id, patient)
        _audit("update", principal, stored, patient_id, "demographics")
        _write_related(
            data,
            patient_id,
            principal,
            guarantor=_guarantor_of(patient_id),
            orientation=_orientation_of(patient_id),
        )


def _write_related(
    data: dict, pid: str, principal: Any, *, guarantor: dict | None, orientation: str
) -> None:
    rp = fhirmap.guarantor_from_form(data, pid, guarantor)
    if rp is not None:
        if guarantor is not None:
            stored, _ = repository.update("RelatedPerson", rp["id"], rp)
            _audit("update", principal, stored, pid, "guarantor")
        else:
            stored = repository.create(rp)
            _audit("create", principal, stored, pid, "guarantor")
    elif guarantor is not None:  # the patient is now their own guarantor
        guarantor = {**guarantor, "active": False}
        stored, _ = repository.update("RelatedPerson", guarantor["id"], guarantor)
        _audit("update", principal, stored, pid, "guarantor ended")
    code = data.get("sexual_orientation") or ""
    if code and code != orientation:
        obs = fhirmap.sexual_orientation_observation(code, pid, dt.datetime.now(dt.UTC))
        if obs is not None:
            stored = repository.create(obs)
            _audit("create", principal, stored, pid, "sexual orientation")


def practitioners() -> list[tuple[str, str]]:
    """(id, display) of active Practitioners for the primary-care picker (bounded)."""
    from ehr.registration.banner import display_name

    if not access.permits("s", "Practitioner"):
        return []
    out = []
    for row in _search("Practitioner", [("active", "true"), ("_count", "200")]):
        res = row.resource()
        name = (res.get("name") or [{}])[0]
        given = " ".join(name.get("given") or [])
        suffix = ", " + " ".join(name.get("suffix")) if name.get("suffix") else ""
        out.append(
            (row.id, f"{name.get('family', '')}, {given}{suffix}".strip(", ") or display_name(name))
        )
    out.sort(key=lambda x: x[1].lower())
    return out


# ---------------------------------------------------------------------------- merge


@dataclass
class MergeResult:
    moved: list[tuple[str, str]]  # (type, id) rewritten to point at the target


def _replace_refs(node: Any, old: str, new: str) -> int:
    """Rewrite every ``reference`` equal to ``old`` (relative or ending in /old) in place."""
    n = 0
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and (ref == old or ref.endswith("/" + old)):
            node["reference"] = new
            n += 1
        for k, v in node.items():
            if k != "reference":
                n += _replace_refs(v, old, new)
    elif isinstance(node, list):
        for v in node:
            n += _replace_refs(v, old, new)
    return n


def referring(source_id: str) -> list[repository.Stored]:
    """Every resource in the source patient's compartment (the index the engine keeps at write
    time from the official CompartmentDefinition), found through the engine, page by page."""
    out: list[repository.Stored] = []
    req = engine.parse(None, [("_count", "500")])
    cond = compartment_condition("Patient", source_id, "Patient")
    req.extra.append(cond)
    while True:
        page = engine.run(req)
        out += [s for s in page.rows if not (s.resource_type == "Patient" and s.id == source_id)]
        if not page.has_more:
            return out
        req = engine.parse(None, [("_count", "500")])
        req.extra.append(cond)
        req.cursor = page.after


def merge(source_id: str, target_id: str, principal: Any) -> MergeResult:
    """Move every reference from the source Patient to the target, retire the source.

    The source stays readable: ``active=false`` and ``link`` ``replaced-by`` the target; the
    target gets ``link`` ``replaces`` the source. One transaction, one audit record per write.
    """
    if source_id == target_id:
        raise FhirError("Choose two different records.")
    old, new = f"Patient/{source_id}", f"Patient/{target_id}"
    moved: list[tuple[str, str]] = []
    with atomic():
        source = repository.read("Patient", source_id).resource()
        target = repository.read("Patient", target_id).resource()
        for stored in referring(source_id):
            if stored.resource_type == "Patient" and stored.id == target_id:
                continue
            res = stored.resource()
            if _replace_refs(res, old, new):
                written, _ = repository.update(stored.resource_type, stored.id, res)
                _audit("update", principal, written, target_id, f"merge: moved from {old}")
                moved.append((stored.resource_type, stored.id))
        source["active"] = False
        source["link"] = [
            link for link in source.get("link") or [] if link.get("type") != "replaced-by"
        ] + [{"other": {"reference": new}, "type": "replaced-by"}]
        written, _ = repository.update("Patient", source_id, source)
        _audit("update", principal, written, source_id, f"merge: replaced by {new}")
        target["link"] = [
            link for link in target.get("link") or []
            if (link.get("other") or {}).get("reference") != old
        ] + [{"other": {"reference": old}, "type": "replaces"}]  # fmt: skip
        written, _ = repository.update("Patient", target_id, target)
        _audit(
            "merge", principal, written, target_id, f"merged {old} into {new}; moved {len(moved)}"
        )
    return MergeResult(moved)


def resolve_patient(text: str) -> str | None:
    """A patient id from an MRN (with or without the MRN prefix) or a record id."""
    text = text.strip()
    if not text:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    tries = [text]
    if digits and text.upper().replace(" ", "").removeprefix("MRN").isdigit():
        tries = [f"MRN{digits}", text]
    for value in tries:
        ids = engine.match_ids("Patient", [("identifier", f"{codes.MRN_SYSTEM}|{value}")], 2)
        if len(ids) == 1:
            return ids[0]
    try:
        repository.check_id(text)
        return repository.read("Patient", text).id
    except FhirError:
        return None


# ---------------------------------------------------------------------------- coverage


def coverages(patient_id: str) -> list[dict]:
    """The patient's coverages, in order of benefits (active first, then by order, by start)."""
    rows = _search("Coverage", [("beneficiary", f"Patient/{patient_id}"), ("_count", "100")])
    items = [r.resource() for r in rows]
    items.sort(
        key=lambda c: (
            c.get("status") != "active",
            c.get("order") or 99,
            -(int((c.get("period") or {}).get("start", "0000")[:4] or 0)),
        )
    )
    return items


def payers() -> list[tuple[str, str]]:
    rows = _search(
        "Organization",
        [("type", f"{codes.ORG_TYPE}|pay"), ("active", "true"), ("_count", "200")],
    )
    out = [(r.id, r.resource().get("name", r.id)) for r in rows]
    out.sort(key=lambda x: x[1].lower())
    return out


def related_people(patient_id: str) -> list[tuple[str, str]]:
    rows = _search("RelatedPerson", [("patient", patient_id), ("_count", "50")])
    out = []
    for r in rows:
        res = r.resource()
        if res.get("active") is False:
            continue
        name = (res.get("name") or [{}])[0]
        out.append((r.id, f"{name.get('family', '')}, {' '.join(name.get('given') or [])}"))
    return out


def save_coverage(patient_id: str, data: dict, principal: Any, existing: dict | None = None) -> str:
    """Create or update a Coverage (and a new payer or subscriber when typed in)."""
    with atomic():
        payer_id = data.get("payer")
        payer_name = dict(payers()).get(payer_id, "") if payer_id else ""
        if not payer_id:
            org: dict = {
                "resourceType": "Organization",
                "meta": {"profile": [codes.US_CORE + "us-core-organization"]},
                "active": True,
                "type": [{"coding": [codes.coding(codes.ORG_TYPE, "pay", "Payer")]}],
                "name": data["new_payer_name"],
            }
            if data.get("new_payer_id"):
                org["identifier"] = [
                    {"system": codes.PAYER_ID_SYSTEM, "value": data["new_payer_id"]}
                ]
            stored = repository.create(org)
            _audit("create", principal, stored, patient_id, "payer added at coverage entry")
            payer_id, payer_name = stored.id, data["new_payer_name"]
        rel = data["relationship"]
        subscriber_ref = f"Patient/{patient_id}"
        if rel != "self":
            if data.get("subscriber"):
                subscriber_ref = f"RelatedPerson/{data['subscriber']}"
            else:
                rp: dict = {
                    "resourceType": "RelatedPerson",
                    "meta": {"profile": [codes.US_CORE_RELATED]},
                    "active": True,
                    "patient": {"reference": f"Patient/{patient_id}"},
                    "relationship": [
                        {
                            "coding": [codes.coding(codes.ROLE_CODE, "POLHOLD", "policy holder")],
                            "text": "Policy holder",
                        }
                    ],
                    "name": [{"family": data["sub_family"], "given": [data["sub_given"]]}],
                }
                if data.get("sub_birth"):
                    rp["birthDate"] = data["sub_birth"].isoformat()
                stored = repository.create(rp)
                _audit("create", principal, stored, patient_id, "subscriber")
                subscriber_ref = f"RelatedPerson/{stored.id}"
        kind = data["kind"]
        coverage: dict = dict(existing) if existing else {"resourceType": "Coverage"}
        coverage.update(
            {
                "meta": {"profile": [codes.US_CORE_COVERAGE]},
                "status": "active",
                "type": {
                    "coding": [
                        codes.coding(codes.SOPT, kind, codes.display_of(codes.COVERAGE_KINDS, kind))
                    ]
                },
                "subscriber": {"reference": subscriber_ref},
                "subscriberId": data.get("subscriber_id") or data["member_id"],
                "beneficiary": {"reference": f"Patient/{patient_id}"},
                "relationship": {
                    "coding": [
                        codes.coding(
                            codes.SUBSCRIBER_REL,
                            rel,
                            codes.display_of(codes.SUBSCRIBER_RELATIONSHIPS, rel),
                        )
                    ]
                },
                "payor": [{"reference": f"Organization/{payer_id}", "display": payer_name}],
                "order": int(data["order"]),
            }
        )
        coverage["identifier"] = [
            {
                "type": {"coding": [codes.coding(codes.ID_TYPE, "MB", "Member Number")]},
                "value": data["member_id"],
            }
        ]
        period = {"start": data["start"].isoformat()}
        if data.get("end"):
            period["end"] = data["end"].isoformat()
        coverage["period"] = period
        classes = []
        if data.get("group_number"):
            classes.append(
                {
                    "type": {"coding": [codes.coding(codes.COVERAGE_CLASS, "group", "Group")]},
                    "value": data["group_number"],
                }
            )
        if data.get("plan_name"):
            classes.append(
                {
                    "type": {"coding": [codes.coding(codes.COVERAGE_CLASS, "plan", "Plan")]},
                    "value": data["plan_name"][:60],
                    "name": data["plan_name"],
                }
            )
        if classes:
            coverage["class"] = classes
        else:
            coverage.pop("class", None)
        if existing:
            stored, _ = repository.update("Coverage", existing["id"], coverage)
            _audit("update", principal, stored, patient_id)
        else:
            stored = repository.create(coverage)
            _audit("create", principal, stored, patient_id)
        return stored.id


# ---------------------------------------------------------------------------- documents

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
)


def sniff(content: bytes) -> str | None:
    """The content type from the file's first bytes (the browser's claim is not trusted)."""
    for magic, ctype in _SIGNATURES:
        if content.startswith(magic):
            return ctype
    return None


def save_document(
    patient_id: str, kind: str, description: str, filename: str, content: bytes, ctype: str,
    principal: Any,
) -> str:  # fmt: skip
    """Store the file as a Binary and describe it with a DocumentReference; returns its id."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with atomic():
        binary = {
            "resourceType": "Binary",
            "contentType": ctype,
            "securityContext": {"reference": f"Patient/{patient_id}"},
            "data": base64.b64encode(content).decode("ascii"),
        }
        stored_bin = repository.create(binary)
        _audit("create", principal, stored_bin, patient_id, "document file")
        label = codes.display_of(codes.DOCUMENT_KINDS, kind)
        type_codings = [codes.coding(codes.DOC_KIND_SYSTEM, kind, label)]
        if kind in codes.DOCUMENT_LOINC:
            type_codings.insert(0, codes.coding(codes.LOINC, *codes.DOCUMENT_LOINC[kind]))
        doc: dict = {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {"coding": type_codings, "text": label},
            "category": [
                {
                    "coding": [
                        codes.coding(codes.DOC_KIND_SYSTEM, "administrative", "Administrative")
                    ],
                    "text": "Administrative",
                }
            ],
            "subject": {"reference": f"Patient/{patient_id}"},
            "date": now,
            "content": [
                {
                    "attachment": {
                        "contentType": ctype,
                        "url": f"Binary/{stored_bin.id}",
                        "size": len(content),
                        "hash": base64.b64encode(hashlib.sha1(content).digest()).decode(),
                        "title": filename[:200],
                        "creation": now,
                    }
                }
            ],
        }
        if description:
            doc["description"] = description
        fhir_user = getattr(principal, "fhir_user", None)
        if fhir_user and fhir_user.split("/")[0] in ("Practitioner", "PractitionerRole"):
            doc["author"] = [{"reference": fhir_user}]
        stored = repository.create(doc)
        _audit("create", principal, stored, patient_id, label)
        return stored.id


def documents(patient_id: str) -> list[dict]:
    rows = _search(
        "DocumentReference",
        [("subject", f"Patient/{patient_id}"), ("_sort", "-date"), ("_count", "100")],
    )
    return [r.resource() for r in rows]
