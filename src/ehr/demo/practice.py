"""The demo practice: one clinic organisation, its payers, locations and clinicians.

The practice is the same for every seed, and its resources have fixed ids, so loading demo data
twice (or with two seeds) updates the same Organization, Location, Practitioner and
PractitionerRole resources instead of adding copies.
"""

from __future__ import annotations

from typing import NamedTuple

from ehr.demo.vocab import NPI, NUCC, THO

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"

PRACTICE_ID = "demo-org-practice"
PRACTICE_NAME = "Riverbend Family Health"
PRACTICE_REF = f"Organization/{PRACTICE_ID}"


def npi(base: str) -> str:
    """Complete a 9-digit NPI base with its Luhn check digit (computed with the 80840 prefix)."""
    digits = [int(c) for c in "80840" + base]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # every second digit from the right, starting with the rightmost
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return base + str((10 - total % 10) % 10)


class Clinician(NamedTuple):
    id: str
    given: str
    family: str
    gender: str
    suffix: str  # MD, DO, NP, PA-C
    taxonomy: str
    taxonomy_display: str
    location: int  # 1-based index into LOCATIONS
    npi: str
    sees_children: bool
    sees_adults: bool

    @property
    def ref(self) -> str:
        return f"Practitioner/{self.id}"

    @property
    def display(self) -> str:
        title = "Dr. " if self.suffix in ("MD", "DO") else ""
        return f"{title}{self.given} {self.family}, {self.suffix}"


FAMILY = ("207Q00000X", "Family Medicine Physician")
INTERNAL = ("207R00000X", "Internal Medicine Physician")
PEDIATRICS = ("208000000X", "Pediatrics Physician")
FNP = ("363LF0000X", "Family Nurse Practitioner")
PA = ("363A00000X", "Physician Assistant")

CLINICIANS: tuple[Clinician, ...] = (
    Clinician(
        "demo-pract-1", "Sarah", "Okafor", "female", "MD", *FAMILY, 1, npi("154208731"), True, True
    ),
    Clinician(
        "demo-pract-2", "Michael", "Brennan", "male", "DO", *FAMILY, 1, npi("163719452"), True, True
    ),
    Clinician(
        "demo-pract-3",
        "Priya",
        "Raman",
        "female",
        "MD",
        *INTERNAL,
        1,
        npi("172830546"),
        False,
        True,
    ),
    Clinician(
        "demo-pract-4", "David", "Chen", "male", "MD", *INTERNAL, 2, npi("118294067"), False, True
    ),
    Clinician(
        "demo-pract-5",
        "Laura",
        "Martinez",
        "female",
        "MD",
        *PEDIATRICS,
        2,
        npi("129403178"),
        True,
        False,
    ),
    Clinician(
        "demo-pract-6",
        "James",
        "Whitaker",
        "male",
        "MD",
        *PEDIATRICS,
        1,
        npi("130512289"),
        True,
        False,
    ),
    Clinician(
        "demo-pract-7", "Emily", "Novak", "female", "NP", *FNP, 2, npi("141623390"), True, True
    ),
    Clinician(
        "demo-pract-8", "Marcus", "Hill", "male", "PA-C", *PA, 1, npi("165734401"), False, True
    ),
)


class Place(NamedTuple):
    id: str
    name: str
    line: str
    city: str
    postal: str
    phone: str

    @property
    def ref(self) -> str:
        return f"Location/{self.id}"


LOCATIONS: tuple[Place, ...] = (
    Place(
        "demo-loc-1",
        f"{PRACTICE_NAME} - Main Clinic",
        "1200 Riverbend Pkwy",
        "Columbus",
        "43215",
        "(614) 555-0100",
    ),
    Place(
        "demo-loc-2",
        f"{PRACTICE_NAME} - Westerville",
        "455 Maple Ridge Rd",
        "Westerville",
        "43081",
        "(614) 555-0120",
    ),
)


class Payer(NamedTuple):
    id: str
    name: str
    kind: str  # medicare | medicaid | private
    sopt: str  # Source of Payment Typology code
    sopt_display: str
    plan: str
    member_system: str

    @property
    def ref(self) -> str:
        return f"Organization/{self.id}"


PAYERS: tuple[Payer, ...] = (
    Payer(
        "demo-org-payer-1",
        "Medicare Part B (demo contractor)",
        "medicare",
        "1",
        "MEDICARE",
        "Medicare Part B",
        "http://ehr.example.org/sid/demo-medicare-mbi",
    ),
    Payer(
        "demo-org-payer-2",
        "Ohio Medicaid Managed Care (demo)",
        "medicaid",
        "2",
        "MEDICAID",
        "Medicaid Managed Care",
        "http://ehr.example.org/sid/demo-medicaid-id",
    ),
    Payer(
        "demo-org-payer-3",
        "Acme Health Plan",
        "private",
        "5",
        "PRIVATE HEALTH INSURANCE",
        "Acme Gold PPO",
        "http://ehr.example.org/sid/acme-member-id",
    ),
    Payer(
        "demo-org-payer-4",
        "Buckeye Mutual Insurance",
        "private",
        "5",
        "PRIVATE HEALTH INSURANCE",
        "Buckeye Choice HMO",
        "http://ehr.example.org/sid/buckeye-member-id",
    ),
)

_ADDRESS_STATE = "OH"


def _address(line: str, city: str, postal: str) -> dict:
    return {
        "use": "work",
        "line": [line],
        "city": city,
        "state": _ADDRESS_STATE,
        "postalCode": postal,
        "country": "US",
    }


def _coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def _put(resource: dict) -> dict:
    return {
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
    }


def practice_resources() -> list[dict]:
    """Every practice resource, in an order where referenced resources come first."""
    main = LOCATIONS[0]
    out: list[dict] = [
        {
            "resourceType": "Organization",
            "id": PRACTICE_ID,
            "meta": {"profile": [US_CORE + "us-core-organization"]},
            "identifier": [{"system": NPI, "value": npi("198765432")}],
            "active": True,
            "type": [
                {"coding": [_coding(THO + "organization-type", "prov", "Healthcare Provider")]}
            ],
            "name": PRACTICE_NAME,
            "telecom": [
                {"system": "phone", "value": main.phone, "use": "work"},
                {"system": "email", "value": "frontdesk@riverbend.example.org", "use": "work"},
            ],
            "address": [_address(main.line, main.city, main.postal)],
        }
    ]
    for payer in PAYERS:
        out.append(
            {
                "resourceType": "Organization",
                "id": payer.id,
                "meta": {"profile": [US_CORE + "us-core-organization"]},
                "active": True,
                "type": [{"coding": [_coding(THO + "organization-type", "pay", "Payer")]}],
                "name": payer.name,
                "telecom": [
                    {
                        "system": "phone",
                        "value": f"(800) 555-01{60 + PAYERS.index(payer):02d}",
                        "use": "work",
                    }
                ],
            }
        )
    for place in LOCATIONS:
        out.append(
            {
                "resourceType": "Location",
                "id": place.id,
                "meta": {"profile": [US_CORE + "us-core-location"]},
                "status": "active",
                "name": place.name,
                "mode": "instance",
                "type": [
                    {"coding": [_coding(THO + "v3-RoleCode", "FMC", "Family Medicine Clinic")]}
                ],
                "telecom": [{"system": "phone", "value": place.phone, "use": "work"}],
                "address": _address(place.line, place.city, place.postal),
                "managingOrganization": {"reference": PRACTICE_REF, "display": PRACTICE_NAME},
            }
        )
    for n, doc in enumerate(CLINICIANS, start=1):
        place = LOCATIONS[doc.location - 1]
        email = f"{doc.given[0].lower()}{doc.family.lower()}@riverbend.example.org"
        name: dict = {"use": "official", "family": doc.family, "given": [doc.given]}
        if doc.suffix in ("MD", "DO"):
            name["prefix"] = ["Dr."]
        name["suffix"] = [doc.suffix]
        out.append(
            {
                "resourceType": "Practitioner",
                "id": doc.id,
                "meta": {"profile": [US_CORE + "us-core-practitioner"]},
                "identifier": [{"system": NPI, "value": doc.npi}],
                "active": True,
                "name": [name],
                "telecom": [
                    {"system": "phone", "value": place.phone, "use": "work"},
                    {"system": "email", "value": email, "use": "work"},
                ],
                "address": [_address(place.line, place.city, place.postal)],
                "gender": doc.gender,
            }
        )
        taxonomy = {"coding": [_coding(NUCC, doc.taxonomy, doc.taxonomy_display)]}
        out.append(
            {
                "resourceType": "PractitionerRole",
                "id": f"demo-role-{n}",
                "meta": {"profile": [US_CORE + "us-core-practitionerrole"]},
                "active": True,
                "practitioner": {"reference": doc.ref, "display": doc.display},
                "organization": {"reference": PRACTICE_REF, "display": PRACTICE_NAME},
                "code": [taxonomy],
                "specialty": [{"coding": [_coding(NUCC, doc.taxonomy, doc.taxonomy_display)]}],
                "location": [{"reference": place.ref, "display": place.name}],
                "telecom": [
                    {"system": "phone", "value": place.phone, "use": "work"},
                    {"system": "email", "value": email, "use": "work"},
                ],
            }
        )
    return out


def practice_bundle() -> dict:
    """A transaction Bundle that creates or updates the practice (PUT with fixed ids)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [_put(r) for r in practice_resources()],
    }
