"""Fixtures for the appointment book screens: the scheduling test world (two providers,
working hours, visit types; 2031-03-03 is a Monday) and clients signed in per role."""

from __future__ import annotations

import pytest
from django.test import Client

from ehr.fhir.storage import repository
from ehr.identity import permissions
from ehr.identity.accounts import create_user
from tests.scheduling.conftest import make_world

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fresh_permission_cache():
    permissions.invalidate()
    yield
    permissions.invalidate()


@pytest.fixture
def world(db):
    make_world()
    repository.update(
        "Patient",
        "pat-1",
        {
            "resourceType": "Patient", "id": "pat-1", "active": True, "gender": "female",
            "birthDate": "1980-05-06", "name": [{"use": "official", "family": "Quill",
                                                 "given": ["Ada"]}],
        },
    )  # fmt: skip


@pytest.fixture
def signed_in(db):
    """``signed_in(role)`` -> a Client signed in through the real sign-in page."""

    def make(role: str, username: str | None = None) -> Client:
        username = username or f"u-{role}"
        create_user(username, role, password=PASSWORD, demo=True)
        client = Client()
        resp = client.post("/login/", {"username": username, "password": PASSWORD})
        assert resp.status_code == 302, resp.content[:500]
        return client

    return make
