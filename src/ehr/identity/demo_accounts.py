"""One sign-in per role for demo installations, linked to records in the demo practice."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from ehr.identity.models import Account

# username -> (role, password). Memorable on purpose: these exist only with demo data.
DEMO_USERS: dict[str, tuple[str, str]] = {
    "admin": ("admin", "demo-admin-2026!"),
    "provider": ("provider", "demo-provider-2026!"),
    "nurse": ("nurse", "demo-nurse-2026!"),
    "frontdesk": ("front_desk", "demo-frontdesk-2026!"),
    "biller": ("biller", "demo-biller-2026!"),
    "patient": ("patient", "demo-patient-2026!"),
    "proxy": ("proxy", "demo-proxy-2026!"),
}


def _first_id(resource_type: str) -> str | None:
    from ehr.fhir.storage.db import raw_cursor, sql

    cur = raw_cursor()
    cur.execute(
        sql(
            "SELECT fhir_id FROM fhir_resource WHERE resource_type = ? AND deleted = ? "
            "ORDER BY id LIMIT 1"
        ),
        (resource_type, False),
    )
    row = cur.fetchone()
    return row[0] if row else None


def _create(resource: dict) -> str:
    from ehr.fhir.storage import repository

    return repository.create(resource).id


def _demo_records() -> dict[str, str]:
    """Ids of the Practitioner, Patient and RelatedPerson the demo accounts link to."""
    practitioner = _first_id("Practitioner") or _create(
        {"resourceType": "Practitioner", "active": True,
         "name": [{"family": "Demo", "given": ["Dana"], "prefix": ["Dr."]}]}
    )  # fmt: skip
    patient = _first_id("Patient") or _create(
        {"resourceType": "Patient", "active": True,
         "name": [{"family": "Demo", "given": ["Pat"]}], "gender": "unknown"}
    )  # fmt: skip
    related = _related_person_for(patient) or _create(
        {
            "resourceType": "RelatedPerson",
            "active": True,
            "patient": {"reference": f"Patient/{patient}"},
            "relationship": [
                {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                             "code": "PRN", "display": "parent"}]}
            ],
            "name": [{"family": "Demo", "given": ["Parent"]}],
        }
    )  # fmt: skip
    return {"practitioner": practitioner, "patient": patient, "related": related}


def _related_person_for(patient: str) -> str | None:
    from ehr.fhir.errors import FhirError
    from ehr.fhir.search.engine import match_ids

    try:
        ids = match_ids("RelatedPerson", [("patient", f"Patient/{patient}")], limit=1)
    except FhirError:  # the parameter is not indexed: look for none, make one
        return None
    return ids[0] if ids else None


def demo_account_table() -> list[tuple[str, str, str]]:
    """(username, password, role) for the demo accounts that exist, in role order."""
    present = set(
        Account.objects.filter(demo=True, user__is_active=True).values_list(
            "user__username", flat=True
        )
    )
    return [(u, pw, role) for u, (role, pw) in DEMO_USERS.items() if u in present]


@transaction.atomic
def ensure_demo_accounts() -> list[tuple[str, str, str]]:
    """Create any missing demo account (one per role); returns (username, password, role).

    Existing accounts are left as they are, so running it again changes nothing.
    """
    from ehr.identity.accounts import create_user

    records = _demo_records()
    links = {
        "provider": f"Practitioner/{records['practitioner']}",
        "nurse": "",
        "patient": f"Patient/{records['patient']}",
        "proxy": f"RelatedPerson/{records['related']}",
    }
    users = get_user_model().objects
    for username, (role, password) in DEMO_USERS.items():
        if users.filter(username=username).exists():
            continue
        create_user(
            username,
            role,
            password=password,
            fhir_user=links.get(role, ""),
            proxy_patients=records["patient"] if role == "proxy" else "",
            demo=True,
            first_name="Demo",
            last_name=role.replace("_", " ").title(),
            check_policy=False,
        )
    return [(u, pw, role) for u, (role, pw) in DEMO_USERS.items()]
