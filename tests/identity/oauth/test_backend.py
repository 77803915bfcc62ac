"""SMART Backend Services: client_credentials with RS384 / ES384 signed client assertions."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client as Http
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ehr.identity.oauth.bearer import authenticate_bearer
from ehr.identity.oauth.clients import ASSERTION_TYPE, create_client

pytestmark = pytest.mark.django_db
TOKEN_URL = "http://testserver/oauth/token"


def _keypair(alg: str):
    if alg == "RS384":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        key = ec.generate_private_key(ec.SECP384R1())
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    kid = uuid.uuid4().hex
    jwk.update(kid=kid, alg=alg, use="sig")
    return key, kid, {"keys": [jwk]}


def _assertion(key, kid: str, alg: str, client_id: str, **override) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 240,
        "jti": uuid.uuid4().hex,
    }
    claims.update(override)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def _token(assertion: str, scope: str = "system/Patient.rs system/Observation.r"):
    return Http().post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


def _service(jwks=None, jwks_url=""):
    client, secret = create_client(
        name="Nightly export", client_type="confidential", scopes="system/*.rs",
        jwks=jwks, jwks_url=jwks_url,
    )  # fmt: skip
    assert secret is None and client.token_endpoint_auth_method == "private_key_jwt"
    return client


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_client_credentials_with_jwks_by_value(alg):
    key, kid, jwks = _keypair(alg)
    client = _service(jwks=jwks)
    resp = _token(_assertion(key, kid, alg, client.client_id))
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["scope"] == "system/Patient.rs system/Observation.r"
    assert "refresh_token" not in body and "id_token" not in body
    who = authenticate_bearer("Bearer " + body["access_token"])
    assert who.kind == "client" and who.client_id == client.client_id and who.role is None
    assert who.scopes.allows("system", "Patient", "s")
    assert not who.scopes.allows("system", "Patient", "c")


@pytest.fixture
def jwks_server():
    """A local HTTP server publishing a JWKS (the app's jwks_url)."""
    published: dict = {"keys": []}
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = json.dumps(published).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    yield url, published, hits
    server.shutdown()
    server.server_close()


def test_client_credentials_with_jwks_url_and_key_rotation(jwks_server):
    url, published, hits = jwks_server
    key, kid, jwks = _keypair("ES384")
    published["keys"] = jwks["keys"]
    client = _service(jwks_url=url)
    assert _token(_assertion(key, kid, "ES384", client.client_id)).status_code == 200
    assert hits
    # the app rotates to a new key: an unknown kid makes the server fetch the set again
    key2, kid2, jwks2 = _keypair("RS384")
    published["keys"] = jwks2["keys"]
    resp = _token(_assertion(key2, kid2, "RS384", client.client_id))
    assert resp.status_code == 200, resp.content
    assert len(hits) == 2


def test_replayed_jti_is_refused():
    key, kid, jwks = _keypair("RS384")
    client = _service(jwks=jwks)
    assertion = _assertion(key, kid, "RS384", client.client_id)
    assert _token(assertion).status_code == 200
    again = _token(assertion)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"
    assert "already used" in again.json()["error_description"]


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"aud": "https://other.example/token"}, "Audience"),
        ({"exp": int(time.time()) - 600}, "expired"),
        ({"exp": int(time.time()) + 3600}, "five minutes"),
        ({"sub": "someone-else"}, "iss and sub"),
        ({"jti": None}, "jti"),
    ],
)
def test_bad_assertions_are_refused(override, fragment):
    key, kid, jwks = _keypair("RS384")
    client = _service(jwks=jwks)
    resp = _token(_assertion(key, kid, "RS384", client.client_id, **override))
    assert resp.status_code == 401
    assert fragment in resp.json()["error_description"]


def test_wrong_key_and_wrong_alg_are_refused():
    key, kid, jwks = _keypair("RS384")
    client = _service(jwks=jwks)
    other, _, _ = _keypair("RS384")
    resp = _token(_assertion(other, kid, "RS384", client.client_id))
    assert resp.status_code == 401 and "signature" in resp.json()["error_description"]
    resp = _token(_assertion(key, kid, "RS256", client.client_id))
    assert resp.status_code == 401 and "RS384 or ES384" in resp.json()["error_description"]


def test_scopes_are_limited_to_the_registration():
    key, kid, jwks = _keypair("RS384")
    client = _service(jwks=jwks)
    resp = _token(_assertion(key, kid, "RS384", client.client_id), scope="system/Patient.cruds")
    assert resp.json()["scope"] == "system/Patient.rs"
    resp = _token(_assertion(key, kid, "RS384", client.client_id), scope="user/*.rs")
    assert resp.json()["error"] == "invalid_scope"


def test_public_client_cannot_use_client_credentials():
    app, _ = create_client(
        name="Public", client_type="public", redirect_uris=["https://a.example/cb"],
        scopes="system/*.rs",
    )  # fmt: skip
    resp = Http().post(
        "/oauth/token",
        {"grant_type": "client_credentials", "scope": "system/*.rs", "client_id": app.client_id},
    )
    assert resp.json()["error"] == "unauthorized_client"


def test_the_token_endpoint_slows_down_after_repeated_failures():
    """Guessing client secrets or codes from one address gets 429 after 20 failures."""
    http = Http()
    answers = [
        http.post(
            "/oauth/token",
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
        ).status_code
        for _ in range(21)
    ]
    assert set(answers[:20]) == {401}  # invalid_client
    assert answers[20] == 429
