"""Registration form data <-> FHIR resources (US Core 6.1 Patient, RelatedPerson, Observation).

Where USCDI elements go:
- legal name ``name[use=official]``, preferred ``name[use=usual]``, previous ``name[use=old]``
  with ``period.end``;
- sex at birth, gender identity, race, ethnicity: the US Core extensions; pronouns: the core
  ``individual-pronouns`` extension with LOINC LL5144-2 answers;
- sexual orientation: an Observation (LOINC 76690-7, US Core sexual-orientation profile), not
  the Patient: it is a dated answer that may change;
- language: ``communication`` (BCP-47, preferred); contact preferences: ``telecom.rank`` for the
  preferred channel plus the local ``contact-preference`` extension (method, voicemail, text);
- emergency contacts: ``Patient.contact`` (v2-0131 ``C`` + v3 RoleCode relationship);
- guarantor: a RelatedPerson with v3 RoleClass ``GUAR`` (an Account can point at it later);
- primary care provider: ``generalPractitioner``.

On an edit, only what the form shows is replaced: other names, telecoms, addresses,
contacts and extensions already on the record are kept.
"""

from __future__ import annotations

import datetime as dt

from ehr.registration import codes
from ehr.registration.banner import extension, format_date
from ehr.registration.matching import format_phone

_FORM_EXTENSIONS = {
    codes.RACE_URL,
    codes.ETHNICITY_URL,
    codes.BIRTHSEX_URL,
    codes.GENDER_IDENTITY_URL,
    codes.PRONOUNS_URL,
    codes.CONTACT_PREF_URL,
}
# Detailed CDC codes and the OMB category each rolls up to.
RACE_ROLLUP = {
    "1004-1": "1002-5", "1735-0": "1002-5",
    "2029-7": "2028-9", "2034-7": "2028-9", "2036-2": "2028-9", "2039-6": "2028-9",
    "2040-4": "2028-9", "2047-9": "2028-9",
    "2058-6": "2054-5", "2060-2": "2054-5", "2071-9": "2054-5",
    "2079-2": "2076-8", "2086-7": "2076-8", "2080-0": "2076-8",
    "2108-9": "2106-3", "2118-8": "2106-3",
}  # fmt: skip


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _race_extension(omb: list[str], detailed: list[str]) -> dict | None:
    if not omb and not detailed:
        return None
    categories = list(dict.fromkeys([*omb, *(RACE_ROLLUP[c] for c in detailed)]))
    null = [c for c in categories if c in ("ASKU", "UNK")]
    if null and len(categories) > 1:
        categories = [c for c in categories if c not in ("ASKU", "UNK")]
    names = dict(codes.OMB_RACE + [codes.RACE_DECLINED, codes.RACE_UNKNOWN])
    detail_names = dict(codes.DETAILED_RACE)
    parts: list[dict] = []
    for c in categories:
        system = codes.NULL_FLAVOR if c in ("ASKU", "UNK") else codes.CDC_RACE
        parts.append({"url": "ombCategory", "valueCoding": codes.coding(system, c, names[c])})
    for c in detailed:
        parts.append(
            {"url": "detailed", "valueCoding": codes.coding(codes.CDC_RACE, c, detail_names[c])}
        )
    text = ", ".join([names[c] for c in categories])
    if detailed:
        text += " (" + ", ".join(detail_names[c] for c in detailed) + ")"
    parts.append({"url": "text", "valueString": text})
    return {"url": codes.RACE_URL, "extension": parts}


def _ethnicity_extension(omb: str, detailed: list[str]) -> dict | None:
    if not omb and not detailed:
        return None
    if not omb or (detailed and omb != "2135-2"):
        omb = "2135-2"
    names = dict(codes.OMB_ETHNICITY + [codes.RACE_DECLINED, codes.RACE_UNKNOWN])
    detail_names = dict(codes.DETAILED_ETHNICITY)
    system = codes.NULL_FLAVOR if omb in ("ASKU", "UNK") else codes.CDC_RACE
    parts: list[dict] = [
        {"url": "ombCategory", "valueCoding": codes.coding(system, omb, names[omb])}
    ]
    for c in detailed:
        parts.append(
            {"url": "detailed", "valueCoding": codes.coding(codes.CDC_RACE, c, detail_names[c])}
        )
    text = names[omb] + (
        " (" + ", ".join(detail_names[c] for c in detailed) + ")" if detailed else ""
    )
    parts.append({"url": "text", "valueString": text})
    return {"url": codes.ETHNICITY_URL, "extension": parts}


def _concept(options: list[tuple[str, str, str]], code: str) -> dict | None:
    found = codes.triple(options, code)
    if not found:
        return None
    system, c, display = found
    return {"coding": [codes.coding(system, c, display)], "text": display}


def _address(use: str, line1: str, line2: str, city: str, state: str, postal: str,
             start: dt.date | None, end: dt.date | None) -> dict | None:  # fmt: skip
    if not (line1 or city or postal):
        return None
    out: dict = {"use": use, "type": "both" if use != "billing" else "postal"}
    if use == "billing":
        out["use"] = "billing"
    lines = [x for x in (line1, line2) if x]
    if lines:
        out["line"] = lines
    if city:
        out["city"] = city
    if state:
        out["state"] = state
    if postal:
        out["postalCode"] = postal
    out["country"] = "US"
    period = {k: v for k, v in (("start", _iso(start)), ("end", _iso(end))) if v}
    if period:
        out["period"] = period
    return out


def _human(family: str, given: str) -> dict:
    out: dict = {}
    if family:
        out["family"] = family
    if given:
        out["given"] = [given]
    return out


def _relationship_concept(code: str) -> dict:
    return {
        "coding": [codes.coding(codes.ROLE_CODE, code, codes.display_of(codes.RELATIONSHIPS, code))]
    }


def patient_from_form(data: dict, existing: dict | None, *, mrn: str | None = None) -> dict:
    """The Patient the form describes, merged over ``existing`` on an edit."""
    patient: dict = dict(existing) if existing else {"resourceType": "Patient", "active": True}
    meta = dict(patient.get("meta") or {})
    profiles = list(meta.get("profile") or [])
    if codes.US_CORE_PATIENT not in profiles:
        profiles.append(codes.US_CORE_PATIENT)
    patient["meta"] = {"profile": profiles}
    if mrn:
        patient["identifier"] = [
            {
                "use": "usual",
                "type": {
                    "coding": [codes.coding(codes.ID_TYPE, "MR", "Medical record number")],
                    "text": "MRN",
                },
                "system": codes.MRN_SYSTEM,
                "value": mrn,
            }
        ] + [i for i in patient.get("identifier") or [] if i.get("system") != codes.MRN_SYSTEM]

    # names: official, usual (preferred), one old; any further old names are kept
    official = _human(data["family"], data["given"])
    if data.get("middle"):
        official.setdefault("given", []).append(data["middle"])
    if data.get("suffix"):
        official["suffix"] = [data["suffix"]]
    names = [{"use": "official", **official}]
    if data.get("preferred"):
        names.append({"use": "usual", "given": [data["preferred"]]})
    if data.get("prev_family") or data.get("prev_given"):
        old = {"use": "old", **_human(data.get("prev_family", ""), data.get("prev_given", ""))}
        if data.get("prev_until"):
            old["period"] = {"end": _iso(data["prev_until"])}
        names.append(old)
    kept_old = [n for n in (existing or {}).get("name", []) if n.get("use") == "old"][1:]
    patient["name"] = names + kept_old

    patient["gender"] = data["gender"]
    patient["birthDate"] = _iso(data["birth_date"])

    # telecom: three phones and an email; the preferred channel gets rank 1
    method = data.get("contact_method") or ""
    telecom: list[dict] = []
    for use, key in (("mobile", "phone_mobile"), ("home", "phone_home"), ("work", "phone_work")):
        if data.get(key):
            t = {"system": "phone", "value": format_phone(data[key]), "use": use}
            if method == use or (method == "sms" and use == "mobile"):
                t["rank"] = 1
            telecom.append(t)
    if data.get("email"):
        t = {"system": "email", "value": data["email"], "use": "home"}
        if method == "email":
            t["rank"] = 1
        telecom.append(t)
    managed = {("phone", "mobile"), ("phone", "home"), ("phone", "work"), ("email", "home")}
    telecom += [
        t
        for t in (existing or {}).get("telecom", [])
        if (t.get("system"), t.get("use")) not in managed
    ]
    if telecom:
        patient["telecom"] = telecom
    else:
        patient.pop("telecom", None)

    addresses = [
        a
        for a in (
            _address(
                "home",
                data.get("addr1_line1", ""),
                data.get("addr1_line2", ""),
                data.get("addr1_city", ""),
                data.get("addr1_state", ""),
                data.get("addr1_postal", ""),
                data.get("addr1_since"),
                None,
            ),
            _address(
                data.get("addr2_use") or "",
                data.get("addr2_line1", ""),
                "",
                data.get("addr2_city", ""),
                data.get("addr2_state", ""),
                data.get("addr2_postal", ""),
                data.get("addr2_start"),
                data.get("addr2_end"),
            )
            if data.get("addr2_use")
            else None,
        )  # fmt: skip
        if a
    ]
    addresses += ((existing or {}).get("address") or [])[2:]
    if addresses:
        patient["address"] = addresses
    else:
        patient.pop("address", None)

    contacts = []
    for n in ("ec1", "ec2"):
        if not (data.get(f"{n}_family") or data.get(f"{n}_given")):
            continue
        rel = data.get(f"{n}_relationship") or ""
        contact: dict = {
            "relationship": [
                {"coding": [codes.coding(codes.CONTACT_ROLE, "C", "Emergency Contact")]},
                _relationship_concept(rel),
            ],
            "name": _human(data.get(f"{n}_family", ""), data.get(f"{n}_given", "")),
        }
        if data.get(f"{n}_phone"):
            contact["telecom"] = [
                {"system": "phone", "value": format_phone(data[f"{n}_phone"]), "use": "mobile"}
            ]
        contacts.append(contact)
    contacts += [c for c in (existing or {}).get("contact", []) if not _is_emergency(c)]
    if contacts:
        patient["contact"] = contacts
    else:
        patient.pop("contact", None)

    if data.get("language"):
        lang = data["language"]
        name = codes.display_of(codes.LANGUAGES, lang)
        patient["communication"] = [
            {
                "language": {"coding": [codes.coding(codes.BCP47, lang, name)], "text": name},
                "preferred": True,
            }
        ]
    else:
        patient.pop("communication", None)

    if data.get("pcp"):
        patient["generalPractitioner"] = [{"reference": f"Practitioner/{data['pcp']}"}]
    else:
        patient.pop("generalPractitioner", None)

    exts = [e for e in patient.get("extension") or [] if e.get("url") not in _FORM_EXTENSIONS]
    race = _race_extension(data.get("race") or [], data.get("race_detailed") or [])
    eth = _ethnicity_extension(data.get("ethnicity") or "", data.get("ethnicity_detailed") or [])
    exts += [e for e in (race, eth) if e]
    if data.get("birth_sex"):
        exts.append({"url": codes.BIRTHSEX_URL, "valueCode": data["birth_sex"]})
    gi = _concept(codes.GENDER_IDENTITY, data.get("gender_identity") or "")
    if gi:
        exts.append({"url": codes.GENDER_IDENTITY_URL, "valueCodeableConcept": gi})
    if data.get("pronouns"):
        display = codes.display_of(codes.PRONOUNS, data["pronouns"])
        exts.append(
            {
                "url": codes.PRONOUNS_URL,
                "extension": [
                    {
                        "url": "value",
                        "valueCodeableConcept": {
                            "coding": [codes.coding(codes.LOINC, data["pronouns"], display)],
                            "text": display,
                        },
                    }
                ],
            }
        )
    pref = []
    if method:
        pref.append({"url": "method", "valueCode": method})
    pref.append({"url": "voicemail", "valueBoolean": bool(data.get("voicemail_ok"))})
    pref.append({"url": "text", "valueBoolean": bool(data.get("text_ok"))})
    if data.get("interpreter"):
        pref.append({"url": "interpreter", "valueBoolean": True})
    exts.append({"url": codes.CONTACT_PREF_URL, "extension": pref})
    patient["extension"] = exts
    return patient


def _is_emergency(contact: dict) -> bool:
    return any(
        c.get("code") == "C" and c.get("system") == codes.CONTACT_ROLE
        for r in contact.get("relationship") or []
        for c in r.get("coding") or []
    )


def guarantor_from_form(data: dict, patient_id: str, existing: dict | None) -> dict | None:
    if data.get("guarantor") != "other":
        return None
    rp: dict = dict(existing) if existing else {"resourceType": "RelatedPerson"}
    rp["meta"] = {"profile": [codes.US_CORE_RELATED]}
    rp["active"] = True
    rp["patient"] = {"reference": f"Patient/{patient_id}"}
    rp["relationship"] = [
        {"coding": [codes.coding(codes.ROLE_CLASS, "GUAR", "guarantor")], "text": "Guarantor"},
        _relationship_concept(data.get("g_relationship") or ""),
    ]
    rp["name"] = [{"use": "official", **_human(data.get("g_family", ""), data.get("g_given", ""))}]
    if data.get("g_birth"):
        rp["birthDate"] = _iso(data["g_birth"])
    if data.get("g_phone"):
        rp["telecom"] = [{"system": "phone", "value": format_phone(data["g_phone"])}]
    return rp


def is_guarantor(rp: dict) -> bool:
    return any(
        c.get("code") == "GUAR" for r in rp.get("relationship") or [] for c in r.get("coding") or []
    )


def sexual_orientation_observation(code: str, patient_id: str, when: dt.datetime) -> dict | None:
    concept = _concept(codes.SEXUAL_ORIENTATION, code)
    if concept is None:
        return None
    return {
        "resourceType": "Observation",
        "meta": {"profile": [codes.US_CORE_SEXUAL_ORIENTATION]},
        "status": "final",
        "category": [
            {
                "coding": [
                    codes.coding(
                        codes.THO + "observation-category", "social-history", "Social History"
                    )
                ]
            }
        ],
        "code": {"coding": [codes.coding(codes.LOINC, "76690-7", "Sexual orientation")]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when.isoformat(timespec="seconds"),
        "valueCodeableConcept": concept,
    }


# ---------------------------------------------------------------------------- back to the form


def _code_of(concept: dict | None) -> str:
    for c in (concept or {}).get("coding") or []:
        return c.get("code", "")
    return ""


def initial_from_patient(patient: dict, guarantor: dict | None, orientation: str) -> dict:
    """Form values (as text, as a person would type them) for editing ``patient``."""
    names = patient.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    usual = next((n for n in names if n.get("use") == "usual"), {})
    old = next((n for n in names if n.get("use") == "old"), {})
    given = official.get("given") or []
    out: dict = {
        "family": official.get("family", ""),
        "given": given[0] if given else "",
        "middle": " ".join(given[1:]),
        "suffix": " ".join(official.get("suffix") or []),
        "preferred": " ".join(usual.get("given") or []),
        "prev_family": old.get("family", ""),
        "prev_given": " ".join(old.get("given") or []),
        "prev_until": _shown((old.get("period") or {}).get("end")),
        "birth_date": _shown(patient.get("birthDate")),
        "gender": patient.get("gender", ""),
        "sexual_orientation": orientation,
    }
    bs = extension(patient, codes.BIRTHSEX_URL)
    out["birth_sex"] = (bs or {}).get("valueCode", "")
    out["gender_identity"] = _code_of(
        (extension(patient, codes.GENDER_IDENTITY_URL) or {}).get("valueCodeableConcept")
    )
    pron = extension(patient, codes.PRONOUNS_URL)
    out["pronouns"] = (
        _code_of((extension(pron, "value") or {}).get("valueCodeableConcept")) if pron else ""
    )
    race = extension(patient, codes.RACE_URL) or {}
    out["race"] = [
        e["valueCoding"]["code"] for e in race.get("extension", []) if e.get("url") == "ombCategory"
    ]
    out["race_detailed"] = [
        e["valueCoding"]["code"] for e in race.get("extension", []) if e.get("url") == "detailed"
    ]
    eth = extension(patient, codes.ETHNICITY_URL) or {}
    omb = [
        e["valueCoding"]["code"] for e in eth.get("extension", []) if e.get("url") == "ombCategory"
    ]
    out["ethnicity"] = omb[0] if omb else ""
    out["ethnicity_detailed"] = [
        e["valueCoding"]["code"] for e in eth.get("extension", []) if e.get("url") == "detailed"
    ]
    comm = next((c for c in patient.get("communication") or [] if c.get("preferred")), None)
    out["language"] = _code_of((comm or {}).get("language"))
    pref = extension(patient, codes.CONTACT_PREF_URL) or {}
    for e in pref.get("extension", []):
        if e.get("url") == "method":
            out["contact_method"] = e.get("valueCode", "")
        elif e.get("url") == "voicemail":
            out["voicemail_ok"] = e.get("valueBoolean", False)
        elif e.get("url") == "text":
            out["text_ok"] = e.get("valueBoolean", False)
        elif e.get("url") == "interpreter":
            out["interpreter"] = e.get("valueBoolean", False)
    for t in patient.get("telecom") or []:
        if t.get("system") == "phone" and t.get("use") in ("mobile", "home", "work"):
            out.setdefault(f"phone_{t['use']}", t.get("value", ""))
        elif t.get("system") == "email":
            out.setdefault("email", t.get("value", ""))
    addresses = patient.get("address") or []
    if addresses:
        a = addresses[0]
        lines = a.get("line") or []
        out.update(
            addr1_line1=lines[0] if lines else "",
            addr1_line2=" ".join(lines[1:]),
            addr1_city=a.get("city", ""),
            addr1_state=a.get("state", ""),
            addr1_postal=a.get("postalCode", ""),
            addr1_since=_shown((a.get("period") or {}).get("start")),
        )
    if len(addresses) > 1:
        a = addresses[1]
        out.update(
            addr2_use=a.get("use", "temp") if a.get("use") != "home" else "temp",
            addr2_line1=" ".join(a.get("line") or []),
            addr2_city=a.get("city", ""),
            addr2_state=a.get("state", ""),
            addr2_postal=a.get("postalCode", ""),
            addr2_start=_shown((a.get("period") or {}).get("start")),
            addr2_end=_shown((a.get("period") or {}).get("end")),
        )
    emergency = [c for c in patient.get("contact") or [] if _is_emergency(c)]
    for n, c in zip(("ec1", "ec2"), emergency, strict=False):
        rel = next(
            (
                x.get("code")
                for r in c.get("relationship") or []
                for x in r.get("coding") or []
                if x.get("system") == codes.ROLE_CODE
            ),
            "",
        )
        phones = [t.get("value") for t in c.get("telecom") or [] if t.get("system") == "phone"]
        out.update(
            {
                f"{n}_family": (c.get("name") or {}).get("family", ""),
                f"{n}_given": " ".join((c.get("name") or {}).get("given") or []),
                f"{n}_relationship": rel,
                f"{n}_phone": phones[0] if phones else "",
            }
        )
    gps = patient.get("generalPractitioner") or []
    out["pcp"] = gps[0]["reference"].split("/")[-1] if gps and gps[0].get("reference") else ""
    if guarantor:
        gname = (guarantor.get("name") or [{}])[0]
        rel = next(
            (
                x.get("code")
                for r in guarantor.get("relationship") or []
                for x in r.get("coding") or []
                if x.get("system") == codes.ROLE_CODE
            ),
            "",
        )
        out.update(
            guarantor="other",
            g_family=gname.get("family", ""),
            g_given=" ".join(gname.get("given") or []),
            g_relationship=rel,
            g_birth=_shown(guarantor.get("birthDate")),
            g_phone=next((t.get("value", "") for t in guarantor.get("telecom") or []), ""),
        )
    else:
        out["guarantor"] = "self"
    return out


def _shown(value: str | None) -> str:
    return format_date(value) if value else ""
