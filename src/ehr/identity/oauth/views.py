"""HTTP endpoints of the authorization server: discovery, authorize, token, introspect, revoke,
JWKS, and the EHR launch."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehr.fhir import definitions
from ehr.identity import throttle
from ehr.identity.oauth import tokens
from ehr.identity.oauth.bearer import AuthenticationFailed, authenticate_bearer
from ehr.identity.oauth.clients import ASSERTION_ALGS, authenticate_client
from ehr.identity.oauth.describe import describe
from ehr.identity.oauth.errors import OAuthError
from ehr.identity.oauth.integration import account_of, audit, client_principal, login_url
from ehr.identity.oauth.keys import ALG, public_jwks
from ehr.identity.oauth.models import AUTH_METHODS, AuthorizationCode, Client, digest, new_secret
from ehr.identity.oauth.patients import patient_label, search_patients
from ehr.identity.oauth.scopes import ScopeError, ScopeSet

CODE_SECONDS = 120
_PKCE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
SCOPES_SUPPORTED = [
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "user/*.cruds",
    "system/*.cruds",
    "patient/*.read",
    "patient/*.write",
    "user/*.read",
    "user/*.write",
    "system/*.read",
]
CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
    "sso-openid-connect",
]


# -- URLs -----------------------------------------------------------------------------------------


def fhir_base(request: HttpRequest) -> str:
    if settings.EHR_BASE_URL:
        return settings.EHR_BASE_URL.rstrip("/")
    return f"{request.scheme}://{request.get_host()}/fhir"


def _origin(request: HttpRequest) -> str:
    base = fhir_base(request)
    if base.endswith("/fhir"):
        return base[: -len("/fhir")]
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def _endpoint(request: HttpRequest, path: str) -> str:
    return _origin(request) + path


def _token_audiences(request: HttpRequest) -> list[str]:
    """``aud`` values accepted in a client assertion: the token endpoint's URL."""
    return list(dict.fromkeys([_endpoint(request, "/oauth/token"), request.build_absolute_uri()]))


# -- discovery ------------------------------------------------------------------------------------


def _no_store(resp: HttpResponse) -> HttpResponse:
    resp["Cache-Control"] = "no-store"
    resp["Pragma"] = "no-cache"
    return resp


@require_GET
def smart_configuration(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "issuer": fhir_base(request),
            "jwks_uri": _endpoint(request, "/oauth/jwks"),
            "authorization_endpoint": _endpoint(request, "/oauth/authorize"),
            "token_endpoint": _endpoint(request, "/oauth/token"),
            "introspection_endpoint": _endpoint(request, "/oauth/introspect"),
            "revocation_endpoint": _endpoint(request, "/oauth/revoke"),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": [m for m in AUTH_METHODS if m != "none"],
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
            "scopes_supported": SCOPES_SUPPORTED,
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": CAPABILITIES,
        }
    )


@require_GET
def openid_configuration(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "issuer": fhir_base(request),
            "authorization_endpoint": _endpoint(request, "/oauth/authorize"),
            "token_endpoint": _endpoint(request, "/oauth/token"),
            "jwks_uri": _endpoint(request, "/oauth/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALG],
            "scopes_supported": ["openid", "fhirUser", "profile"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser", "name"],
            "token_endpoint_auth_methods_supported": [m for m in AUTH_METHODS if m != "none"],
            "code_challenge_methods_supported": ["S256"],
        }
    )


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    return JsonResponse(public_jwks())


# -- authorize ------------------------------------------------------------------------------------


def _error_page(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "oauth/error.html", {"message": message}, status=status)


def _redirect(uri: str, params: dict[str, str]) -> HttpResponse:
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return HttpResponseRedirect(urlunsplit(parts._replace(query=query)))


def _redirect_error(uri: str, error: OAuthError, state: str | None) -> HttpResponse:
    params = error.as_dict()
    if state is not None:
        params["state"] = state
    return _redirect(uri, params)


def _client_and_redirect(params: Any) -> tuple[Client, str]:
    cid = params.get("client_id")
    client = Client.objects.filter(client_id=cid).first() if cid else None
    if client is None or not client.active:
        raise OAuthError("invalid_request", "Unknown or inactive app (client_id).")
    uri = params.get("redirect_uri")
    if uri is None:
        if len(client.redirect_uris) != 1:
            raise OAuthError("invalid_request", "The app did not send its redirect_uri.")
        uri = client.redirect_uris[0]
    if uri not in client.redirect_uris:
        raise OAuthError("invalid_request", "The return address is not registered for this app.")
    return client, uri


def _validate(request: HttpRequest, client: Client, params: Any) -> dict[str, Any]:
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "Only response_type=code is supported.")
    aud = (params.get("aud") or "").rstrip("/")
    if aud != fhir_base(request):
        raise OAuthError(
            "invalid_request", f"aud must be this server's FHIR base URL {fhir_base(request)}."
        )
    try:
        asked = ScopeSet.parse(params.get("scope"), is_resource_type=definitions.is_resource_type)
    except ScopeError as e:
        raise OAuthError("invalid_scope", str(e)) from None
    scopes = asked.narrow(ScopeSet.parse(client.allowed_scopes))
    if not scopes:
        raise OAuthError("invalid_scope", "None of the requested scopes is allowed for this app.")
    challenge = params.get("code_challenge") or ""
    method = params.get("code_challenge_method")
    if challenge or method:
        if method != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256.")
        if not _PKCE.match(challenge):
            raise OAuthError("invalid_request", "code_challenge is not a valid S256 challenge.")
    elif client.is_public:
        raise OAuthError("invalid_request", "Public apps must use PKCE (code_challenge, S256).")
    return {
        "client_id": client.client_id,
        "scope": str(scopes),
        "code_challenge": challenge,
        "nonce": params.get("nonce") or "",
        "launch": params.get("launch") or "",
    }


@csrf_exempt  # authorize-post: the app's cross-site POST only turns into the GET below
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        resp = HttpResponseRedirect("/oauth/authorize?" + request.POST.urlencode())
        resp.status_code = 303
        return resp
    params = request.GET
    try:
        client, redirect_uri = _client_and_redirect(params)
    except OAuthError as e:
        return _error_page(request, e.description)
    state = params.get("state")
    try:
        pending = _validate(request, client, params)
    except OAuthError as e:
        return _redirect_error(redirect_uri, e, state)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url())
    try:
        _add_context(request, pending)
    except OAuthError as e:
        return _redirect_error(redirect_uri, e, state)
    pending.update(redirect_uri=redirect_uri, state=state, user_id=request.user.pk)
    rid = secrets.token_urlsafe(12)
    waiting = dict(list(request.session.get("oauth_pending", {}).items())[-9:])
    waiting[rid] = pending
    request.session["oauth_pending"] = waiting
    return HttpResponseRedirect(f"/oauth/authorize/decide?rid={rid}")


def _add_context(request: HttpRequest, pending: dict[str, Any]) -> None:
    """Patient and encounter from the EHR launch or the user; whether a picker is needed."""
    scopes = ScopeSet.parse(pending["scope"])
    role, fhir_user = account_of(request.user)
    patient = encounter = ""
    handle = pending.pop("launch")
    if handle:
        launch = tokens.resolve_launch(handle, request.user)
        if launch is None:
            raise OAuthError("invalid_request", "The launch is unknown, expired or not yours.")
        patient, encounter = launch.patient, launch.encounter
    if role == "patient" and fhir_user and fhir_user.startswith("Patient/"):
        patient = fhir_user.split("/", 1)[1]
    if not encounter:
        scopes = scopes.without(["launch/encounter"])
    if not patient and not scopes.needs_patient:
        scopes = scopes.without(["launch"])
    pending.update(
        scope=str(scopes),
        patient=patient,
        encounter=encounter,
        patient_user=role == "patient",
    )


def _pending(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    rid = request.GET.get("rid") or request.POST.get("rid") or ""
    found = request.session.get("oauth_pending", {}).get(rid)
    if found is None or found.get("user_id") != request.user.pk:
        return None
    return rid, found


@require_http_methods(["GET", "POST"])
def decide(request: HttpRequest) -> HttpResponse:
    """The approval screen (GET) and the user's answer (POST, CSRF-protected)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url())
    found = _pending(request)
    if found is None:
        return _error_page(request, "This request has expired. Please start again from the app.")
    rid, pending = found
    client = Client.objects.filter(client_id=pending["client_id"], active=True).first()
    if client is None:
        return _error_page(request, "This app is no longer registered.")
    offered = ScopeSet.parse(pending["scope"])
    if request.method == "POST":
        return _answer(request, rid, pending, client, offered)
    return _approval_page(request, rid, pending, client, offered)


def _approval_page(
    request: HttpRequest,
    rid: str,
    pending: dict[str, Any],
    client: Client,
    offered: ScopeSet,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    name = request.GET.get("name", "")
    needs_picker = offered.needs_patient and not pending["patient"]
    context = {
        "client": client,
        "rid": rid,
        "scopes": describe(offered, patient_user=pending.get("patient_user", False)),
        "patient": pending["patient"],
        "patient_label": patient_label(pending["patient"]) if pending["patient"] else None,
        "needs_picker": needs_picker,
        "name": name,
        "matches": search_patients(name) if needs_picker and name else [],
        "error": error,
    }
    return render(request, "oauth/approve.html", context, status=status)


def _answer(
    request: HttpRequest, rid: str, pending: dict[str, Any], client: Client, offered: ScopeSet
) -> HttpResponse:
    waiting = request.session.get("oauth_pending", {})
    redirect_uri, state = pending["redirect_uri"], pending["state"]
    if request.POST.get("decision") != "approve":
        waiting.pop(rid, None)
        request.session["oauth_pending"] = waiting
        audit(
            "token-refused",
            client_principal(client.client_id),
            outcome="denied",
            detail=f"user {request.user.get_username()} denied {client.name}",
        )
        return _redirect_error(
            redirect_uri, OAuthError("access_denied", "The user denied the request."), state
        )
    granted = offered.only(request.POST.getlist("scope"))
    if not granted:
        return _approval_page(
            request, rid, pending, client, offered, error="Choose at least one permission."
        )
    patient = pending["patient"]
    if granted.needs_patient and not patient:
        patient = request.POST.get("patient", "")
        if not patient or patient_label(patient) is None:
            return _approval_page(
                request, rid, pending, client, offered, error="Choose a patient.", status=400
            )
    if not granted.needs_patient and not pending.get("patient_user"):
        patient = patient if granted.has("launch") else ""
    code = new_secret()
    AuthorizationCode.objects.create(
        code_hash=digest(code),
        client=client,
        user=request.user,
        redirect_uri=redirect_uri,
        scope=str(granted),
        code_challenge=pending["code_challenge"],
        nonce=pending["nonce"],
        patient=patient,
        encounter=pending["encounter"] if granted.has("launch") else "",
        session_key=request.session.session_key or "",
        family=secrets.token_hex(16),
        expires_at=timezone.now() + timedelta(seconds=CODE_SECONDS),
    )
    waiting.pop(rid, None)
    request.session["oauth_pending"] = waiting
    params = {"code": code}
    if state is not None:
        params["state"] = state
    return _redirect(redirect_uri, params)


# -- token ----------------------------------------------------------------------------------------


def _oauth_error(e: OAuthError) -> JsonResponse:
    resp = JsonResponse(e.as_dict(), status=e.status)
    for k, v in e.headers.items():
        resp[k] = v
    return _no_store(resp)


# Failed token requests per client address before the endpoint answers 429 for a while.
TOKEN_FAILURES_PER_ADDRESS = 20


def _token_throttle_key(request: HttpRequest) -> str:
    return "token-" + throttle.ip_key(request.META.get("REMOTE_ADDR", ""))


@csrf_exempt  # called by apps, not browsers; authenticated by client credentials
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    grant_type = request.POST.get("grant_type")
    client: Client | None = None
    key = _token_throttle_key(request)
    if throttle.locked_until([key]):
        resp = JsonResponse(
            {"error": "slow_down", "error_description": "Too many failed token requests."},
            status=429,
        )
        resp["Retry-After"] = "60"
        return _no_store(resp)
    try:
        client = authenticate_client(request, _token_audiences(request))
        assert client is not None
        if grant_type == "authorization_code":
            body = _exchange_code(request, client)
        elif grant_type == "refresh_token":
            value = request.POST.get("refresh_token") or ""
            body = tokens.refresh(
                client, value, request.POST.get("scope"), issuer=fhir_base(request)
            )
        elif grant_type == "client_credentials":
            body = _client_credentials(request, client)
        else:
            raise OAuthError("unsupported_grant_type", f"Unsupported grant_type '{grant_type}'.")
    except OAuthError as e:
        audit(
            "token-refused",
            client_principal(client.client_id if client else request.POST.get("client_id", "?")),
            outcome="failed",
            detail=f"{grant_type}: {e.error}: {e.description}",
        )
        if e.error in ("invalid_client", "invalid_grant"):
            throttle.record_key_failure(key, TOKEN_FAILURES_PER_ADDRESS)
        return _oauth_error(e)
    return _no_store(JsonResponse(body))


def _pkce_ok(verifier: str, challenge: str) -> bool:
    digest_ = hashlib.sha256(verifier.encode()).digest()
    computed = base64.urlsafe_b64encode(digest_).decode().rstrip("=")
    return hmac.compare_digest(computed, challenge)


def _exchange_code(request: HttpRequest, client: Client) -> dict[str, Any]:
    value = request.POST.get("code") or ""
    row = AuthorizationCode.objects.select_related("user").filter(code_hash=digest(value)).first()
    if row is None or row.client_id != client.pk:
        raise OAuthError("invalid_grant", "Unknown authorization code.")
    if row.used or AuthorizationCode.objects.filter(pk=row.pk, used=False).update(used=True) != 1:
        tokens.revoke_family(row.family)  # RFC 6749 4.1.2: a replayed code voids its tokens
        raise OAuthError("invalid_grant", "This authorization code was already used.")
    if row.expires_at <= timezone.now():
        raise OAuthError("invalid_grant", "The authorization code has expired.")
    if request.POST.get("redirect_uri") != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    verifier = request.POST.get("code_verifier")
    if row.code_challenge:
        if not verifier or not _pkce_ok(verifier, row.code_challenge):
            raise OAuthError("invalid_grant", "The PKCE code_verifier does not match.")
    elif verifier:
        raise OAuthError("invalid_grant", "code_verifier sent but no code_challenge was.")
    if not row.user.is_active:
        raise OAuthError("invalid_grant", "The user's account is disabled.")
    grant = tokens.grant_for_user(
        row.user,
        ScopeSet.parse(row.scope),
        client=client,
        patient=row.patient,
        encounter=row.encounter,
        session_key=row.session_key,
        nonce=row.nonce,
        family=row.family,
    )
    return tokens.issue(grant, issuer=fhir_base(request))


def _client_credentials(request: HttpRequest, client: Client) -> dict[str, Any]:
    if client.is_public:
        raise OAuthError("unauthorized_client", "Public apps cannot use client_credentials.")
    try:
        asked = ScopeSet.parse(
            request.POST.get("scope"), is_resource_type=definitions.is_resource_type
        )
    except ScopeError as e:
        raise OAuthError("invalid_scope", str(e)) from None
    if asked.other or asked.contexts() - {"system"}:
        raise OAuthError("invalid_scope", "client_credentials grants system/ scopes only.")
    scopes = asked.narrow(ScopeSet.parse(client.allowed_scopes))
    if not scopes:
        raise OAuthError("invalid_scope", "None of the requested scopes is allowed for this app.")
    grant = tokens.Grant(scopes=scopes, client=client, principal_kind="client")
    return tokens.issue(grant, issuer=fhir_base(request), refresh=False)


# -- introspection and revocation -----------------------------------------------------------------


@csrf_exempt  # RFC 7662: called by resource servers and apps
@require_POST
def introspect(request: HttpRequest) -> JsonResponse:
    """Callers authenticate as a confidential client, or with a valid bearer token."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    try:
        if header.lower().startswith("bearer "):
            authenticate_bearer(header)
        else:
            client = authenticate_client(request, _token_audiences(request))
            if client is None or client.is_public:
                raise OAuthError(
                    "invalid_client", "Introspection needs a confidential client.", status=401
                )
    except AuthenticationFailed as e:
        resp = JsonResponse({"error": "invalid_token", "error_description": e.message}, status=401)
        resp["WWW-Authenticate"] = e.www_authenticate
        return _no_store(resp)
    except OAuthError as e:
        return _oauth_error(e)
    value = request.POST.get("token")
    if not value:
        return _oauth_error(OAuthError("invalid_request", "The token parameter is missing."))
    return _no_store(JsonResponse(tokens.introspect(value, issuer=fhir_base(request))))


@csrf_exempt  # RFC 7009: called by apps
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    try:
        client = authenticate_client(request, _token_audiences(request))
    except OAuthError as e:
        return _oauth_error(e)
    value = request.POST.get("token")
    if not value:
        return _oauth_error(OAuthError("invalid_request", "The token parameter is missing."))
    tokens.revoke(value, client)
    return _no_store(HttpResponse(status=200))  # RFC 7009 2.2: 200 even for unknown tokens


# -- EHR launch -----------------------------------------------------------------------------------


@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    """Staff screens POST client_id, patient (and encounter) here to open an app (CSRF kept)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url())
    client = Client.objects.filter(client_id=request.POST.get("client_id"), active=True).first()
    if client is None or not client.launch_url:
        return _error_page(request, "This app is unknown or has no launch URL.")
    patient = request.POST.get("patient", "")
    if not patient or patient_label(patient) is None:
        return _error_page(request, "The patient to launch the app for was not found.")
    handle = tokens.create_launch(request.user, patient, request.POST.get("encounter") or None)
    return _redirect(client.launch_url, {"iss": fhir_base(request), "launch": handle})
