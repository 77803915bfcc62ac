"""Helpers for the identity tests: users of each role and signing in through the real pages."""

from __future__ import annotations

import pyotp
import pytest
from django.test import Client

from ehr.identity import mfa, permissions
from ehr.identity.accounts import account_of, create_user

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fresh_permission_cache():
    permissions.invalidate()
    yield
    permissions.invalidate()


@pytest.fixture
def make_user(db):
    def make(username: str, role: str = "provider", *, demo: bool = False, fhir_user: str = ""):
        if role == "patient" and not fhir_user:
            fhir_user = "Patient/p1"
        return create_user(username, role, password=PASSWORD, demo=demo, fhir_user=fhir_user)

    return make


def enrol(user) -> str:
    """Turn on TOTP for ``user`` directly; returns the secret."""
    account = account_of(user)
    secret = mfa.new_secret()
    account.mfa_secret, account.mfa_enabled = secret, True
    account.save()
    return secret


def sign_in(client: Client, username: str, password: str = PASSWORD, secret: str | None = None):
    resp = client.post("/login/", {"username": username, "password": password})
    if secret is not None:
        assert resp.status_code == 302 and resp["Location"] == "/login/mfa/"
        resp = client.post("/login/mfa/", {"code": pyotp.TOTP(secret).now()})
    return resp


@pytest.fixture
def admin_client(make_user):
    user = make_user("boss", "admin", demo=True)
    client = Client()
    sign_in(client, "boss")
    client.user = user
    return client
