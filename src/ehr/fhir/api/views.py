"""Django adapter: one view receives every /fhir request, works out who is asking, and hands
the request to the interactions under that caller's access policy, with its audit record.

The engine itself knows nothing of users: identity (bearer tokens, roles, scopes) and the audit
trail plug in here, at the boundary.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ehr.fhir.access import acting_as
from ehr.fhir.api.http import FHIR_JSON, FhirRequest, FhirResponse
from ehr.fhir.api.interactions import error_response, handle
from ehr.fhir.errors import FhirError, Forbidden, Unauthorized

log = logging.getLogger(__name__)

_HEADERS = (
    "accept",
    "content-type",
    "prefer",
    "if-match",
    "if-none-match",
    "if-none-exist",
    "if-modified-since",
)

# Readable without a token: what a client needs before it can get one.
PUBLIC_PATHS = frozenset({"metadata"})


def _base_url(request: HttpRequest) -> str:
    if settings.EHR_BASE_URL:
        return settings.EHR_BASE_URL.rstrip("/")
    return f"{request.scheme}://{request.get_host()}/fhir"


def _audit():
    from ehr.audit import api_requests

    return api_requests


def _authenticate(request: HttpRequest):
    """The caller's Principal from the bearer token; Unauthorized if there is none or it is bad."""
    from ehr.identity.oauth.bearer import AuthenticationFailed, authenticate_bearer

    try:
        return authenticate_bearer(
            request.META.get("HTTP_AUTHORIZATION"), source=request.META.get("REMOTE_ADDR")
        )
    except AuthenticationFailed as exc:
        raise Unauthorized(exc.message, challenge=exc.www_authenticate) from None


@csrf_exempt
def fhir_endpoint(request: HttpRequest, rest: str | None = None) -> HttpResponse:
    meta = request.META
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.EHR_MAX_BODY:
        resp = error_response(
            FhirError(
                f"The body is larger than the limit of {settings.EHR_MAX_BODY} bytes", status=413
            )
        )
        return _to_django(resp, request.method)
    headers = {}
    for name in _HEADERS:
        key = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        value = meta.get(key)
        if value:
            headers[name] = value
    req = FhirRequest(
        method=request.method or "GET",
        path=(rest or "").strip("/"),
        query=[(k, v) for k, vs in request.GET.lists() for v in vs],
        headers=headers,
        body=request.body if length else b"",
        base_url=_base_url(request),
    )
    parts = req.parts
    if parts and parts[0] in PUBLIC_PATHS and req.method in ("GET", "HEAD"):
        return _to_django(handle(req), request.method)
    try:
        principal = _authenticate(request)
    except Unauthorized as err:
        _audit().refused(req, None, err, meta.get("REMOTE_ADDR"))
        resp = error_response(err)
        resp.headers["WWW-Authenticate"] = err.challenge
        return _to_django(resp, request.method)
    from ehr.identity.access import PrincipalPolicy

    policy = PrincipalPolicy(principal)
    if parts and parts[0] == "AuditEvent":
        return _to_django(_audit_events(req, principal, policy), request.method)
    req.on_outcome = _audit().recorder(req, principal, policy)
    with acting_as(policy):
        return _to_django(handle(req), request.method)


def _audit_events(req: FhirRequest, principal, policy) -> FhirResponse:
    """The audit trail, read-only, for administrators; reading it is itself audited."""
    from ehr.audit.fhir_view import handle_audit_event

    if not policy.permits("s" if len(req.parts) == 1 else "r", "AuditEvent"):
        err = Forbidden("Only administrators may read the audit trail")
        _audit().refused(req, principal, err, principal.source)
        return error_response(err)
    resp = handle_audit_event(req)
    _audit().recorder(req, principal, policy)(resp, False)
    return resp


def is_api_path(path: str) -> bool:
    """Paths served by ``fhir_endpoint`` (the SMART discovery documents are not)."""
    return (path == "/fhir" or path.startswith("/fhir/")) and not path.startswith(
        "/fhir/.well-known/"
    )


def direct(request: HttpRequest) -> HttpResponse:
    """``fhir_endpoint`` without the screens' middleware (see ehr.wsgi)."""
    rest = request.path_info[len("/fhir") :] or None
    try:
        return fhir_endpoint(request, rest)
    except Exception:  # the view answers its own errors; this is the last line
        log.exception("unhandled error in %s %s", request.method, request.path_info)
        return _to_django(error_response(FhirError("Internal server error", status=500)), "GET")


def _to_django(resp: FhirResponse, method: str | None) -> HttpResponse:
    body = resp.body if resp.body is not None and method != "HEAD" else b""
    out = HttpResponse(body, status=resp.status, content_type=FHIR_JSON)
    if resp.body is None and resp.status in (204, 304):
        del out["Content-Type"]
    for k, v in resp.headers.items():
        out[k] = v
    # Health data is not for shared caches, and the body is JSON whatever a browser guesses.
    out.headers.setdefault("Cache-Control", "no-store")
    out.headers.setdefault("X-Content-Type-Options", "nosniff")
    if _HSTS:
        out.headers.setdefault("Strict-Transport-Security", _HSTS)
    return out


def _hsts() -> str:
    seconds = getattr(settings, "SECURE_HSTS_SECONDS", 0)
    if not seconds:
        return ""
    value = f"max-age={seconds}"
    if getattr(settings, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False):
        value += "; includeSubDomains"
    return value


_HSTS = _hsts()
