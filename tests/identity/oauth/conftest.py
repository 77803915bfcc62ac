"""Fixtures for the authorization server tests: users with accounts, clients, PKCE, keys."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from ehr.identity.models import Account
from ehr.identity.oauth import bearer, keys
from ehr.identity.oauth.clients import create_client

BASE = "http://testserver/fhir"
REDIRECT = "https://app.example/callback"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Signing key in a temporary folder; an empty bearer cache for every test."""
    monkeypatch.setattr(keys, "key_path", lambda: tmp_path / "oauth" / "signing-key.pem")
    bearer.clear_cache()
    yield
    bearer.clear_cache()


@pytest.fixture
def person(db):
    def make(username: str, role: str = "provider", fhir_user: str = ""):
        user = get_user_model().objects.create_user(username, password="pw-" + username)
        Account.objects.create(user=user, role=role, fhir_user=fhir_user, demo=True)
        return user

    return make


@pytest.fixture
def public_app(db):
    client, _ = create_client(
        name="Growth Charts",
        client_type="public",
        redirect_uris=[REDIRECT],
        scopes="launch launch/patient openid fhirUser profile offline_access online_access "
        "patient/*.rs user/*.rs",
    )
    return client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def authorize_params(client_id: str, challenge: str | None, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "launch/patient openid fhirUser patient/Observation.rs offline_access",
        "state": "st-123",
        "aud": BASE,
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}
