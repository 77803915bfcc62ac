"""Finding patients for the standalone-launch patient picker, through the search engine."""

from __future__ import annotations

import json

from ehr.fhir.errors import FhirError
from ehr.fhir.search import engine


def _label(content: str | None) -> str:
    data = json.loads(content or "{}")
    names = data.get("name") or [{}]
    name = names[0]
    text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
    born = data.get("birthDate")
    return f"{text or 'Unnamed patient'}" + (f", born {born}" if born else "")


def search_patients(name: str, limit: int = 20) -> list[tuple[str, str]]:
    """(id, "Name, born YYYY-MM-DD") of patients whose name matches, at most ``limit``."""
    name = name.strip()
    if not name:
        return []
    try:
        req = engine.parse("Patient", [("name", name), ("_count", str(limit)), ("_total", "none")])
        page = engine.run(req)
    except FhirError:
        return []
    return [(s.id, _label(s.content)) for s in page.rows]


def patient_label(patient_id: str) -> str | None:
    """The display label of a patient, or None when there is no such (live) patient."""
    try:
        req = engine.parse("Patient", [("_id", patient_id), ("_total", "none")])
        page = engine.run(req)
    except FhirError:
        return None
    return _label(page.rows[0].content) if page.rows else None
