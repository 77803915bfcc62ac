"""Front-desk screens: search, chart shell, registration, duplicates, merge, coverage, documents.

Every screen reads and writes through the engine under the signed-in person's policy (the
identity middleware installs it), so a role without a permission gets 403 from the engine as
well as from ``require_role``. Reads are audited here (``read`` with the patient, ``search``
with the query text); writes are audited in ``services``.
"""

from __future__ import annotations

import base64
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from ehr.audit.events import record_event
from ehr.fhir.errors import FhirError, Forbidden, Gone, NotFound
from ehr.fhir.storage import repository
from ehr.fhir.validation.issues import ValidationFailed
from ehr.identity.decorators import require_role
from ehr.registration import banner as banner_mod
from ehr.registration import codes, services
from ehr.registration.forms import CoverageForm, DocumentForm, MergeForm, RegistrationForm
from ehr.registration.matching import PROBABLE
from ehr.registration.search import find_patients

STAFF = ("admin", "provider", "nurse", "front_desk", "biller")
REGISTRARS = ("admin", "provider", "nurse", "front_desk")

# Where validation paths from the engine land on the registration form.
_PATH_FIELDS = {
    "Patient.name": "family",
    "Patient.birthDate": "birth_date",
    "Patient.gender": "gender",
    "Patient.telecom": "phone_mobile",
    "Patient.address": "addr1_line1",
    "Patient.contact": "ec1_family",
    "Patient.communication": "language",
    "Patient.generalPractitioner": "pcp",
    "RelatedPerson": "g_family",
    "Coverage.period": "start",
    "Coverage.identifier": "member_id",
    "Coverage.payor": "payer",
    "Coverage.class": "group_number",
}


def engine_denials_are_403(view):
    """The engine refuses what the role may not do; the screen answers 403, not a stack trace."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc

    return wrapped


def _add_engine_errors(form, exc: ValidationFailed) -> None:
    """Put each validation issue beside the field its path belongs to (or on the form)."""
    for issue in exc.issues:
        if issue.severity != "error":
            continue
        path = issue.expression or ""
        field = next((f for p, f in _PATH_FIELDS.items() if path.startswith(p)), None)
        form.add_error(field if field in form.fields else None, issue.message)


def _banner(request: HttpRequest, patient_id: str) -> dict:
    """The banner for a patient screen, audited as a read of the patient's record."""
    try:
        ctx = banner_mod.banner_context(patient_id)
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    except (NotFound, Gone) as exc:
        raise Http404("No such patient") from exc
    return ctx


def _read_event(request: HttpRequest, patient_id: str, what: str, rtype: str = "Patient",
                rid: str | None = None) -> None:  # fmt: skip
    record_event(
        "read",
        request.principal,
        resource_type=rtype,
        resource_id=rid or (patient_id if rtype == "Patient" else None),
        patient=patient_id,
        detail=what,
    )


# ---------------------------------------------------------------------------- search


@require_role(*STAFF)
@engine_denials_are_403
def search(request: HttpRequest) -> HttpResponse:
    """``/patients/search?q=``: a results fragment for htmx, the full page otherwise."""
    q = (request.GET.get("q") or "").strip()[:120]
    hits = []
    if q:
        try:
            hits = find_patients(q, limit=20 if request.headers.get("HX-Request") else 50)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        record_event(
            "search", request.principal, resource_type="Patient", query=f"q={q}",
            detail=f"patient search: {len(hits)} found",
        )  # fmt: skip
    ctx = {"q": q, "hits": hits}
    if request.headers.get("HX-Request"):
        return render(request, "registration/_search_results.html", ctx)
    return render(request, "registration/search.html", ctx)


# ---------------------------------------------------------------------------- chart


@require_role(*STAFF)
@engine_denials_are_403
def chart(request: HttpRequest, patient_id: str) -> HttpResponse:
    ctx = _banner(request, patient_id)
    _read_event(request, patient_id, "chart")
    patient = ctx["resource"]
    return render(
        request,
        "registration/chart.html",
        {"banner": ctx, "tab": "demographics", "details": _details(patient)},
    )


def _details(patient: dict) -> list[tuple[str, str]]:
    """Demographics as label/value rows for the chart's first tab."""
    from ehr.registration.fhirmap import initial_from_patient

    v = initial_from_patient(patient, None, "")
    nk = banner_mod.NOT_KNOWN

    def label(options, code):
        return dict(options).get(code, code) if code else nk

    race_names = dict(codes.OMB_RACE + [codes.RACE_DECLINED, codes.RACE_UNKNOWN])
    detail = dict(codes.DETAILED_RACE)
    race = ", ".join(race_names.get(c, c) for c in v.get("race", []))
    if v.get("race_detailed"):
        race += " (" + ", ".join(detail.get(c, c) for c in v["race_detailed"]) + ")"
    eth = dict(codes.OMB_ETHNICITY + [codes.RACE_DECLINED, codes.RACE_UNKNOWN])
    addresses = []
    for a in patient.get("address") or []:
        text = ", ".join(
            p for p in [" ".join(a.get("line") or []), a.get("city", ""),
                        " ".join(x for x in (a.get("state", ""), a.get("postalCode", "")) if x)]
            if p
        )  # fmt: skip
        addresses.append(f"{text} ({a.get('use', 'home')})")
    phones = [
        f"{t.get('value')} ({t.get('use', '')}{', preferred' if t.get('rank') == 1 else ''})"
        for t in patient.get("telecom") or []
    ]
    contacts = []
    for c in patient.get("contact") or []:
        name = c.get("name") or {}
        rel = [banner_mod.concept_text(r) for r in c.get("relationship") or []]
        phone = next((t.get("value") for t in c.get("telecom") or []), "")
        who = f"{' '.join(name.get('given') or [])} {name.get('family', '')}"
        contacts.append(f"{who} — {', '.join(rel)} {phone}")
    old = [n for n in patient.get("name") or [] if n.get("use") == "old"]
    return [
        ("Previous names", "; ".join(banner_mod.display_name(n) for n in old) or "None recorded"),
        (
            "Gender identity",
            label([(c, d) for _, c, d in codes.GENDER_IDENTITY], v.get("gender_identity")),
        ),
        ("Pronouns", label(codes.PRONOUNS, v.get("pronouns"))),
        ("Race", race or nk),
        ("Ethnicity", eth.get(v.get("ethnicity", ""), nk)),
        ("Preferred language", label(codes.LANGUAGES, v.get("language"))),
        ("Preferred contact", label(codes.CONTACT_METHODS, v.get("contact_method"))),
        ("Phones and email", "; ".join(phones) or nk),
        ("Addresses", "; ".join(addresses) or nk),
        ("Emergency contacts", "; ".join(contacts) or "None recorded"),
        (
            "Primary care provider",
            next(
                (
                    g.get("display") or g.get("reference", "")
                    for g in patient.get("generalPractitioner") or []
                ),
                nk,
            ),
        ),
    ]


# ---------------------------------------------------------------------------- registration


def _registration_form(request: HttpRequest, initial: dict | None = None) -> RegistrationForm:
    data = request.POST if request.method == "POST" else None
    return RegistrationForm(data, initial=initial, practitioners=services.practitioners())


def _save_registration(request, form, patient_id: str | None):
    """Checks for duplicates, then writes; returns a redirect, or None with errors on the form."""
    data = form.cleaned_data
    dupes = services.duplicate_candidates(services.person_from_form(data), exclude=patient_id)
    probable = [d for d in dupes if d.match.score >= PROBABLE]
    if probable and not data.get("not_duplicate") and patient_id is None:
        form.add_error(
            "not_duplicate",
            "This looks like a patient we already have. Open the existing record, or tick "
            "this box if this is a different person.",
        )
        return None, dupes
    try:
        if patient_id is None:
            patient_id = services.register(data, request.principal)
            messages.success(request, "Patient registered.")
        else:
            services.update_demographics(patient_id, data, request.principal)
            messages.success(request, "Demographics saved.")
    except ValidationFailed as exc:
        _add_engine_errors(form, exc)
        return None, dupes
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    return HttpResponseRedirect(f"/patients/{patient_id}/"), dupes


@require_role(*REGISTRARS)
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    form = _registration_form(request)
    dupes = []
    if request.method == "POST" and form.is_valid():
        done, dupes = _save_registration(request, form, None)
        if done:
            return done
    return render(
        request,
        "registration/register.html",
        {"form": form, "duplicates": dupes, "editing": False, "banner": None},
        status=400 if request.method == "POST" else 200,
    )


@require_role(*REGISTRARS)
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, patient_id: str) -> HttpResponse:
    ctx = _banner(request, patient_id)
    _, initial = services.form_initial(patient_id)
    _read_event(request, patient_id, "demographics form")
    form = _registration_form(request, initial)
    if request.method == "POST" and form.is_valid():
        done, _ = _save_registration(request, form, patient_id)
        if done:
            return done
    return render(
        request,
        "registration/register.html",
        {"form": form, "duplicates": [], "editing": True, "banner": ctx, "tab": "demographics"},
        status=400 if request.method == "POST" else 200,
    )


@require_role(*REGISTRARS)
@engine_denials_are_403
@require_http_methods(["POST"])
def duplicates(request: HttpRequest) -> HttpResponse:
    """htmx: possible duplicates of what is typed so far (a fragment beside the form)."""
    form = RegistrationForm(request.POST)
    form.is_valid()  # partial data: use whatever fields are clean
    data = dict(form.cleaned_data)
    person = services.person_from_form(data)
    found = []
    if (person.family and person.given) or person.birth_date or person.phones:
        found = services.duplicate_candidates(
            person, exclude=request.POST.get("patient_id") or None
        )
        record_event(
            "search", request.principal, resource_type="Patient",
            query="duplicate-check", detail=f"duplicate check: {len(found)} candidates",
        )  # fmt: skip
    return render(request, "registration/_duplicates.html", {"duplicates": found})


# ---------------------------------------------------------------------------- merge


@require_role("admin")
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def merge(request: HttpRequest) -> HttpResponse:
    """Two steps: choose and compare (nothing changes), then confirm (everything moves)."""
    form = MergeForm(request.POST or request.GET or None)
    compare = None
    if form.is_bound and form.is_valid():
        src = services.resolve_patient(form.cleaned_data["source"])
        tgt = services.resolve_patient(form.cleaned_data["target"])
        if src is None:
            form.add_error("source", "No patient has that MRN or record id.")
        if tgt is None:
            form.add_error("target", "No patient has that MRN or record id.")
        if src and tgt and src == tgt:
            form.add_error("target", "Choose a different record from the one to retire.")
        if src and tgt and not form.errors:
            compare = {
                "source": _banner(request, src),
                "target": _banner(request, tgt),
                "refs": services.referring(src),
            }
            _read_event(request, src, "merge review")
            _read_event(request, tgt, "merge review")
            if compare["source"]["replaced_by"]:
                form.add_error("source", "That record was already merged into another one.")
            elif request.method == "POST" and request.POST.get("step") == "confirm":
                if not form.cleaned_data.get("confirm"):
                    form.add_error("confirm", "Tick this box to confirm they are the same person.")
                else:
                    result = services.merge(src, tgt, request.principal)
                    messages.success(
                        request,
                        f"Merged. {len(result.moved)} linked records now point at the kept record; "
                        "the duplicate is kept, read-only, as replaced.",
                    )
                    return HttpResponseRedirect(f"/patients/{tgt}/")
    return render(request, "registration/merge.html", {"form": form, "compare": compare})


# ---------------------------------------------------------------------------- coverage


@require_role(*STAFF)
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def coverage(request: HttpRequest, patient_id: str, coverage_id: str | None = None) -> HttpResponse:
    ctx = _banner(request, patient_id)
    existing = None
    if coverage_id:
        try:
            existing = repository.read("Coverage", coverage_id).resource()
        except (NotFound, Gone) as exc:
            raise Http404("No such coverage") from exc
        if (existing.get("beneficiary") or {}).get("reference") != f"Patient/{patient_id}":
            raise Http404("No such coverage")
    items = services.coverages(patient_id)
    _read_event(request, patient_id, "coverage list", "Coverage", coverage_id or None)
    initial = _coverage_initial(existing) if existing else {"order": _next_order(items)}
    form = CoverageForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        payers=services.payers(),
        subscribers=services.related_people(patient_id),
    )
    if request.method == "POST" and form.is_valid():
        clash = [
            c for c in items
            if c.get("order") == form.cleaned_data["order"] and c.get("status") == "active"
            and c.get("id") != (existing or {}).get("id")
        ]  # fmt: skip
        if clash:
            name = (clash[0].get("payor") or [{}])[0].get("display", "another payer")
            rank = dict(codes.COVERAGE_ORDER)[form.cleaned_data["order"]].lower()
            form.add_error(
                "order",
                f"{name} is already {rank}. Change that coverage first, or choose another order.",
            )
        else:
            try:
                services.save_coverage(patient_id, form.cleaned_data, request.principal, existing)
            except ValidationFailed as exc:
                _add_engine_errors(form, exc)
            except Forbidden as exc:
                raise PermissionDenied(str(exc)) from exc
            else:
                messages.success(request, "Coverage saved.")
                return HttpResponseRedirect(f"/patients/{patient_id}/coverage")
    rows = [_coverage_row(c) for c in items]
    return render(
        request,
        "registration/coverage.html",
        {"banner": ctx, "tab": "coverage", "rows": rows, "form": form, "editing": existing},
        status=400 if request.method == "POST" else 200,
    )


def _next_order(items: list[dict]) -> int:
    used = {c.get("order") for c in items if c.get("status") == "active"}
    return next((n for n in (1, 2, 3) if n not in used), 3)


def _class_value(cov: dict, kind: str, key: str = "value") -> str:
    for c in cov.get("class") or []:
        if any(x.get("code") == kind for x in (c.get("type") or {}).get("coding", [])):
            return c.get(key) or c.get("value", "")
    return ""


def _coverage_row(cov: dict) -> dict:
    order = cov.get("order")
    period = cov.get("period") or {}
    member = next(
        (i.get("value") for i in cov.get("identifier") or []
         if any(c.get("code") == "MB" for c in (i.get("type") or {}).get("coding", []))),
        cov.get("subscriberId", ""),
    )  # fmt: skip
    return {
        "id": cov.get("id"),
        "order": dict(codes.COVERAGE_ORDER).get(order, "Not set") if order else "Not set",
        "payer": ", ".join(
            p.get("display", p.get("reference", "")) for p in cov.get("payor") or []
        ),
        "plan": _class_value(cov, "plan", "name") or banner_mod.NOT_KNOWN,
        "member": member or banner_mod.NOT_KNOWN,
        "group": _class_value(cov, "group") or "None",
        "relationship": banner_mod.concept_text(cov.get("relationship")) or banner_mod.NOT_KNOWN,
        "subscriber": (cov.get("subscriber") or {}).get("reference", ""),
        "period": f"{banner_mod.format_date(period.get('start'))} to "
        + (banner_mod.format_date(period.get("end")) if period.get("end") else "no end date"),
        "status": cov.get("status", ""),
    }


def _coverage_initial(cov: dict) -> dict:
    payer = ((cov.get("payor") or [{}])[0].get("reference") or "").split("/")[-1]
    member = next(
        (i.get("value") for i in cov.get("identifier") or []), cov.get("subscriberId", "")
    )
    sub = (cov.get("subscriber") or {}).get("reference", "")
    kind = next((c.get("code") for c in (cov.get("type") or {}).get("coding", [])), "")
    rel = next((c.get("code") for c in (cov.get("relationship") or {}).get("coding", [])), "self")
    period = cov.get("period") or {}
    return {
        "order": cov.get("order") or 1,
        "payer": payer,
        "kind": kind,
        "plan_name": _class_value(cov, "plan", "name"),
        "member_id": member,
        "subscriber_id": cov.get("subscriberId", "") if cov.get("subscriberId") != member else "",
        "group_number": _class_value(cov, "group"),
        "relationship": rel,
        "subscriber": sub.split("/")[-1] if sub.startswith("RelatedPerson/") else "",
        "start": banner_mod.format_date(period["start"]) if period.get("start") else "",
        "end": banner_mod.format_date(period["end"]) if period.get("end") else "",
    }


# ---------------------------------------------------------------------------- documents


@require_role(*STAFF)
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def documents(request: HttpRequest, patient_id: str) -> HttpResponse:
    ctx = _banner(request, patient_id)
    form = DocumentForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > services.MAX_DOCUMENT_BYTES:
            form.add_error("file", "The file is larger than 10 MB; scan at a lower resolution.")
        else:
            content = upload.read()
            ctype = services.sniff(content)
            if ctype is None:
                form.add_error("file", "Only JPEG, PNG or PDF files can be stored.")
            else:
                try:
                    services.save_document(
                        patient_id,
                        form.cleaned_data["kind"],
                        form.cleaned_data.get("description", ""),
                        upload.name or "document",
                        content,
                        ctype,
                        request.principal,
                    )
                except Forbidden as exc:
                    raise PermissionDenied(str(exc)) from exc
                messages.success(request, "Document stored.")
                return HttpResponseRedirect(f"/patients/{patient_id}/documents")
    docs = services.documents(patient_id)
    _read_event(request, patient_id, "document list", "DocumentReference")
    rows = []
    for d in docs:
        att = ((d.get("content") or [{}])[0]).get("attachment") or {}
        rows.append(
            {
                "id": d["id"],
                "kind": banner_mod.concept_text(d.get("type")) or "Document",
                "description": d.get("description", ""),
                "title": att.get("title", ""),
                "date": banner_mod.format_date((d.get("date") or "")[:10]),
                "size": f"{(att.get('size') or 0) / 1024:,.0f} KB",
                "type": att.get("contentType", ""),
                "image": (att.get("contentType") or "").startswith("image/"),
            }
        )
    return render(
        request,
        "registration/documents.html",
        {"banner": ctx, "tab": "documents", "rows": rows, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@require_role(*STAFF)
@engine_denials_are_403
def document_file(request: HttpRequest, patient_id: str, doc_id: str) -> HttpResponse:
    """The stored file, with its content type; audited as a read of the document."""
    try:
        doc = repository.read("DocumentReference", doc_id).resource()
        if (doc.get("subject") or {}).get("reference") != f"Patient/{patient_id}":
            raise Http404("No such document")
        att = ((doc.get("content") or [{}])[0]).get("attachment") or {}
        url = att.get("url") or ""
        if not url.startswith("Binary/"):
            raise Http404("The document has no stored file")
        binary = repository.read("Binary", url.split("/", 1)[1]).resource()
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    except (NotFound, Gone, FhirError) as exc:
        raise Http404("No such document") from exc
    content = base64.b64decode(binary.get("data") or "")
    ctype = binary.get("contentType") or "application/octet-stream"
    if ctype not in ("image/png", "image/jpeg", "application/pdf"):
        ctype = "application/octet-stream"
    _read_event(request, patient_id, "document file", "DocumentReference", doc_id)
    resp = HttpResponse(content, content_type=ctype)
    title = "".join(ch for ch in (att.get("title") or "document") if ch.isalnum() or ch in "._- ")
    disposition = "attachment" if request.GET.get("download") else "inline"
    resp["Content-Disposition"] = f'{disposition}; filename="{title or "document"}"'
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, no-store"
    return resp


@require_role(*STAFF)
@engine_denials_are_403
def appointments(request: HttpRequest, patient_id: str) -> HttpResponse:
    ctx = _banner(request, patient_id)
    _read_event(request, patient_id, "appointments tab")
    from ehr.appointments.views import patient_appointments

    return render(
        request,
        "registration/appointments.html",
        {"banner": ctx, "tab": "appointments", "appointments": patient_appointments(patient_id)},
    )
