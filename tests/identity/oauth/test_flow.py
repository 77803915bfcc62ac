"""The authorization code flow through Django's full request path, and its refusals."""

from __future__ import annotations

import base64
from datetime import timedelta

import jwt
import pytest
from django.test import Client as Browser
from django.utils import timezone

from ehr.identity.oauth import keys
from ehr.identity.oauth.bearer import AuthenticationFailed, authenticate_bearer
from ehr.identity.oauth.clients import create_client
from ehr.identity.oauth.models import AuthorizationCode, Token
from ehr.identity.oauth.tokens import create_launch

from .conftest import BASE, REDIRECT, authorize_params, pkce, query_of

pytestmark = pytest.mark.django_db


def _patient(fhir, family: str = "Haddad") -> str:
    resp = fhir.post(
        "Patient",
        {"resourceType": "Patient", "name": [{"family": family, "given": ["Sami"]}],
         "birthDate": "1970-05-01"},
    )  # fmt: skip
    assert resp.status == 201, resp.body
    return resp.json()["id"]


def _approve(browser: Browser, params: dict, *, patient: str | None = None, scopes=None):
    """Drive /oauth/authorize and the approval form; return the final redirect URL."""
    resp = browser.get("/oauth/authorize", params)
    assert resp.status_code == 302, resp.content
    assert resp["Location"].startswith("/oauth/authorize/decide?rid="), resp["Location"]
    page = browser.get(resp["Location"])
    assert page.status_code == 200
    rid = query_of(resp["Location"])["rid"]
    offered = [s for s, _ in page.context["scopes"]]
    form = {"rid": rid, "decision": "approve", "scope": offered if scopes is None else scopes}
    if patient:
        form["patient"] = patient
    done = browser.post("/oauth/authorize/decide", form)
    assert done.status_code == 302, done.content
    return done["Location"]


def _exchange(browser: Browser, client_id: str, code: str, verifier: str | None, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
    }
    if verifier:
        data["code_verifier"] = verifier
    data.update(extra)
    return browser.post("/oauth/token", data)


def test_discovery_documents(client):
    conf = client.get("/fhir/.well-known/smart-configuration").json()
    assert conf["token_endpoint"] == "http://testserver/oauth/token"
    assert conf["authorization_endpoint"] == "http://testserver/oauth/authorize"
    assert conf["issuer"] == BASE
    assert conf["code_challenge_methods_supported"] == ["S256"]
    assert conf["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    for cap in ["launch-ehr", "client-confidential-asymmetric", "permission-v2", "authorize-post"]:
        assert cap in conf["capabilities"]
    oidc = client.get("/fhir/.well-known/openid-configuration").json()
    assert oidc["jwks_uri"] == "http://testserver/oauth/jwks"
    jwks = client.get("/oauth/jwks").json()
    assert jwks["keys"][0]["kty"] == "RSA" and "d" not in jwks["keys"][0]
    assert oct(keys.key_path().stat().st_mode & 0o777) == "0o600"


def test_standalone_launch_by_staff_with_patient_picker(fhir, person, public_app):
    pid = _patient(fhir)
    doc = person("drsmith", "provider", "Practitioner/pr1")
    browser = Browser()
    browser.force_login(doc)
    verifier, challenge = pkce()
    params = authorize_params(public_app.client_id, challenge)

    resp = browser.get("/oauth/authorize", params)
    rid_url = resp["Location"]
    page = browser.get(rid_url + "&name=Haddad")
    assert page.context["needs_picker"]
    assert [m[0] for m in page.context["matches"]] == [pid]
    assert b"Growth Charts" in page.content
    assert b"Read and search the selected patient&#x27;s observation records" in page.content

    back = _approve(browser, params, patient=pid)
    q = query_of(back)
    assert back.startswith(REDIRECT) and q["state"] == "st-123"

    tok = _exchange(browser, public_app.client_id, q["code"], verifier)
    assert tok.status_code == 200, tok.content
    assert tok["Cache-Control"] == "no-store"
    body = tok.json()
    assert body["token_type"] == "Bearer" and body["patient"] == pid
    assert body["scope"] == "patient/Observation.rs launch/patient openid fhirUser offline_access"
    assert body["refresh_token"] and body["expires_in"] == 3600
    assert body["fhirUser"] == f"{BASE}/Practitioner/pr1"

    signing = keys.signing_key()
    claims = jwt.decode(
        body["id_token"], signing.private_key.public_key(), algorithms=["RS256"],
        audience=public_app.client_id, issuer=BASE,
    )  # fmt: skip
    assert claims["fhirUser"] == f"{BASE}/Practitioner/pr1"
    assert claims["sub"] == str(doc.pk)

    who = authenticate_bearer(f"Bearer {body['access_token']}", source="10.0.0.1")
    assert (who.kind, who.username, who.role) == ("user", "drsmith", "provider")
    assert who.patient == pid and who.client_id == public_app.client_id
    assert who.fhir_user == "Practitioner/pr1" and who.source == "10.0.0.1"
    assert who.scopes.allows("patient", "Observation", "s")
    assert not who.scopes.allows("patient", "Condition", "r")


def test_patient_user_gets_own_chart_and_can_narrow(person, public_app):
    me = person("pat", "patient", "Patient/p-77")
    browser = Browser()
    browser.force_login(me)
    verifier, challenge = pkce()
    params = authorize_params(
        public_app.client_id, challenge, scope="launch/patient patient/*.rs openid offline_access"
    )
    back = _approve(browser, params, scopes=["patient/*.rs", "launch/patient"])
    body = _exchange(browser, public_app.client_id, query_of(back)["code"], verifier).json()
    assert body["patient"] == "p-77"
    assert body["scope"] == "patient/*.rs launch/patient"
    assert "refresh_token" not in body and "id_token" not in body  # both unticked
    who = authenticate_bearer("Bearer " + body["access_token"])
    assert who.role == "patient" and who.patient == "p-77"


def test_ehr_launch_resolves_context(fhir, person, public_app):
    pid = _patient(fhir, "Okafor")
    nurse = person("nina", "nurse")
    handle = create_launch(nurse, pid, "enc-9")
    browser = Browser()
    browser.force_login(nurse)
    verifier, challenge = pkce()
    params = authorize_params(
        public_app.client_id, challenge, scope="launch user/*.rs openid", launch=handle
    )
    back = _approve(browser, params)
    body = _exchange(browser, public_app.client_id, query_of(back)["code"], verifier).json()
    assert body["patient"] == pid and body["encounter"] == "enc-9"

    other = person("olga", "nurse")
    browser2 = Browser()
    browser2.force_login(other)
    resp = browser2.get("/oauth/authorize", params)
    assert query_of(resp["Location"])["error"] == "invalid_request"  # not her launch


def test_launch_endpoint_redirects_to_the_app(fhir, person):
    pid = _patient(fhir)
    app, _ = create_client(
        name="Cardio", client_type="public", redirect_uris=[REDIRECT],
        scopes="launch user/*.rs", launch_url="https://app.example/launch",
    )  # fmt: skip
    browser = Browser(enforce_csrf_checks=True)
    browser.force_login(person("drlaunch", "provider"))
    assert (
        browser.post("/oauth/launch", {"client_id": app.client_id, "patient": pid}).status_code
        == 403
    )
    browser = Browser()
    browser.force_login(person("drlaunch2", "provider"))
    resp = browser.post("/oauth/launch", {"client_id": app.client_id, "patient": pid})
    q = query_of(resp["Location"])
    assert resp["Location"].startswith("https://app.example/launch?")
    assert q["iss"] == BASE and q["launch"]


def test_authorize_post_becomes_get(person, public_app):
    browser = Browser(enforce_csrf_checks=True)
    browser.force_login(person("poster", "provider"))
    _, challenge = pkce()
    resp = browser.post("/oauth/authorize", authorize_params(public_app.client_id, challenge))
    assert resp.status_code == 303 and resp["Location"].startswith("/oauth/authorize?")


def test_approval_form_keeps_csrf(person, public_app):
    browser = Browser(enforce_csrf_checks=True)
    browser.force_login(person("csrf", "patient", "Patient/p1"))
    _, challenge = pkce()
    resp = browser.get("/oauth/authorize", authorize_params(public_app.client_id, challenge))
    rid = query_of(resp["Location"])["rid"]
    post = browser.post("/oauth/authorize/decide", {"rid": rid, "decision": "approve"})
    assert post.status_code == 403


def test_anonymous_user_is_sent_to_login(public_app, db):
    _, challenge = pkce()
    resp = Browser().get("/oauth/authorize", authorize_params(public_app.client_id, challenge))
    assert resp.status_code == 302 and resp["Location"].startswith("/login/?next=")


def test_deny_redirects_access_denied(person, public_app):
    browser = Browser()
    browser.force_login(person("denier", "patient", "Patient/p1"))
    _, challenge = pkce()
    resp = browser.get("/oauth/authorize", authorize_params(public_app.client_id, challenge))
    rid = query_of(resp["Location"])["rid"]
    done = browser.post("/oauth/authorize/decide", {"rid": rid, "decision": "deny"})
    q = query_of(done["Location"])
    assert q == {"error": "access_denied", "error_description": q["error_description"],
                 "state": "st-123"}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"aud": "https://elsewhere.example/fhir"}, "invalid_request"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "patient/Observation.xyz"}, "invalid_scope"),
        ({"scope": "system/*.rs"}, "invalid_scope"),
    ],
)
def test_bad_requests_are_redirected_with_error_and_state(person, public_app, change, error):
    browser = Browser()
    browser.force_login(person("u1", "provider"))
    _, challenge = pkce()
    params = {**authorize_params(public_app.client_id, challenge), **change}
    params = {k: v for k, v in params.items() if v is not None}
    resp = browser.get("/oauth/authorize", params)
    assert resp.status_code == 302
    assert resp["Location"].startswith(REDIRECT)
    q = query_of(resp["Location"])
    assert q["error"] == error and q["state"] == "st-123"


def test_unregistered_redirect_is_shown_not_followed(person, public_app):
    browser = Browser()
    browser.force_login(person("u2", "provider"))
    _, challenge = pkce()
    params = authorize_params(public_app.client_id, challenge, redirect_uri="https://evil.example/")
    resp = browser.get("/oauth/authorize", params)
    assert resp.status_code == 400 and b"not registered" in resp.content
    resp = browser.get("/oauth/authorize", {**params, "client_id": "nope"})
    assert resp.status_code == 400


@pytest.fixture
def code_for(person, public_app):
    """A fresh authorization code (and its verifier) for a patient user."""
    me = person("codey", "patient", "Patient/p-5")
    browser = Browser()
    browser.force_login(me)

    def make(scope="launch/patient patient/*.rs offline_access"):
        verifier, challenge = pkce()
        params = authorize_params(public_app.client_id, challenge, scope=scope)
        return query_of(_approve(browser, params))["code"], verifier, browser

    return make


def test_wrong_verifier_is_refused(code_for, public_app):
    code, _, browser = code_for()
    resp = _exchange(browser, public_app.client_id, code, "x" * 50)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_missing_verifier_is_refused(code_for, public_app):
    code, _, browser = code_for()
    assert _exchange(browser, public_app.client_id, code, None).json()["error"] == "invalid_grant"


def test_wrong_redirect_at_token_is_refused(code_for, public_app):
    code, verifier, browser = code_for()
    resp = _exchange(
        browser, public_app.client_id, code, verifier, redirect_uri="https://app.example/other"
    )
    assert resp.json()["error"] == "invalid_grant"


def test_reused_code_is_refused_and_voids_its_tokens(code_for, public_app):
    code, verifier, browser = code_for()
    first = _exchange(browser, public_app.client_id, code, verifier).json()
    again = _exchange(browser, public_app.client_id, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate_bearer("Bearer " + first["access_token"])


def test_expired_code_is_refused(code_for, public_app):
    code, verifier, browser = code_for()
    AuthorizationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert (
        _exchange(browser, public_app.client_id, code, verifier).json()["error"] == "invalid_grant"
    )


def test_code_of_another_client_is_refused(code_for, db):
    other, _ = create_client(
        name="Other", client_type="public", redirect_uris=[REDIRECT], scopes="patient/*.rs"
    )
    code, verifier, browser = code_for()
    assert _exchange(browser, other.client_id, code, verifier).json()["error"] == "invalid_grant"


def test_refresh_rotation_and_replay_detection(code_for, public_app):
    code, verifier, browser = code_for()
    body = _exchange(browser, public_app.client_id, code, verifier).json()
    r1 = body["refresh_token"]
    resp = browser.post(
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": r1, "client_id": public_app.client_id},
    )
    assert resp.status_code == 200, resp.content
    new = resp.json()
    assert new["refresh_token"] != r1 and new["patient"] == "p-5"
    assert authenticate_bearer("Bearer " + new["access_token"]).patient == "p-5"

    narrowed = browser.post(
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": new["refresh_token"],
         "client_id": public_app.client_id, "scope": "patient/Observation.rs"},
    ).json()  # fmt: skip
    assert narrowed["scope"] == "patient/Observation.rs"

    # the first refresh token again: stolen or replayed, so the whole family goes
    replay = browser.post(
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": r1, "client_id": public_app.client_id},
    )
    assert replay.json()["error"] == "invalid_grant"
    with pytest.raises(AuthenticationFailed):
        authenticate_bearer("Bearer " + narrowed["access_token"])


def test_refresh_cannot_widen(code_for, public_app):
    code, verifier, browser = code_for()
    body = _exchange(browser, public_app.client_id, code, verifier).json()
    resp = browser.post(
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
         "client_id": public_app.client_id, "scope": "user/*.rs"},
    )  # fmt: skip
    assert resp.json()["error"] == "invalid_scope"


def test_online_access_ends_with_the_session(code_for, public_app):
    code, verifier, browser = code_for(scope="launch/patient patient/*.rs online_access")
    body = _exchange(browser, public_app.client_id, code, verifier).json()
    assert body["refresh_token"]
    browser.logout()
    resp = browser.post(
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
         "client_id": public_app.client_id},
    )  # fmt: skip
    assert resp.json()["error"] == "invalid_grant"


def test_introspection_and_revocation(code_for, public_app):
    code, verifier, browser = code_for()
    body = _exchange(browser, public_app.client_id, code, verifier).json()
    rs, _ = create_client(
        name="Resource server", client_type="confidential", scopes="system/*.rs",
        auth_method="client_secret_basic",
    )  # fmt: skip
    rs.refresh_from_db()
    secret = rs.set_secret()
    rs.save()
    auth = "Basic " + base64.b64encode(f"{rs.client_id}:{secret}".encode()).decode()

    info = browser.post(
        "/oauth/introspect", {"token": body["access_token"]}, headers={"Authorization": auth}
    ).json()
    assert info["active"] and info["patient"] == "p-5" and info["client_id"] == public_app.client_id
    assert info["scope"] == "patient/*.rs launch/patient offline_access"

    bad = browser.post("/oauth/introspect", {"token": body["access_token"]})
    assert bad.status_code == 401

    assert authenticate_bearer("Bearer " + body["access_token"]).username == "codey"
    resp = browser.post(
        "/oauth/revoke", {"token": body["refresh_token"], "client_id": public_app.client_id}
    )
    assert resp.status_code == 200
    for value in (body["access_token"], body["refresh_token"]):
        info = browser.post("/oauth/introspect", {"token": value}, headers={"Authorization": auth})
        assert info.json() == {"active": False}
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate_bearer("Bearer " + body["access_token"])  # same process: at once
    assert Token.objects.filter(revoked=False).count() == 0

    unknown = browser.post("/oauth/revoke", {"token": "nope", "client_id": public_app.client_id})
    assert unknown.status_code == 200


def test_confidential_symmetric_client_with_basic_auth(person):
    app, secret = create_client(
        name="Server app", client_type="confidential", redirect_uris=[REDIRECT],
        scopes="launch/patient patient/*.rs",
    )  # fmt: skip
    assert secret
    browser = Browser()
    browser.force_login(person("sym", "patient", "Patient/p-8"))
    params = authorize_params(app.client_id, None, scope="launch/patient patient/*.rs")
    code = query_of(_approve(browser, params))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    wrong = "Basic " + base64.b64encode(f"{app.client_id}:nope".encode()).decode()
    resp = browser.post("/oauth/token", data, headers={"Authorization": wrong})
    assert resp.status_code == 401 and resp["WWW-Authenticate"].startswith("Basic")
    right = "Basic " + base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    resp = browser.post("/oauth/token", data, headers={"Authorization": right})
    assert resp.status_code == 200 and resp.json()["patient"] == "p-8"
