"""Fixtures for the front-desk tests: signed-in clients per role and a few patients."""

from __future__ import annotations

import pytest
from django.test import Client

from ehr.fhir.storage import repository
from ehr.identity import permissions
from ehr.identity.accounts import create_user
from ehr.registration.codes import MRN_SYSTEM, US_CORE_PATIENT

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fresh_permission_cache():
    permissions.invalidate()
    yield
    permissions.invalidate()


@pytest.fixture
def signed_in(db):
    """``signed_in(role)`` -> a Client signed in through the real sign-in page."""

    def make(role: str, username: str | None = None, fhir_user: str = "") -> Client:
        username = username or f"u-{role}"
        if role == "patient" and not fhir_user:
            fhir_user = "Patient/p1"
        create_user(username, role, password=PASSWORD, demo=True, fhir_user=fhir_user)
        client = Client()
        resp = client.post("/login/", {"username": username, "password": PASSWORD})
        assert resp.status_code == 302, resp.content[:500]
        return client

    return make


def make_patient(family: str, given: str, birth: str, gender: str = "female", *,
                 mrn: str | None = None, phone: str | None = None, **extra) -> str:  # fmt: skip
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": [US_CORE_PATIENT]},
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth,
        **extra,
    }
    if mrn:
        patient["identifier"] = [{"system": MRN_SYSTEM, "value": mrn}]
    if phone:
        patient["telecom"] = [{"system": "phone", "value": phone, "use": "mobile"}]
    return repository.create(patient).id


@pytest.fixture
def people(db) -> dict[str, str]:
    """A small practice: some similar names on purpose."""
    return {
        "smith": make_patient("Smith", "John", "1945-07-14", "male", mrn="MRN12345678",
                              phone="(614) 555-0123"),
        "smyth": make_patient("Smyth", "Joan", "1950-03-02", mrn="MRN22345678"),
        "smithers": make_patient("Smithers", "Waylon", "1962-11-30", "male", mrn="MRN32345678"),
        "garcia": make_patient("García", "María", "1988-02-03", mrn="MRN42345678",
                               phone="(380) 555-0199"),
        "nguyen": make_patient("Nguyen", "Thanh", "2001-12-05", "male", mrn="MRN52345678"),
        "jones": make_patient("Jones", "John", "1945-07-14", "male", mrn="MRN62345678"),
    }  # fmt: skip
