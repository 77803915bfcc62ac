"""A small practice in the store: the practice with its NPI, a payer, patients and coverage,
shaped like the demo data (src/ehr/demo/practice.py and generator.py)."""

from __future__ import annotations

import pytest

from ehr.fhir.storage import repository

NPI = "http://hl7.org/fhir/sid/us-npi"
THO = "http://terminology.hl7.org/CodeSystem/"


def _cc(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}]}


@pytest.fixture
def practice(db):
    repository.update(
        "Organization",
        "test-practice",
        {
            "resourceType": "Organization",
            "id": "test-practice",
            "identifier": [{"system": NPI, "value": "1234567893"}],
            "active": True,
            "name": "Riverbend Family Medicine",
        },
    )
    repository.update(
        "Organization",
        "test-payer",
        {
            "resourceType": "Organization",
            "id": "test-payer",
            "active": True,
            "type": [_cc(THO + "organization-type", "pay", "Payer")],
            "name": "Acme Health Plan",
        },
    )
    return {"practice": "Organization/test-practice", "payer": "Organization/test-payer"}


@pytest.fixture
def make_coverage(practice):
    def make(member_id: str, *, child: bool = False, payer: str | None = None) -> str:
        patient = repository.create(
            {
                "resourceType": "Patient",
                "name": [{"use": "official", "family": "Rivera", "given": ["Ana", "Maria"]}],
                "gender": "female",
                "birthDate": "2015-04-09" if child else "1980-02-03",
            }
        )
        coverage = {
            "resourceType": "Coverage",
            "identifier": [
                {
                    "type": _cc(THO + "v2-0203", "MB", "Member Number"),
                    "system": "http://ehr.example.org/sid/acme-member-id",
                    "value": member_id + ("-02" if child else ""),
                }
            ],
            "status": "active",
            "subscriberId": member_id,
            "beneficiary": {"reference": f"Patient/{patient.id}"},
            "relationship": _cc(
                THO + "subscriber-relationship",
                *(("child", "Child") if child else ("self", "Self")),
            ),
            "payor": [{"reference": payer or practice["payer"], "display": "Acme Health Plan"}],
        }
        return repository.create(coverage).id

    return make
