"""The eligibility screen and the payer simulator's HTTP endpoint."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from ehr.eligibility import simulator
from ehr.eligibility.presenter import summarize
from ehr.eligibility.service import (
    EligibilityError,
    check_eligibility,
    exchange_texts,
    latest_response,
)
from ehr.fhir.errors import FhirError, Forbidden, Gone, NotFound
from ehr.fhir.storage import repository
from ehr.formats.x12.tokens import X12Error, read_delimiters
from ehr.identity.decorators import require_role

STAFF = ("admin", "front_desk", "provider", "nurse", "biller")
MAX_270 = 1024 * 1024


def _readable(text: str) -> str:
    """One segment per line, for people."""
    try:
        terminator = read_delimiters(text).segment
    except X12Error:
        return text
    if "\n" in text.strip():
        return text
    return text.replace(terminator, terminator + "\n")


def _patient_name(patient: dict) -> str:
    names = patient.get("name") or []
    if not names:
        return "(no name)"
    name = names[0]
    return " ".join([*(name.get("given") or []), name.get("family", "")]).strip() or "(no name)"


@require_role(*STAFF)
@require_http_methods(["GET", "POST"])
def coverage_eligibility(request: HttpRequest, coverage_id: str) -> HttpResponse:
    """Latest eligibility answer for a coverage, and a button to ask again."""
    try:
        coverage = repository.read("Coverage", coverage_id).resource()
    except (NotFound, Gone):
        raise Http404("No such coverage") from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    if request.method == "POST":
        try:
            check_eligibility(coverage_id)
        except Forbidden:
            messages.error(request, "Your role may view eligibility answers but not ask payers.")
        except EligibilityError as exc:
            messages.error(request, str(exc))
        except FhirError as exc:
            messages.error(request, f"The answer could not be stored: {exc.message}")
        return HttpResponseRedirect(request.path)
    patient_ref = (coverage.get("beneficiary") or {}).get("reference", "")
    patient = None
    if patient_ref.startswith("Patient/"):
        try:
            patient = repository.read("Patient", patient_ref.split("/", 1)[1]).resource()
        except FhirError:
            patient = None
    response = latest_response(coverage_id, patient_ref) if patient_ref else None
    texts = exchange_texts(response["id"]) if response else None
    payers = [p.get("display") or p.get("reference", "") for p in coverage.get("payor") or []]
    context = {
        "coverage": coverage,
        "coverage_id": coverage_id,
        "payer": ", ".join(payers),
        "member_id": coverage.get("subscriberId", ""),
        "patient_name": _patient_name(patient) if patient else patient_ref,
        "patient_id": patient_ref.split("/", 1)[1] if "/" in patient_ref else "",
        "summary": summarize(response) if response else None,
        "x270": _readable(texts[0]) if texts else "",
        "x271": _readable(texts[1]) if texts else "",
    }
    return render(request, "eligibility/coverage.html", context)


@csrf_exempt
@require_POST
def simulator_endpoint(request: HttpRequest) -> HttpResponse:
    """The payer simulator over HTTP: POST a 270 (application/edi-x12), get the 271.

    For demonstrations and for pointing ``HttpClearinghouse`` at; it stores nothing."""
    body = request.body
    if len(body) > MAX_270:
        return HttpResponse("The 270 is larger than 1 MB\n", status=413, content_type="text/plain")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return HttpResponse("The 270 must be UTF-8 text\n", status=400, content_type="text/plain")
    try:
        answer = simulator.answer_270(text)
    except simulator.SimulatorError as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(answer, content_type="application/edi-x12")
