"""Appointment book screens. Thin views over ``ehr.scheduling``: every engine call runs under
the signed-in person's access policy (the identity middleware installs it), so the engine
decides what the role may read and write; ``require_role`` only keeps other roles out.

Each calendar view leaves one audit record (``search`` on Appointment), not one per block.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehr.appointments import layout
from ehr.appointments.forms import (
    BookingForm,
    CancelForm,
    NextAvailableForm,
    RescheduleForm,
    plus_minutes,
    rrule_for,
    rrule_words,
    time_of,
)
from ehr.audit.events import record_event
from ehr.fhir.errors import FhirError, Forbidden, Gone, NotFound
from ehr.identity.decorators import require_role
from ehr.registration.banner import display_name, official_name
from ehr.registration.search import find_patients
from ehr.scheduling import availability, booking, series
from ehr.scheduling.common import (
    Interval,
    SchedulingError,
    actors_of,
    appointments_overlapping,
    events_overlapping,
    is_event,
    local_midnight,
    parse_instant,
    period,
    practice_tz,
    search_all,
)
from ehr.scheduling.models import AppointmentType, WorkingHours

ROLES = ("admin", "front_desk", "provider", "nurse")
HIDDEN = ("cancelled", "entered-in-error")


def screen(view):
    """Signed-in staff of the scheduling roles; engine refusals become 403."""

    @require_role(*ROLES)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except (NotFound, Gone) as exc:
            raise Http404(str(exc)) from exc

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# ---------------------------------------------------------------------------- names


def _search_ids(rtype: str, ids: list[str]) -> list[dict]:
    if not ids:
        return []
    try:
        return search_all(rtype, [("_id", ",".join(sorted(set(ids))))])
    except Forbidden:
        return []


def _person_name(res: dict) -> str:
    if res["resourceType"] == "Patient":
        return display_name(official_name(res))
    if res["resourceType"] == "Location":
        return res.get("name", res["id"])
    name = (res.get("name") or [{}])[0]
    given = " ".join(name.get("given") or [])
    suffix = ", " + " ".join(name["suffix"]) if name.get("suffix") else ""
    return f"{name.get('family', '')}, {given}{suffix}".strip(", ") or res["id"]


def names_for(refs: list[str]) -> dict[str, str]:
    """Display names of Patient, Practitioner and Location references (one search per type)."""
    by_type: dict[str, list[str]] = {}
    for ref in refs:
        if ref and "/" in ref:
            rtype, rid = ref.split("/", 1)
            by_type.setdefault(rtype, []).append(rid)
    out = {}
    for rtype in ("Patient", "Practitioner", "Location"):
        for res in _search_ids(rtype, by_type.get(rtype, [])):
            out[f"{rtype}/{res['id']}"] = _person_name(res)
    return out


def providers() -> list[tuple[str, str]]:
    """(reference, name) of the providers who have working hours, by name."""
    refs = sorted(
        set(
            WorkingHours.objects.filter(actor__startswith="Practitioner/").values_list(
                "actor", flat=True
            )
        )
    )
    names = names_for(refs)
    return sorted(((r, names.get(r, r)) for r in refs), key=lambda x: x[1].lower())


def locations() -> list[tuple[str, str]]:
    """Clinics (where people work) and rooms (locations with their own hours)."""
    clinics = set(WorkingHours.objects.values_list("location", flat=True))
    rooms = set(
        WorkingHours.objects.filter(actor__startswith="Location/").values_list("actor", flat=True)
    )
    refs = sorted(clinics | rooms)
    names = names_for(refs)
    return sorted(((r, names.get(r, r)) for r in refs), key=lambda x: x[1].lower())


def _default_provider(request: HttpRequest, choices: list[tuple[str, str]]) -> str:
    mine = getattr(getattr(request, "principal", None), "fhir_user", "") or ""
    refs = [r for r, _ in choices]
    if mine in refs:
        return mine
    return refs[0] if refs else ""


# ---------------------------------------------------------------------------- calendar views


def _fetch(actors: list[str], day_from: date, day_to: date, show_cancelled: bool):
    start = local_midnight(day_from)
    end = local_midnight(day_to + timedelta(days=1))
    appts = appointments_overlapping(actors, start, end, blocking_only=False)
    appts = [a for a in appts if show_cancelled or a.get("status") not in HIDDEN]
    events = [e for e in events_overlapping(start, end) if e.get("status") not in HIDDEN]
    hours = availability.working_intervals(actors, day_from, day_to)
    off: dict[str, list[tuple[Interval, str]]] = {}
    for exc in availability.exceptions(actors, start, end):
        for actor in actors:
            if exc.actor in ("", actor):
                off.setdefault(actor, []).append((Interval(exc.start, exc.end), exc.reason))
    patients = [
        r for a in appts if not is_event(a) for r in actors_of(a) if r.startswith("Patient/")
    ]
    return appts, events, hours, off, names_for(patients)


def _audit_view(request: HttpRequest, what: str) -> None:
    record_event("search", request.principal, resource_type="Appointment", detail=what)


def _common(request: HttpRequest, view: str) -> dict:
    today = timezone.localdate(timezone=practice_tz())
    day = layout.parse_day(request.GET.get("date"), today)
    provs = providers()
    locs = locations()
    provider = request.GET.get("provider", "")
    if provider and provider not in {r for r, _ in provs}:
        provider = ""
    location = request.GET.get("location", "")
    if location and location not in {r for r, _ in locs}:
        location = ""
    return {
        "view": view,
        "day": day,
        "today": today,
        "providers": provs,
        "locations": locs,
        "provider": provider,
        "location": location,
        "show_cancelled": request.GET.get("cancelled") == "1",
        "types": AppointmentType.objects.filter(active=True),
        "statuses": [v for k, v in layout.STATUS.items() if k in _LEGEND_STATUSES],
        "names": dict(provs),
    }


_LEGEND_STATUSES = ("booked", "arrived", "roomed", "with-provider", "checked-out", "noshow",
                    "cancelled")  # fmt: skip


def _nav(ctx: dict, step: timedelta | None, month: bool = False) -> None:
    day = ctx["day"]
    if month:
        first = day.replace(day=1)
        prev = (first - timedelta(days=1)).replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
    else:
        assert step is not None
        prev, nxt = day - step, day + step
    q = QueryDict(mutable=True)
    for key in ("provider", "location"):
        if ctx.get(key):
            q[key] = ctx[key]
    if ctx["show_cancelled"]:
        q["cancelled"] = "1"
    ctx["keep"] = q.urlencode()
    ctx["prev"], ctx["next"] = prev.isoformat(), nxt.isoformat()


def _room_actor(location: str) -> bool:
    return WorkingHours.objects.filter(actor=location).exists()


@require_GET
@screen
def day_view(request: HttpRequest) -> HttpResponse:
    """One day: one provider (or room), or every provider at a clinic side by side."""
    ctx = _common(request, "day")
    day = ctx["day"]
    if ctx["provider"]:
        specs = [(ctx["provider"], ctx["names"][ctx["provider"]], ctx["provider"], day)]
    elif ctx["location"] and _room_actor(ctx["location"]):
        name = dict(ctx["locations"]).get(ctx["location"], ctx["location"])
        specs = [(ctx["location"], name, ctx["location"], day)]
    else:
        return _multi(request, ctx)
    ctx["grid"] = layout.build_grid(specs, *_fetch([specs[0][2]], day, day, ctx["show_cancelled"]))
    ctx["title"] = f"{specs[0][1]} · {layout.day_text(day)}"
    _nav(ctx, timedelta(days=1))
    _audit_view(request, f"day view {day.isoformat()} {specs[0][2]}")
    return render(request, "appointments/calendar.html", ctx)


@require_GET
@screen
def multi_view(request: HttpRequest) -> HttpResponse:
    """Every provider of the day side by side (optionally those at one clinic)."""
    return _multi(request, _common(request, "multi"))


def _multi(request: HttpRequest, ctx: dict) -> HttpResponse:
    ctx["view"] = "multi"
    ctx["provider"] = ""
    day = ctx["day"]
    refs = [r for r, _ in ctx["providers"]]
    hours = availability.working_intervals(refs, day, day, ctx["location"] or None)
    working = [r for r in refs if hours.get(r)]
    refs = working if ctx["location"] else (working or refs)
    specs = [(r, ctx["names"][r], r, day) for r in refs]
    ctx["grid"] = layout.build_grid(specs, *_fetch(refs, day, day, ctx["show_cancelled"]))
    where = dict(ctx["locations"]).get(ctx["location"], "All locations")
    ctx["title"] = f"{where} · {layout.day_text(day)}"
    _nav(ctx, timedelta(days=1))
    _audit_view(request, f"multi-provider day view {day.isoformat()} {ctx['location']}")
    return render(request, "appointments/calendar.html", ctx)


@require_GET
@screen
def week_view(request: HttpRequest) -> HttpResponse:
    """One provider, Monday to Sunday."""
    ctx = _common(request, "week")
    ctx["provider"] = ctx["provider"] or _default_provider(request, ctx["providers"])
    monday = ctx["day"] - timedelta(days=ctx["day"].weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    who = ctx["provider"]
    specs = [(d.isoformat(), layout.day_text(d), who, d) for d in days]
    ctx["grid"] = layout.build_grid(
        specs, *_fetch([who] if who else [], days[0], days[-1], ctx["show_cancelled"])
    )
    ctx["title"] = f"{ctx['names'].get(who, 'No provider')} · week of {layout.day_text(monday)}"
    _nav(ctx, timedelta(days=7))
    _audit_view(request, f"week view {monday.isoformat()} {who}")
    return render(request, "appointments/calendar.html", ctx)


@require_GET
@screen
def month_view(request: HttpRequest) -> HttpResponse:
    """One provider's month: each day lists its visits by type, and the practice events."""
    ctx = _common(request, "month")
    ctx["provider"] = ctx["provider"] or _default_provider(request, ctx["providers"])
    who = ctx["provider"]
    first = ctx["day"].replace(day=1)
    weeks = layout.month_weeks(first)
    appts, events, hours, off, names = _fetch(
        [who] if who else [], weeks[0][0], weeks[-1][-1], ctx["show_cancelled"]
    )
    types = {t.code: t for t in AppointmentType.objects.all()}
    tz = practice_tz()
    cells = []
    for week in weeks:
        row = []
        for d in week:
            lo, hi = local_midnight(d), local_midnight(d + timedelta(days=1))
            window = Interval(lo, hi)
            visits = [
                layout.visit_block(a, names, types)
                for a in appts
                if not is_event(a) and period(a).start.astimezone(tz).date() == d
            ]
            evs = [
                layout.event_block(e)
                for e in events
                if period(e).overlaps(window) and layout._attends(e, who, hours.get(who, []))
            ]
            row.append({
                "day": d, "in_month": d.month == first.month, "visits": sorted(visits,
                key=lambda b: b.start), "events": evs, "works": any(
                    iv.overlaps(window) for iv, _ in hours.get(who, [])),
                "off": [r for iv, r in off.get(who, []) if iv.overlaps(window)],
            })  # fmt: skip
        cells.append(row)
    ctx["weeks"] = cells
    ctx["weekday_names"] = layout.WEEKDAYS
    ctx["title"] = f"{ctx['names'].get(who, 'No provider')} · {first.strftime('%B %Y')}"
    _nav(ctx, None, month=True)
    _audit_view(request, f"month view {first.isoformat()[:7]} {who}")
    return render(request, "appointments/month.html", ctx)


@require_GET
@screen
def types_css(request: HttpRequest) -> HttpResponse:
    """Visit-type colours as classes (types are configuration; CSP allows only 'self' CSS)."""
    lines = ["/* Visit type colours (generated from the appointment types). */"]
    for t in AppointmentType.objects.all():
        colour = t.colour if len(t.colour) == 7 and t.colour.startswith("#") else "#777777"
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        ink = "#111111" if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else "#ffffff"
        lines.append(f".type-{t.code} {{ background-color: {colour}; color: {ink}; }}")
        lines.append(f".swatch.type-{t.code} {{ border-color: {colour}; }}")
    resp = HttpResponse("\n".join(lines) + "\n", content_type="text/css; charset=utf-8")
    resp["Cache-Control"] = "private, max-age=300"
    return resp


# ---------------------------------------------------------------------------- booking


def _describe(appts: list[dict]) -> list[dict]:
    """Clashing appointments as the conflict panel shows them."""
    refs = [r for a in appts for r in actors_of(a)]
    names = names_for(refs)
    types = {t.code: t.name for t in AppointmentType.objects.all()}
    out = []
    for a in appts:
        p = period(a)
        who = [names.get(r, r) for r in actors_of(a) if r.startswith(("Patient/", "Practitioner/"))]
        what = a.get("description") if is_event(a) else types.get(booking.type_code(a) or "", "")
        out.append({
            "id": a.get("id"), "when": layout.when_text(p.start, p.end), "what": what or "",
            "who": " · ".join(who), "event": is_event(a),
        })  # fmt: skip
    return out


def _conflict_text(exc: booking.Conflict) -> str:
    """The engine's message names raw instants; the screen lists the clashes itself."""
    if exc.clashes:
        n = len(exc.clashes)
        return f"{n} booking{'s' if n > 1 else ''} already hold{'' if n > 1 else 's'} this time."
    return str(exc)


def _suggest(atype: str, after: datetime, provider: str | None, count: int = 5) -> list[dict]:
    try:
        slots = booking.next_available(
            atype, after, providers=[provider] if provider else None, count=count, within_days=60
        )
    except SchedulingError:
        return []
    names = names_for([s.actor for s in slots] + [s.location for s in slots])
    return [
        {
            "value": f"{s.start.isoformat()}|{s.actor}|{s.location}",
            "when": layout.when_text(s.start, s.end),
            "who": names.get(s.actor, s.actor),
            "where": names.get(s.location, s.location),
            "start": s.start.isoformat(),
            "actor": s.actor,
            "location": s.location,
            "type": atype,
        }
        for s in slots
    ]


def _chosen_patient(pid: str) -> dict | None:
    if not pid:
        return None
    for hit in _search_ids("Patient", [pid.removeprefix("Patient/")]):
        from ehr.registration.banner import summary

        return summary(hit, hit["id"])
    return None


def _apply_pick(data: QueryDict) -> QueryDict:
    """Pick another slot: the chosen suggestion replaces date, times and provider."""
    data = data.copy()
    start_text, actor, loc = data["pick"].split("|")
    start = parse_instant(start_text).astimezone(practice_tz())
    old = (data.get("start_time"), data.get("end_time"))
    data["day"] = start.date().isoformat()
    data["start_time"] = start.strftime("%H:%M")
    if old[0] and old[1]:
        fmt = "%H:%M"
        try:
            length = datetime.strptime(old[1][:5], fmt) - datetime.strptime(old[0][:5], fmt)
            data["end_time"] = (start + length).strftime(fmt)
        except ValueError:
            data["end_time"] = ""
    data["provider"] = actor
    data["location"] = loc
    return data


@require_http_methods(["GET", "POST"])
@screen
def book_view(request: HttpRequest) -> HttpResponse:
    """The booking form; on a conflict it shows the clash, other slots and "book anyway"."""
    provs, locs = providers(), locations()
    ctx: dict = {"may_overbook": booking.may_overbook()}
    if request.method == "GET":
        initial: dict = {"interval": 1, "ends": "count"}
        start_text = request.GET.get("start")
        if start_text:
            try:
                start = parse_instant(start_text).astimezone(practice_tz())
                initial["day"] = start.date()
                initial["start_time"] = start.strftime("%H:%M")
            except ValueError:
                pass
        elif request.GET.get("date"):
            initial["day"] = layout.parse_day(request.GET["date"], date.today())
        for key in ("provider", "location", "patient"):
            if request.GET.get(key):
                initial[key] = request.GET[key]
        if request.GET.get("type"):
            initial["appointment_type"] = request.GET["type"]
            atype = AppointmentType.objects.filter(code=request.GET["type"]).first()
            if atype and initial.get("start_time"):
                initial["end_time"] = plus_minutes(
                    datetime.strptime(initial["start_time"], "%H:%M").time(),
                    atype.duration_minutes,
                ).strftime("%H:%M")
        form = BookingForm(initial=initial, providers=provs, locations=locs)
        ctx.update(form=form, patient=_chosen_patient(initial.get("patient", "")))
        return render(request, "appointments/book.html", ctx)

    data = request.POST
    if data.get("pick"):
        data = _apply_pick(data)
    form = BookingForm(data, providers=provs, locations=locs)
    ctx.update(form=form, patient=_chosen_patient(data.get("patient", "")))
    if not form.is_valid():
        return render(request, "appointments/book.html", ctx, status=400)
    d = form.cleaned_data
    start, end = form.when()
    overbook = data.get("overbook") == "1" and not data.get("pick")
    rule = form.rrule()
    patient = "Patient/" + d["patient"].removeprefix("Patient/")
    try:
        if rule:
            duration = int((end - start).total_seconds() // 60) if end else None
            series_id, made = series.create_series(
                patient=patient, provider=d["provider"], rrule=rule, dtstart=start,
                appointment_type=d["appointment_type"], location=d["location"] or None,
                duration_minutes=duration, comment=d["comment"] or None, overbook=overbook,
            )  # fmt: skip
            first = made[0] if made else None
            messages.success(request, f"Booked {len(made)} visits: {rrule_words(rule, start)}.")
        else:
            first = booking.book(
                patient=patient, provider=d["provider"], start=start, end=end,
                appointment_type=d["appointment_type"], location=d["location"] or None,
                comment=d["comment"] or None, overbook=overbook,
            )  # fmt: skip
            p = period(first)
            messages.success(request, f"Booked {layout.when_text(p.start, p.end)}.")
    except booking.Conflict as exc:
        ctx.update(
            conflict=_conflict_text(exc), clashes=_describe(exc.clashes),
            suggestions=_suggest(d["appointment_type"], start, d["provider"]),
        )  # fmt: skip
        return render(request, "appointments/book.html", ctx, status=409)
    except Forbidden as exc:
        form.add_error(None, f"Not allowed: {exc}")
        return render(request, "appointments/book.html", ctx, status=403)
    except FhirError as exc:
        form.add_error(None, str(exc))
        return render(request, "appointments/book.html", ctx, status=400)
    if first is None:
        return HttpResponseRedirect(reverse("schedule-week"))
    return HttpResponseRedirect(reverse("schedule-appointment", args=[first["id"]]))


@require_GET
@screen
def patient_picker(request: HttpRequest) -> HttpResponse:
    """Type-ahead for the booking form: patients as radio buttons (no script needed)."""
    q = request.GET.get("patient_q", "").strip()
    hits = find_patients(q, limit=8) if len(q) >= 2 else []
    if q:
        record_event("search", request.principal, resource_type="Patient", query=q,
                     detail="booking patient search")  # fmt: skip
    return render(request, "appointments/_patient_options.html", {"hits": hits, "q": q})


@require_GET
@screen
def repeat_words(request: HttpRequest) -> HttpResponse:
    """The repeat rule in words, shown live under the repeat fields."""
    g = request.GET
    if not g.get("repeat"):
        return HttpResponse("Does not repeat.")
    try:
        day = date.fromisoformat(g.get("day", ""))
        start = datetime.combine(
            day, datetime.strptime(g.get("start_time", "")[:5], "%H:%M").time(),
            tzinfo=practice_tz(),
        )  # fmt: skip
    except ValueError:
        start = None
    try:
        interval = max(1, int(g.get("interval") or 1))
        count = int(g.get("count") or 0) or None
    except ValueError:
        return HttpResponse("Check the numbers.")
    until = layout.parse_day(g.get("until"), date.min) if g.get("until") else None
    rule = rrule_for(g["repeat"], interval, g.get("ends") or "count", count,
                     until if until != date.min else None, start or timezone.now())  # fmt: skip
    return HttpResponse(f"{rrule_words(rule, start)}. (RRULE: {rule})")


@require_GET
@screen
def next_available_view(request: HttpRequest) -> HttpResponse:
    """The next free slots for a visit type, across providers and locations."""
    provs, locs = providers(), locations()
    form = NextAvailableForm(request.GET or None, providers=provs, locations=locs)
    slots: list[dict] = []
    if request.GET and form.is_valid():
        d = form.cleaned_data
        today = timezone.localdate(timezone=practice_tz())
        after = d.get("after") or today
        start = max(timezone.now(), local_midnight(after))
        try:
            found = booking.next_available(
                d["appointment_type"], start, providers=[d["provider"]] if d["provider"] else None,
                locations=[d["location"]] if d["location"] else None, count=10, within_days=60,
            )  # fmt: skip
        except SchedulingError as exc:
            form.add_error(None, str(exc))
            found = []
        names = names_for([s.actor for s in found] + [s.location for s in found])
        slots = [
            {
                "when": layout.when_text(s.start, s.end),
                "who": names.get(s.actor, s.actor),
                "where": names.get(s.location, s.location),
                "start": s.start.isoformat(),
                "actor": s.actor,
                "location": s.location,
                "type": s.appointment_type,
            }  # fmt: skip
            for s in found
        ]
        record_event("search", request.principal, resource_type="Appointment",
                     detail=f"next available {d['appointment_type']}")  # fmt: skip
    return render(request, "appointments/next.html", {"form": form, "slots": slots})


# ---------------------------------------------------------------------------- one appointment


def _eligibility_link(patient_ref: str) -> str | None:
    try:
        from ehr.registration.services import coverages
    except ImportError:  # pragma: no cover - registration is installed with the screens
        return None
    try:
        covs = coverages(patient_ref.removeprefix("Patient/"))
    except (Forbidden, FhirError):
        return None
    active = [c for c in covs if c.get("status") == "active"]
    return f"/eligibility/coverage/{active[0]['id']}/" if active else None


def _appointment_context(request: HttpRequest, appt: dict) -> dict:
    p = period(appt)
    refs = actors_of(appt)
    names = names_for(refs)
    types = {t.code: t for t in AppointmentType.objects.all()}
    block = layout.visit_block(appt, names, types)
    patient = booking.participant_of(appt, "patient") or ""
    provider = booking.participant_of(appt, "provider") or ""
    sid = series.series_of(appt)
    rule_text = ""
    if sid:
        try:
            rule = series.get_series(sid)
            rule_text = rrule_words(rule.rrule, rule.dtstart)
        except (FhirError, ValueError):
            rule_text = "Part of a series"
    local_start = p.start.astimezone(practice_tz())
    reason = (appt.get("cancelationReason") or {}).get("text", "")
    return {
        "appt": appt,
        "visit": block,
        "when": layout.when_text(p.start, p.end),
        "patient_ref": patient,
        "patient_id": patient.removeprefix("Patient/"),
        "patient_name": names.get(patient, patient),
        "provider_name": names.get(provider, provider),
        "provider": provider,
        "clinic": names.get(booking.participant_of(appt, "clinic") or "", ""),
        "room": names.get(booking.participant_of(appt, "room") or "", ""),
        "series_id": sid,
        "rule_text": rule_text,
        "cancel_reason": reason,
        "eligibility": _eligibility_link(patient) if patient else None,
        "may_overbook": booking.may_overbook(),
        "movable": block.movable,
        "day_iso": local_start.date().isoformat(),
        "initial_move": {
            "day": local_start.date(),
            "start_time": local_start.strftime("%H:%M"),
            "end_time": time_of(p.end),
            "provider": provider,
            "scope": "this",
        },
    }


def _get_visit(appointment_id: str) -> dict:
    appt = booking.get(appointment_id)
    if is_event(appt):
        raise Http404("This is a practice event, not a visit.")
    return appt


@require_http_methods(["GET", "POST"])
@screen
def appointment_view(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """Details; reschedule, cancel (with a reason) and no-show; series scope for each."""
    appt = _get_visit(appointment_id)
    ctx = _appointment_context(request, appt)
    provs = providers()
    move = RescheduleForm(initial=ctx["initial_move"], providers=provs)
    cancel = CancelForm(initial={"scope": "this"})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "noshow":
                booking.mark_no_show(appointment_id)
                messages.success(request, "Marked as no-show.")
                return HttpResponseRedirect(request.path)
            if action == "cancel":
                cancel = CancelForm(request.POST)
                if cancel.is_valid():
                    scope = cancel.cleaned_data["scope"] or "this"
                    reason = cancel.cleaned_data["reason"]
                    if ctx["series_id"]:
                        done = series.cancel_series(appointment_id, scope, reason)
                        messages.success(request, f"Cancelled {len(done)} appointment(s).")
                    else:
                        booking.cancel(appointment_id, reason)
                        messages.success(request, "Appointment cancelled.")
                    return HttpResponseRedirect(request.path)
                status = 400
            elif action == "reschedule":
                move = RescheduleForm(request.POST, providers=provs)
                if move.is_valid():
                    start, end = move.when()
                    assert end is not None
                    scope = move.cleaned_data["scope"] or "this"
                    _move(appointment_id, ctx, start, end, move.cleaned_data["provider"], scope,
                          overbook=request.POST.get("overbook") == "1")  # fmt: skip
                    messages.success(request, f"Moved to {layout.when_text(start, end)}.")
                    return HttpResponseRedirect(request.path)
                status = 400
        except booking.Conflict as exc:
            start, _ = move.when()
            ctx.update(
                conflict=_conflict_text(exc), clashes=_describe(exc.clashes),
                suggestions=_suggest(booking.type_code(appt) or "", start, ctx["provider"]),
            )  # fmt: skip
            status = 409
        except Forbidden as exc:
            messages.error(request, f"Not allowed: {exc}")
            status = 403
        except FhirError as exc:
            messages.error(request, str(exc))
            status = 400
    else:
        record_event(
            "read", request.principal, resource_type="Appointment", resource_id=appointment_id,
            patient=ctx["patient_id"] or None, detail="appointment page",
        )  # fmt: skip
    ctx.update(move=move, cancel=cancel)
    return render(request, "appointments/appointment.html", ctx, status=status)


def _move(appointment_id: str, ctx: dict, start: datetime, end: datetime, provider: str,
          scope: str, *, overbook: bool) -> list[dict]:  # fmt: skip
    new_provider = provider if provider and provider != ctx["provider"] else None
    if ctx["series_id"]:
        changes: dict = {
            "start": start,
            "duration_minutes": int((end - start).total_seconds() // 60),
        }
        if new_provider:
            changes["provider"] = new_provider
        return series.edit_series(appointment_id, scope, changes, overbook=overbook)
    return [booking.reschedule(appointment_id, start, end, provider=new_provider,
                               overbook=overbook)]  # fmt: skip


@require_POST
@screen
def move_view(request: HttpRequest, appointment_id: str) -> JsonResponse:
    """Drag and drop (or keyboard move) after the user confirmed: JSON in, JSON out."""
    appt = _get_visit(appointment_id)
    ctx = _appointment_context(request, appt)
    try:
        day = date.fromisoformat(request.POST["date"])
        minutes = int(request.POST["minutes"])
    except (KeyError, ValueError):
        return JsonResponse({"ok": False, "message": "Give the new date and time."}, status=400)
    start = layout.local_at(day, minutes)
    p = period(appt)
    end = start + (p.end - p.start)
    provider = request.POST.get("provider") or ctx["provider"]
    scope = request.POST.get("scope") or "this"
    try:
        _move(appointment_id, ctx, start, end, provider, scope,
              overbook=request.POST.get("overbook") == "1")  # fmt: skip
    except booking.Conflict as exc:
        return JsonResponse(
            {
                "ok": False,
                "conflict": True,
                "message": _conflict_text(exc),
                "clashes": _describe(exc.clashes),
                "suggestions": _suggest(booking.type_code(appt) or "", start, provider),
                "may_overbook": booking.may_overbook(),
            },  # fmt: skip
            status=409,
        )
    except FhirError as exc:
        return JsonResponse({"ok": False, "message": str(exc)}, status=exc.status or 400)
    return JsonResponse({"ok": True, "message": f"Moved to {layout.when_text(start, end)}."})


# ---------------------------------------------------------------------------- patient tab


def patient_appointments(patient_id: str) -> dict:
    """Upcoming and past appointments of a patient, for the chart's Appointments tab."""
    ref = f"Patient/{patient_id}"
    since = timezone.now() - timedelta(days=365 * 2)
    rows = search_all(
        "Appointment", [("patient", ref), ("date", "ge" + since.strftime("%Y-%m-%dT%H:%M:%SZ"))]
    )
    names = names_for([r for a in rows for r in actors_of(a) if r.startswith("Practitioner/")])
    types = {t.code: t for t in AppointmentType.objects.all()}
    now = timezone.now()
    upcoming, past = [], []
    for a in sorted(rows, key=lambda a: period(a).start):
        p = period(a)
        block = layout.visit_block(a, {}, types)
        item = {
            "id": a["id"], "when": layout.when_text(p.start, p.end), "block": block,
            "provider": names.get(booking.participant_of(a, "provider") or "", ""),
            "series": block.series,
        }  # fmt: skip
        (upcoming if p.end >= now and a.get("status") not in HIDDEN else past).append(item)
    past.reverse()
    return {"upcoming": upcoming, "past": past[:50], "patient_id": patient_id}
