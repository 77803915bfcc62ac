"""Screens: ``/admin/schedule/`` (overview), ``hours/?actor=...`` (a provider's or room's weekly
shifts), ``exceptions/`` (holidays, vacations, out of office) and ``types/`` (visit types).

Administrator only. These are configuration models, not FHIR (see ``scheduling.models``), so
the screens write them directly; every change is saved together with its audit record ("update"
with the model's name as resource type) in one transaction. Plain POST forms that redirect
back: everything works without JavaScript.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ehr.audit.events import record_event
from ehr.identity.decorators import require_role
from ehr.schedule_settings.forms import (
    ACTOR_RE,
    DAY_NAMES,
    ExceptionForm,
    ShiftForm,
    TypeForm,
    clinics_and_rooms,
    directory,
    display_names,
)
from ehr.scheduling.common import practice_tz
from ehr.scheduling.models import WEEKDAYS, AppointmentType, ScheduleException, WorkingHours

admin_only = require_role("admin")


def _audit(request: HttpRequest, rtype: str, rid: object, detail: str) -> None:
    record_event("update", request.principal, resource_type=rtype, resource_id=str(rid),
                 detail=detail)  # fmt: skip


def _shift_text(s: WorkingHours, names: dict[str, str] | None = None) -> str:
    where = (names or {}).get(s.location, s.location)
    valid = ""
    if s.valid_from or s.valid_to:
        valid = f" ({s.valid_from or '…'} to {s.valid_to or '…'})"
    return f"{DAY_NAMES[s.weekday]} {s.start:%H:%M}–{s.end:%H:%M} at {where}{valid}"


# ---------------------------------------------------------------------------- overview


@admin_only
def overview(request: HttpRequest) -> HttpResponse:
    providers = directory("Practitioner")
    clinics, rooms = clinics_and_rooms()
    locations = rooms + clinics
    shifts = Counter(WorkingHours.objects.values_list("actor", flat=True))
    names = display_names(shifts, providers, locations)
    known = {r for r, _ in providers} | {r for r, _ in locations}
    orphans = sorted(a for a in shifts if a not in known)
    now = timezone.now()
    return render(request, "schedule_settings/overview.html", {
        "tab": "overview",
        "providers": [(r, n, shifts.get(r, 0)) for r, n in providers],
        "rooms": [(r, n, shifts.get(r, 0)) for r, n in locations],
        "orphans": [(r, names[r], shifts[r]) for r in orphans],
        "upcoming": ScheduleException.objects.filter(end__gt=now).count(),
        "types_active": AppointmentType.objects.filter(active=True).count(),
        "types_all": AppointmentType.objects.count(),
    })  # fmt: skip


# ---------------------------------------------------------------------------- weekly hours


def _hours_url(actor: str) -> str:
    return "/admin/schedule/hours/?" + urlencode({"actor": actor})


@admin_only
@require_http_methods(["GET", "POST"])
def hours(request: HttpRequest) -> HttpResponse:
    actor = (request.GET.get("actor") or request.POST.get("actor") or "").strip()
    if not actor:
        return HttpResponseRedirect("/admin/schedule/")
    if not ACTOR_RE.match(actor):
        raise Http404("Not a provider, room or device reference")
    providers = directory("Practitioner")
    clinics, rooms = clinics_and_rooms()
    locations = clinics + rooms
    if request.method == "POST":
        form = ShiftForm(request.POST, actor=actor, clinics=clinics, rooms=rooms)
        if form.is_valid():
            d = form.cleaned_data
            with transaction.atomic():
                shift = WorkingHours.objects.create(
                    actor=actor, location=d["location"], weekday=d["weekday"], start=d["start"],
                    end=d["end"], valid_from=d["valid_from"], valid_to=d["valid_to"],
                )  # fmt: skip
                _audit(request, "WorkingHours", shift.pk, f"added shift {actor} {shift}")
            names = dict(locations)
            messages.success(request, f"Shift added: {_shift_text(shift, names)}.")
            return HttpResponseRedirect(_hours_url(actor))
    else:
        initial = {}
        if request.GET.get("weekday", "").isdigit() and int(request.GET["weekday"]) < 7:
            initial["weekday"] = int(request.GET["weekday"])
        form = ShiftForm(initial=initial, actor=actor, clinics=clinics, rooms=rooms)
    shifts = list(WorkingHours.objects.filter(actor=actor))
    names = display_names([actor] + [s.location for s in shifts], providers, locations)
    for s in shifts:
        s.location_name = names[s.location]
    days = [
        {"weekday": wd, "name": name, "shifts": [s for s in shifts if s.weekday == wd]}
        for wd, name in WEEKDAYS
    ]
    return render(request, "schedule_settings/hours.html", {
        "tab": "hours", "actor": actor, "actor_name": names[actor], "days": days,
        "names": names, "form": form, "providers": providers, "locations": locations,
        "is_room": actor.startswith("Location/"),
    })  # fmt: skip


@admin_only
@require_POST
def remove_shift(request: HttpRequest, shift_id: int) -> HttpResponse:
    shift = get_object_or_404(WorkingHours, pk=shift_id)
    actor, text = shift.actor, str(shift)
    with transaction.atomic():
        shift.delete()
        _audit(request, "WorkingHours", shift_id, f"removed shift {text}")
    messages.success(request, "Shift removed. Booked visits in it stay booked.")
    return HttpResponseRedirect(_hours_url(actor))


# ---------------------------------------------------------------------------- exceptions


@admin_only
@require_http_methods(["GET", "POST"])
def exceptions(request: HttpRequest) -> HttpResponse:
    providers = directory("Practitioner")
    clinics, rooms = clinics_and_rooms()
    places = dict(providers=providers, clinics=clinics, rooms=rooms)
    if request.method == "POST":
        form = ExceptionForm(request.POST, **places)
        if form.is_valid():
            d = form.cleaned_data
            with transaction.atomic():
                exc = ScheduleException.objects.create(
                    actor=d["actor"], location=d["location"], start=d["start"], end=d["end"],
                    reason=d["reason_text"],
                )  # fmt: skip
                _audit(request, "ScheduleException", exc.pk, f"added exception {exc}")
            messages.success(request, f"Time off added: {d['reason_text']}.")
            return HttpResponseRedirect("/admin/schedule/exceptions/")
    else:
        form = ExceptionForm(**places)
    show_past = request.GET.get("past") == "1"
    rows = ScheduleException.objects.order_by("start")
    if not show_past:
        rows = rows.filter(end__gt=timezone.now())
    rows = list(rows[:500])
    refs = [r.actor for r in rows] + [r.location for r in rows]
    names = display_names(refs, providers, clinics, rooms)
    tz = practice_tz()
    for r in rows:
        r.actor_name, r.location_name = names[r.actor], names[r.location]
        r.from_text, r.until_text = _when(r.start.astimezone(tz)), _until(r.end.astimezone(tz))
    return render(request, "schedule_settings/exceptions.html", {
        "tab": "exceptions", "form": form, "rows": rows, "show_past": show_past,
    })  # fmt: skip


def _when(t: datetime) -> str:
    return f"{t:%a %d-%b-%Y}" if t.time() == time(0) else f"{t:%a %d-%b-%Y %H:%M}"


def _until(t: datetime) -> str:
    """An end at midnight is shown as the end of the day before ("end of Fri 11-Dec-2026")."""
    if t.time() == time(0):
        return f"end of {t - timedelta(days=1):%a %d-%b-%Y}"
    return f"{t:%a %d-%b-%Y %H:%M}"


@admin_only
@require_POST
def remove_exception(request: HttpRequest, exception_id: int) -> HttpResponse:
    exc = get_object_or_404(ScheduleException, pk=exception_id)
    text = str(exc)
    with transaction.atomic():
        exc.delete()
        _audit(request, "ScheduleException", exception_id, f"removed exception {text}")
    messages.success(request, "Time off removed.")
    return HttpResponseRedirect("/admin/schedule/exceptions/")


# ---------------------------------------------------------------------------- visit types


def _type_detail(t: AppointmentType) -> str:
    who = ", ".join(t.allowed_actors) or "any provider"
    state = "active" if t.active else "inactive"
    return f"{t.code} '{t.name}' {t.duration_minutes} min {t.colour} ({who}; {state})"


@admin_only
@require_http_methods(["GET", "POST"])
def types(request: HttpRequest) -> HttpResponse:
    providers = directory("Practitioner")
    if request.method == "POST":
        form = TypeForm(request.POST, providers=providers)
        if form.is_valid():
            with transaction.atomic():
                t = form.save()
                _audit(request, "AppointmentType", t.pk, f"added type {_type_detail(t)}")
            messages.success(request, f"Visit type “{t.name}” added. It can be booked now.")
            return HttpResponseRedirect("/admin/schedule/types/")
    else:
        form = TypeForm(providers=providers)
    rows = list(AppointmentType.objects.all())
    names = display_names({a for t in rows for a in t.allowed_actors}, providers)
    for t in rows:
        t.provider_names = [names[a] for a in t.allowed_actors]
    return render(request, "schedule_settings/types.html", {
        "tab": "types", "form": form, "rows": rows,
    })  # fmt: skip


@admin_only
@require_http_methods(["GET", "POST"])
def edit_type(request: HttpRequest, type_id: int) -> HttpResponse:
    t = get_object_or_404(AppointmentType, pk=type_id)
    providers = directory("Practitioner")
    if request.method == "POST":
        form = TypeForm(request.POST, instance=t, providers=providers)
        if form.is_valid():
            with transaction.atomic():
                t = form.save()
                _audit(request, "AppointmentType", t.pk, f"changed type {_type_detail(t)}")
            messages.success(request, f"Visit type “{t.name}” saved.")
            return HttpResponseRedirect("/admin/schedule/types/")
    else:
        form = TypeForm(instance=t, providers=providers)
    return render(request, "schedule_settings/type_form.html", {
        "tab": "types", "form": form, "type": t,
    })  # fmt: skip


@admin_only
@require_POST
def toggle_type(request: HttpRequest, type_id: int) -> HttpResponse:
    t = get_object_or_404(AppointmentType, pk=type_id)
    t.active = request.POST.get("active") == "1"
    with transaction.atomic():
        t.save(update_fields=["active"])
        verb = "reactivated" if t.active else "deactivated"
        _audit(request, "AppointmentType", t.pk, f"{verb} type {_type_detail(t)}")
    if t.active:
        messages.success(request, f"Visit type “{t.name}” is bookable again.")
    else:
        messages.success(request, f"Visit type “{t.name}” deactivated: booked visits keep it, "
                                  "new ones cannot use it.")  # fmt: skip
    return HttpResponseRedirect("/admin/schedule/types/")
