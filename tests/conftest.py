"""Shared fixtures: a FHIR client over Django's test client, and corpus locations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import shared_dir

ROOT = Path(__file__).resolve().parents[1]
CORPUS = shared_dir.CORPUS
SYNTHEA = CORPUS / "fhir" / "synthea"
US_CORE = CORPUS / "fhir" / "us-core-examples"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def mint_token(scope: str = "system/*.cruds", **kw) -> str:
    """An access token, as ``ehr token`` mints them (a system token unless a user is given)."""
    from ehr.identity.oauth.scopes import ScopeSet
    from ehr.identity.oauth.tokens import mint

    if "user" not in kw:
        kw["system"] = True
    value, _ = mint(scopes=ScopeSet.parse(scope), **kw)
    return value


class Fhir:
    """Calls the FHIR API in-process through the full Django request path, with a token."""

    def __init__(self, client, token: str | None = None):
        self.client = client
        self.token = token

    def __call__(self, method: str, path: str, body=None, headers=None, content_type=None):
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes | str) else json.dumps(body)
            content_type = content_type or "application/fhir+json"
        resp = self.client.generic(
            method,
            "/fhir/" + path.lstrip("/") if path else "/fhir",
            data=data,
            content_type=content_type or "application/fhir+json",
            headers={**self._auth(), **(headers or {})},
        )
        return Answer(resp.status_code, {k.lower(): v for k, v in resp.items()}, resp.content)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path, **kw):
        return self("GET", path, **kw)

    def post(self, path, body, **kw):
        return self("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self("DELETE", path, **kw)


@pytest.fixture
def fhir(client, db) -> Fhir:
    return Fhir(client, mint_token())


def row_counts() -> dict[str, int]:
    from django.db import connection

    out = {}
    with connection.cursor() as cur:
        for table in ("fhir_resource", "fhir_resource_version", "fhir_token", "fhir_compartment"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            out[table] = cur.fetchone()[0]
    return out
