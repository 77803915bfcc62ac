"""Django adapter: one view receives every /fhir request and hands it to the interactions."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ehr.fhir.api.http import FHIR_JSON, FhirRequest, FhirResponse
from ehr.fhir.api.interactions import error_response, handle
from ehr.fhir.errors import FhirError

_HEADERS = (
    "accept",
    "content-type",
    "prefer",
    "if-match",
    "if-none-match",
    "if-none-exist",
    "if-modified-since",
)


def _base_url(request: HttpRequest) -> str:
    if settings.EHR_BASE_URL:
        return settings.EHR_BASE_URL.rstrip("/")
    return f"{request.scheme}://{request.get_host()}/fhir"


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
    return _to_django(handle(req), request.method)


def _to_django(resp: FhirResponse, method: str | None) -> HttpResponse:
    body = resp.body if resp.body is not None and method != "HEAD" else b""
    out = HttpResponse(body, status=resp.status, content_type=FHIR_JSON)
    if resp.body is None and resp.status in (204, 304):
        del out["Content-Type"]
    for k, v in resp.headers.items():
        out[k] = v
    return out
