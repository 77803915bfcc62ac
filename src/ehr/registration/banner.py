"""The patient banner (UX.md section 2) and the display forms it uses.

``banner_context(patient_id)`` reads the Patient (and the allergy state) through the engine
under the caller's policy and returns what ``web/_patient_banner.html`` shows. Other screens
use it as ``{% include "web/_patient_banner.html" with banner=banner %}`` in the ``banner``
block of ``web/base.html``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ehr.fhir import access
from ehr.fhir.search import engine
from ehr.fhir.storage import repository
from ehr.registration.codes import (
    BIRTHSEX_URL,
    GENDER_IDENTITY_URL,
    MRN_SYSTEM,
    PRONOUNS_URL,
)

NOT_KNOWN = "Not known"
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def format_date(value: dt.date | str | None) -> str:
    """``14-Jul-1945`` (no day/month ambiguity); partial dates as ``Jul-1945`` or ``1945``."""
    if value is None or value == "":
        return NOT_KNOWN
    if isinstance(value, str):
        parts = value[:10].split("-")
        try:
            if len(parts) == 3:
                value = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
            elif len(parts) == 2:
                return f"{_MONTHS[int(parts[1]) - 1]}-{parts[0]}"
            else:
                return parts[0]
        except (ValueError, IndexError):
            return value
    return f"{value.day:02d}-{_MONTHS[value.month - 1]}-{value.year}"


def age_text(birth: dt.date | None, today: dt.date | None = None) -> str:
    """Age as the CUI guidance writes it: ``61y``; infants in days, weeks or months."""
    if birth is None:
        return ""
    today = today or dt.date.today()
    days = (today - birth).days
    if days < 0:
        return ""
    if days < 28:
        return f"{days}d"
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    months = (today.year - birth.year) * 12 + today.month - birth.month - (today.day < birth.day)
    if months < 3:
        return f"{days // 7}w {days % 7}d"
    if years < 2:
        return f"{months}m"
    return f"{years}y"


def group_identifier(value: str) -> str:
    """Digits in groups for reading aloud: ``MRN12345678`` -> ``MRN 1234 5678``."""
    m = re.fullmatch(r"([A-Za-z]*)[\s-]*(\d+)", value or "")
    if not m:
        return value or NOT_KNOWN
    letters, num = m.groups()
    if len(num) == 10:
        groups = [num[:3], num[3:6], num[6:]]
    else:
        size = 4 if len(num) % 4 == 0 else 3
        groups = [num[i : i + size] for i in range(0, len(num), size)]
    return " ".join(([letters] if letters else []) + groups)


def official_name(patient: dict) -> dict:
    names = patient.get("name") or []
    return (
        next((n for n in names if n.get("use") == "official"), None)
        or next((n for n in names if n.get("use") not in ("old", "nickname", "usual")), None)
        or (names[0] if names else {})
    )


def display_name(name: dict) -> str:
    """``FAMILY, Given Middle (Title)`` (UX.md: family in capitals, given in title case)."""
    family = (name.get("family") or "").upper()
    given = " ".join(g[:1].upper() + g[1:] for g in name.get("given", []))
    title = " ".join(name.get("prefix", []))
    text = ", ".join(p for p in (family, given) if p) or (name.get("text") or NOT_KNOWN)
    return f"{text} ({title})" if title else text


def preferred_name(patient: dict) -> str:
    usual = next((n for n in patient.get("name") or [] if n.get("use") == "usual"), None)
    if not usual:
        return ""
    return " ".join(usual.get("given", [])) or usual.get("text", "")


def mrn_of(patient: dict) -> str:
    for ident in patient.get("identifier") or []:
        if ident.get("system") == MRN_SYSTEM:
            return ident.get("value", "")
    for ident in patient.get("identifier") or []:
        codes = [c.get("code") for c in (ident.get("type") or {}).get("coding", [])]
        if "MR" in codes:
            return ident.get("value", "")
    return ""


def birth_date(patient: dict) -> dt.date | None:
    text = patient.get("birthDate") or ""
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def extension(resource: dict, url: str) -> dict | None:
    return next((e for e in resource.get("extension") or [] if e.get("url") == url), None)


def concept_text(concept: dict | None) -> str:
    if not concept:
        return ""
    if concept.get("text"):
        return concept["text"]
    codings = concept.get("coding") or []
    return codings[0].get("display") or codings[0].get("code", "") if codings else ""


def sex_and_gender(patient: dict) -> str:
    """Administrative gender, with birth sex and gender identity where they say more."""
    gender = (patient.get("gender") or "").capitalize() or NOT_KNOWN
    parts = [gender]
    gi = extension(patient, GENDER_IDENTITY_URL)
    if gi:
        text = concept_text(gi.get("valueCodeableConcept"))
        if text:
            parts.append(text.replace("Identifies as ", "identifies as "))
    bs = extension(patient, BIRTHSEX_URL)
    if bs and bs.get("valueCode") in ("F", "M"):
        born = "female" if bs["valueCode"] == "F" else "male"
        if born != (patient.get("gender") or ""):
            parts.append(f"sex at birth {born}")
    return " · ".join(parts)


def pronouns(patient: dict) -> str:
    ext = extension(patient, PRONOUNS_URL)
    if not ext:
        return ""
    value = extension(ext, "value")
    text = concept_text((value or {}).get("valueCodeableConcept"))
    parts = text.split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 else text


@dataclass
class AllergyState:
    label: str  # Known allergies / No known allergies / Allergies not recorded / ... unavailable
    css: str
    items: list[str]


_NKA = {"716186003", "409137002", "428607008", "429625007", "428197003"}


def allergy_state(patient_id: str) -> AllergyState:
    """One of the four states of UX.md 2; never blank. Unavailable when the role cannot see them."""
    if not access.permits("s", "AllergyIntolerance"):
        return AllergyState("Allergies unavailable", "allergy-unavailable", [])
    try:
        req = engine.parse("AllergyIntolerance", [("patient", patient_id), ("_count", "50")])
        rows = engine.run(req).rows
    except Exception:  # a failing lookup must not hide the banner; say it is unavailable
        return AllergyState("Allergies unavailable", "allergy-unavailable", [])
    items: list[str] = []
    nka = False
    for stored in rows:
        res = stored.resource()
        status = concept_text(res.get("clinicalStatus")).lower()
        verification = ((res.get("verificationStatus") or {}).get("coding") or [{}])[0]
        if verification.get("code") in ("entered-in-error", "refuted") or status in (
            "inactive",
            "resolved",
        ):
            continue
        codes = {c.get("code") for c in (res.get("code") or {}).get("coding", [])}
        if codes & _NKA:
            nka = True
            continue
        items.append(concept_text(res.get("code")) or "Unnamed allergy")
    if items:
        return AllergyState("Known allergies", "allergy-known", items)
    if nka:
        return AllergyState("No known allergies", "allergy-none", [])
    return AllergyState("Allergies not recorded", "allergy-not-recorded", [])


def photo_src(patient: dict) -> str:
    for photo in patient.get("photo") or []:
        if photo.get("data") and (photo.get("contentType") or "").startswith("image/"):
            return f"data:{photo['contentType']};base64,{photo['data']}"
        if (photo.get("url") or "").startswith(("http://", "https://", "/")):
            return photo["url"]
    return ""


def summary(patient: dict, patient_id: str) -> dict:
    """Display values shared by the banner and search results."""
    birth = birth_date(patient)
    phones = [t.get("value") for t in patient.get("telecom") or [] if t.get("system") == "phone"]
    address = next(iter(patient.get("address") or []), {})
    mrn = mrn_of(patient)
    return {
        "id": patient_id,
        "name": display_name(official_name(patient)),
        "preferred": preferred_name(patient),
        "born": format_date(birth or patient.get("birthDate")),
        "age": age_text(birth),
        "sex": sex_and_gender(patient),
        "gender": (patient.get("gender") or "").capitalize() or NOT_KNOWN,
        "pronouns": pronouns(patient),
        # the label says MRN, so the value drops an "MRN" prefix: "MRN12345678" -> "1234 5678"
        "mrn": group_identifier(mrn).removeprefix("MRN ") if mrn else NOT_KNOWN,
        "phone": phones[0] if phones else NOT_KNOWN,
        "address": ", ".join(
            p for p in [" ".join(address.get("line") or []), address.get("city", "")] if p
        )
        or NOT_KNOWN,
        "active": patient.get("active", True),
        "replaced_by": next(
            (
                link["other"]["reference"].split("/")[-1]
                for link in patient.get("link") or []
                if link.get("type") == "replaced-by"
            ),
            "",
        ),
        "deceased": bool(patient.get("deceasedBoolean") or patient.get("deceasedDateTime")),
    }


def banner_context(patient_id: str) -> dict:
    """The banner of ``Patient/patient_id``; raises the engine's NotFound/Forbidden/Gone."""
    stored = repository.read("Patient", patient_id)
    patient = stored.resource()
    out = summary(patient, patient_id)
    out["allergies"] = allergy_state(patient_id)
    out["photo"] = photo_src(patient)
    out["resource"] = patient
    return out
