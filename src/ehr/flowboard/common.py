"""Small shared helpers: names of patients, providers and places for a set of references,
each kind fetched with one indexed ``_id`` search."""

from __future__ import annotations

from ehr.fhir.errors import FhirError
from ehr.registration.banner import display_name, official_name
from ehr.scheduling.common import search_all

STAFF = ("admin", "provider", "nurse", "front_desk")


def _ids(refs: set[str], rtype: str) -> list[str]:
    return sorted({r.split("/", 1)[1] for r in refs if r and r.startswith(rtype + "/")})


def resources(refs: set[str], rtype: str) -> dict[str, dict]:
    """``{"Type/id": resource}`` for the references of one type (missing ones left out)."""
    ids = _ids(refs, rtype)
    out: dict[str, dict] = {}
    for i in range(0, len(ids), 100):
        try:
            for r in search_all(rtype, [("_id", ",".join(ids[i : i + 100]))]):
                out[f"{rtype}/{r['id']}"] = r
        except FhirError:
            continue
    return out


def patient_name(patient: dict | None) -> str:
    return display_name(official_name(patient)) if patient else "Not known"


def practitioner_name(res: dict | None) -> str:
    if not res:
        return "Not known"
    name = (res.get("name") or [{}])[0]
    given = " ".join(name.get("given") or [])
    prefix = " ".join(name.get("prefix") or [])
    text = " ".join(p for p in (prefix, given, name.get("family", "")) if p)
    return text or name.get("text") or "Not known"


def location_name(res: dict | None) -> str:
    return (res or {}).get("name") or "Not known"
