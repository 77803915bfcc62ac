"""Screens: ``/flow/`` (the board), ``/flow/board`` (its partial, refreshed every 15 s by
htmx), stage changes, rooms, cancellations, and ``/flow/waitlist``.

Every screen runs under the signed-in person's access policy (the identity middleware), so the
engine refuses what the role may not do as well; each board view leaves one audit record.
Forms are plain POSTs that redirect back, so everything works without JavaScript.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ehr.audit.events import record_event
from ehr.fhir.errors import FhirError, Forbidden, NotFound
from ehr.fhir.storage import db
from ehr.flowboard import board as board_mod
from ehr.flowboard import rooms, waitlist
from ehr.flowboard.common import (
    STAFF,
    location_name,
    patient_name,
    practitioner_name,
    resources,
)
from ehr.flowboard.reminders import on_appointment_changed
from ehr.identity.decorators import require_role
from ehr.registration import services
from ehr.registration.search import find_patients
from ehr.scheduling import booking, flow
from ehr.scheduling.common import period, practice_tz
from ehr.scheduling.models import AppointmentType


def engine_errors(view):
    """Engine refusals become 403; a missing appointment 404."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except NotFound as exc:
            raise Http404("No such appointment") from exc

    return wrapped


def _today() -> date:
    return timezone.now().astimezone(practice_tz()).date()


def _context(request: HttpRequest) -> tuple[date, str | None, list[dict]]:
    """The day and location asked for (the location is remembered for the session)."""
    source = request.POST if request.method == "POST" else request.GET
    try:
        day = date.fromisoformat(source.get("day", ""))
    except ValueError:
        day = _today()
    clinics = rooms.clinics()
    refs = {f"Location/{c['id']}" for c in clinics}
    loc = source.get("location")
    if loc is None:
        loc = request.session.get("flow_location")
    if loc and loc not in refs:
        loc = None
    if loc is None and "location" not in source and clinics:
        loc = f"Location/{clinics[0]['id']}"
    request.session["flow_location"] = loc or ""
    return day, loc or None, clinics


def _board_url(day: date, location: str | None, **extra: str) -> str:
    return "/flow/?" + urlencode({"day": day.isoformat(), "location": location or "", **extra})


def _board(request: HttpRequest, day: date, location: str | None) -> tuple[object, float]:
    started = time.perf_counter()
    b = board_mod.build(day, location)
    record_event(
        "search", request.principal, resource_type="Appointment",
        query=urlencode({"date": day.isoformat(), "location": location or ""}),
        detail=f"flow board: {b.total} visits",
    )  # fmt: skip
    return b, started


def _timed(resp: HttpResponse, started: float) -> HttpResponse:
    ms = (time.perf_counter() - started) * 1000
    resp["Server-Timing"] = f'board;dur={ms:.1f};desc="flow board"'
    return resp


def _board_context(b, day: date, location: str | None) -> dict:
    return {
        "board": b,
        "day": day,
        "location": location or "",
        "query": urlencode({"day": day.isoformat(), "location": location or ""}),
        "prev_day": (day - timedelta(days=1)).isoformat(),
        "next_day": (day + timedelta(days=1)).isoformat(),
        "is_today": day == _today(),
        "now": timezone.now().astimezone(practice_tz()),
        "warn_minutes": int(board_mod.warn_minutes()),
    }


@require_role(*STAFF)
@engine_errors
def board_page(request: HttpRequest) -> HttpResponse:
    day, location, clinics = _context(request)
    b, started = _board(request, day, location)
    ctx = _board_context(b, day, location)
    ctx["clinics"] = [(f"Location/{c['id']}", c.get("name", c["id"])) for c in clinics]
    ctx["checked_in"] = _checked_in_panel(request.GET.get("checked_in"))
    body = render_to_string("flowboard/board.html", ctx, request)
    return _timed(HttpResponse(body), started)


@require_role(*STAFF)
@engine_errors
def board_partial(request: HttpRequest) -> HttpResponse:
    day, location, _ = _context(request)
    b, started = _board(request, day, location)
    body = render_to_string("flowboard/_board.html", _board_context(b, day, location), request)
    return _timed(HttpResponse(body), started)


def _checked_in_panel(appointment_id: str | None) -> dict | None:
    """After a check-in: who, and the eligibility link of their primary coverage."""
    if not appointment_id:
        return None
    try:
        appt = booking.get(appointment_id)
    except FhirError:
        return None
    pref = booking.participant_of(appt, "patient") or ""
    pid = pref.split("/", 1)[-1]
    patient = resources({pref}, "Patient").get(pref)
    covs = [c for c in services.coverages(pid) if c.get("status") == "active"]
    primary = covs[0] if covs else None
    payer = ""
    if primary:
        payer = ((primary.get("payor") or [{}])[0]).get("display", "") or "Primary coverage"
    return {"patient": patient_name(patient), "patient_id": pid, "coverage": primary,
            "payer": payer}  # fmt: skip


@require_POST
@require_role(*STAFF)
@engine_errors
def advance(request: HttpRequest, appointment_id: str) -> HttpResponse:
    day, location, _ = _context(request)
    to = request.POST.get("to", "")
    extra: dict[str, str] = {}
    try:
        with db.isolated():
            if to == "no-show":
                booking.mark_no_show(appointment_id)
                on_appointment_changed(appointment_id)
                text = "Marked as no-show."
            else:
                room = request.POST.get("room") or None
                if room and not room.startswith("Location/"):
                    room = None
                flow.advance(appointment_id, to, room=room)
                if to == "arrived":
                    on_appointment_changed(appointment_id)  # pending reminders are cancelled
                    extra["checked_in"] = appointment_id
                text = {
                    "arrived": "Checked in.",
                    "roomed": "Roomed.",
                    "with-provider": "With provider.",
                    "checked-out": "Checked out.",
                }.get(to, "Updated.")
        messages.success(request, text)
    except Forbidden:
        raise
    except FhirError as err:
        messages.error(request, err.message)
    return HttpResponseRedirect(_board_url(day, location, **extra) + f"#card-{appointment_id}")


@require_http_methods(["GET", "POST"])
@require_role(*STAFF)
@engine_errors
def room(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """Pick a room for a patient (rooms in use today are marked)."""
    day, location, _ = _context(request)
    appt = booking.get(appointment_id)
    clinic = booking.participant_of(appt, "clinic") or location
    if request.method == "POST":
        return advance(request, appointment_id)
    choices = rooms.rooms_of(clinic) if clinic else []
    busy = {}
    for row in flow.board(day, location=clinic):
        r = booking.participant_of(row.appointment, "room")
        if r and row.stage in ("roomed", "with-provider"):
            busy[r] = row.appointment["id"]
    pref = booking.participant_of(appt, "patient") or ""
    patient = resources({pref}, "Patient").get(pref)
    record_event(
        "read", request.principal, resource_type="Appointment", resource_id=appointment_id,
        patient=pref.split("/", 1)[-1], detail="flow board: room choice",
    )  # fmt: skip
    return render(
        request,
        "flowboard/room.html",
        {
            "appt": appt,
            "patient": patient_name(patient),
            "rooms": [
                (f"Location/{r['id']}", r.get("name", r["id"]), f"Location/{r['id']}" in busy)
                for r in choices
            ],  # fmt: skip
            "day": day,
            "location": location or "",
            "clinic": location_name(resources({clinic}, "Location").get(clinic)) if clinic else "",
        },
    )


@require_http_methods(["GET", "POST"])
@require_role(*STAFF)
@engine_errors
def cancel(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """Cancel a visit with a reason, then offer the freed time to the waitlist."""
    day, location, _ = _context(request)
    appt = booking.get(appointment_id)
    error = ""
    if request.method == "POST":
        reason = (request.POST.get("reason") or "").strip()
        code = request.POST.get("code") if request.POST.get("code") in ("pat", "prov") else "pat"
        try:
            with db.isolated():
                booking.cancel(appointment_id, reason, code=code)
                on_appointment_changed(appointment_id)
            messages.success(request, "Appointment cancelled. Patients waiting for this time:")
            return HttpResponseRedirect(
                "/flow/waitlist/offer?" + urlencode({"appointment": appointment_id})
            )
        except Forbidden:
            raise
        except FhirError as err:
            error = err.message
    pref = booking.participant_of(appt, "patient") or ""
    patient = resources({pref}, "Patient").get(pref)
    return render(
        request,
        "flowboard/cancel.html",
        {
            "appt": appt,
            "start": period(appt).start.astimezone(practice_tz()),
            "patient": patient_name(patient),
            "error": error,
            "day": day,
            "location": location or "",
        },
    )


# ---------------------------------------------------------------------------- waitlist


def _entry_rows(entries: list[dict]) -> list[dict]:
    refs: set[str] = set()
    for e in entries:
        refs.update(a for a in [booking.participant_of(e, "patient"), *waitlist.providers_of(e)]
                    if a)  # fmt: skip
    patients = resources(refs, "Patient")
    doctors = resources(refs, "Practitioner")
    contacts = dict(waitlist.CONTACTS)
    rows = []
    for e in entries:
        pref = booking.participant_of(e, "patient") or ""
        earliest, latest = waitlist.date_range(e)
        rows.append(
            {
                "id": e["id"],
                "patient": patient_name(patients.get(pref)),
                "patient_id": pref.split("/", 1)[-1],
                "type": (e.get("serviceType") or [{}])[0].get("coding", [{}])[0].get("display")
                or booking.type_code(e),
                "providers": ", ".join(practitioner_name(doctors.get(p))
                                       for p in waitlist.providers_of(e)) or "Any provider",
                "earliest": earliest,
                "latest": latest,
                "contact": contacts.get(waitlist.contact_of(e), "As registered"),
                "notes": e.get("comment", ""),
                "created": e.get("created", ""),
            }
        )  # fmt: skip
    return rows


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
@require_role(*STAFF)
@engine_errors
def waitlist_page(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    data = request.POST if request.method == "POST" else request.GET
    q = (data.get("q") or "").strip()[:120]
    if request.method == "POST" and "add" in request.POST:
        patient = data.get("patient", "")
        earliest, latest = _parse_day(data.get("earliest", "")), _parse_day(data.get("latest", ""))
        if not patient:
            errors["patient"] = "Choose the patient (type a name, then pick one)."
        if not data.get("type"):
            errors["type"] = "Choose the type of visit."
        if data.get("earliest") and earliest is None:
            errors["earliest"] = "Enter a date, for example 2031-03-04."
        if data.get("latest") and latest is None:
            errors["latest"] = "Enter a date, for example 2031-03-18."
        if not errors:
            try:
                entry = waitlist.add(
                    patient=f"Patient/{patient}",
                    appointment_type=data["type"],
                    providers=[p for p in data.getlist("providers") if p],
                    earliest=earliest,
                    latest=latest,
                    notes=data.get("notes", ""),
                    contact=data.get("contact", "")
                    if data.get("contact") in dict(waitlist.CONTACTS)
                    else "",
                )
                messages.success(request, "Added to the waitlist.")
                return HttpResponseRedirect(f"/flow/waitlist#entry-{entry['id']}")
            except Forbidden:
                raise
            except FhirError as err:
                errors["form"] = err.message
    entries = waitlist.entries()
    record_event(
        "search", request.principal, resource_type="Appointment", query="status=waitlist",
        detail=f"waitlist: {len(entries)} entries",
    )  # fmt: skip
    hits = find_patients(q, limit=10) if q else []
    return render(
        request,
        "flowboard/waitlist.html",
        {
            "rows": _entry_rows(entries),
            "types": AppointmentType.objects.filter(active=True),
            "providers": [(f"Practitioner/{i}", n) for i, n in services.practitioners()],
            "contacts": waitlist.CONTACTS,
            "data": data,
            "chosen": data.getlist("providers"),
            "errors": errors,
            "q": q,
            "hits": hits,
        },
    )


@require_role(*STAFF)
@engine_errors
def waitlist_patients(request: HttpRequest) -> HttpResponse:
    """The type-ahead's choices (radio buttons) for the add form."""
    q = (request.GET.get("q") or "").strip()[:120]
    hits = find_patients(q, limit=10) if q else []
    if q:
        record_event(
            "search", request.principal, resource_type="Patient", query=f"q={q}",
            detail=f"waitlist patient search: {len(hits)} found",
        )  # fmt: skip
    return render(request, "flowboard/_patient_choices.html", {"q": q, "hits": hits})


@require_POST
@require_role(*STAFF)
@engine_errors
def waitlist_remove(request: HttpRequest, entry_id: str) -> HttpResponse:
    try:
        waitlist.remove(entry_id)
        messages.success(request, "Removed from the waitlist.")
    except Forbidden:
        raise
    except FhirError as err:
        messages.error(request, err.message)
    return HttpResponseRedirect("/flow/waitlist")


@require_role(*STAFF)
@engine_errors
def waitlist_offer(request: HttpRequest) -> HttpResponse:
    """A freed time and the waitlist entries it suits, each with a Book button."""
    freed_id = request.GET.get("appointment", "")
    freed = booking.get(freed_id)
    found = waitlist.matches(freed)
    record_event(
        "search", request.principal, resource_type="Appointment",
        query=f"status=waitlist&freed={freed_id}", detail=f"waitlist offer: {len(found)} match",
    )  # fmt: skip
    prov = booking.participant_of(freed, "provider") or ""
    clinic = booking.participant_of(freed, "clinic") or ""
    names = resources({prov}, "Practitioner")
    places = resources({clinic}, "Location")
    return render(
        request,
        "flowboard/offer.html",
        {
            "freed": freed,
            "start": period(freed).start.astimezone(practice_tz()),
            "end": period(freed).end.astimezone(practice_tz()),
            "provider": practitioner_name(names.get(prov)),
            "clinic": location_name(places.get(clinic)),
            "rows": _entry_rows(found),
            "still_free": freed["status"] == "cancelled",
        },
    )


@require_POST
@require_role(*STAFF)
@engine_errors
def waitlist_book(request: HttpRequest, entry_id: str) -> HttpResponse:
    freed_id = request.POST.get("appointment", "")
    try:
        appt = waitlist.book_from(entry_id, freed_id)
    except Forbidden:
        raise
    except FhirError as err:
        messages.error(request, err.message)
        return HttpResponseRedirect("/flow/waitlist/offer?" + urlencode({"appointment": freed_id}))
    start = period(appt).start.astimezone(practice_tz())
    messages.success(request, f"Booked for {start:%d-%b-%Y %H:%M}; reminders are queued.")
    return HttpResponseRedirect(_board_url(start.date(), booking.participant_of(appt, "clinic")))
