"""Exam rooms: FHIR ``Location`` resources that are ``partOf`` a clinic (physical type
``ro``), found with ``Location?partof=<clinic>``. The demo practice gets four per clinic."""

from __future__ import annotations

from ehr.fhir.errors import FhirError
from ehr.fhir.storage import repository
from ehr.scheduling.common import search_all

PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"


def clinics() -> list[dict]:
    """Locations that are not part of another (the practice's sites), by name."""
    try:
        rows = search_all("Location", [])
    except FhirError:
        return []
    rows = [r for r in rows if not r.get("partOf") and r.get("status") != "inactive"]
    return sorted(rows, key=lambda r: r.get("name", ""))


def rooms_of(clinic: str) -> list[dict]:
    try:
        rows = search_all("Location", [("partof", clinic)])
    except FhirError:
        return []
    rows = [r for r in rows if r.get("status") != "inactive"]
    return sorted(rows, key=lambda r: r.get("name", ""))


def seed_demo_rooms(count: int = 4) -> int:
    """Give every clinic ``count`` exam rooms unless it has rooms already; returns rooms made."""
    made = 0
    for clinic in clinics():
        ref = f"Location/{clinic['id']}"
        if rooms_of(ref):
            continue
        for n in range(1, count + 1):
            repository.update(
                "Location",
                f"{clinic['id']}-exam-{n}",
                {
                    "resourceType": "Location",
                    "id": f"{clinic['id']}-exam-{n}",
                    "status": "active",
                    "name": f"Exam {n}",
                    "mode": "instance",
                    "physicalType": {
                        "coding": [{"system": PHYSICAL_TYPE, "code": "ro", "display": "Room"}]
                    },
                    "partOf": {"reference": ref, "display": clinic.get("name", "")},
                },
            )
            made += 1
    return made
