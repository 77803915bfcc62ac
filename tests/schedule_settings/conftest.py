"""Fixtures: the scheduling world (two providers, clinics, a room, visit types; 2031 dates) and
clients signed in per role."""

from __future__ import annotations

import pytest
from django.test import Client

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


@pytest.fixture
def signed_in(db):
    """``signed_in(role)`` -> a Client signed in through the real sign-in page."""

    def make(role: str) -> Client:
        username = f"u-{role}"
        create_user(username, role, password=PASSWORD, demo=True)
        client = Client()
        resp = client.post("/login/", {"username": username, "password": PASSWORD})
        assert resp.status_code == 302, resp.content[:500]
        return client

    return make


@pytest.fixture
def admin(signed_in, world) -> Client:
    return signed_in("admin")
