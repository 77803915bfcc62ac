"""The practice events calendar screens.

Reads go through the engine under the signed-in person's policy, widened to practice events
for roles that may not read appointments (``access``); writes follow the role alone, through
``services`` (engine call + audit record in one transaction). Viewing is for every staff role;
creating, editing, cancelling and importing for the administrator and the front desk (delete
also needs the role's delete permission on Appointment, which the front desk does not have).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime, timedelta
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ehr.audit.events import record_event
from ehr.fhir import access
from ehr.fhir.errors import Forbidden, Gone, NotFound
from ehr.fhir.validation.issues import ValidationFailed
from ehr.identity.decorators import require_role
from ehr.practice_calendar import calendar as cal
from ehr.practice_calendar import services
from ehr.practice_calendar.access import reading_events
from ehr.practice_calendar.forms import (
    EventForm,
    FeedTokenForm,
    ImportForm,
    default_initial,
    initial_from,
)
from ehr.scheduling import events, feeds
from ehr.scheduling.booking import participant_of, type_code
from ehr.scheduling.common import SchedulingError, actors_of, practice_tz, search_all
from ehr.scheduling.models import FeedToken

STAFF = ("admin", "provider", "nurse", "front_desk", "biller")
EDITORS = ("admin", "front_desk")
UPCOMING_DAYS = 366
UPCOMING_MAX = 100
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def engine_denials_are_403(view):
    """The engine's refusals answer 403; dates and times render in the practice time zone."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            with timezone.override(practice_tz()):
                return view(request, *args, **kwargs)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc

    return wrapped


def _role(request: HttpRequest) -> str | None:
    return getattr(request.principal, "role", None)


def _may_edit(request: HttpRequest) -> bool:
    return _role(request) in EDITORS


def _may_delete(request: HttpRequest) -> bool:
    return _may_edit(request) and access.permits("d", "Appointment")


def _audit_search(request: HttpRequest, query: str, detail: str) -> None:
    record_event(
        "search", request.principal, resource_type="Appointment", query=query, detail=detail
    )


def _load(event_id: str) -> dict:
    try:
        with reading_events():
            return events.get_event(event_id)
    except (NotFound, Gone) as exc:
        raise Http404("No such event") from exc
    except SchedulingError as exc:  # an appointment that is not a practice event
        raise Http404("No such event") from exc


def _rows_between(first: date, after_last: date) -> list[cal.EventRow]:
    with reading_events():
        return cal.rows(events.list_events(first, after_last))


# ---------------------------------------------------------------------------- month grid

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def _month_of(request: HttpRequest, today: date) -> tuple[int, int]:
    """``?month=2025-09``, or the picker's ``?y=2025&m=9``; this month otherwise."""
    y, m = today.year, today.month
    match = _MONTH.match(request.GET.get("month", ""))
    try:
        if match:
            y, m = int(match.group(1)), int(match.group(2))
        elif request.GET.get("y") or request.GET.get("m"):
            y = int(request.GET.get("y") or y)
            m = int(request.GET.get("m") or m)
    except ValueError:
        return today.year, today.month
    if not (1 <= m <= 12 and 1900 <= y <= 2999):
        return today.year, today.month
    return y, m


@require_role(*STAFF)
@engine_denials_are_403
def month(request: HttpRequest) -> HttpResponse:
    today = cal.today()
    y, m = _month_of(request, today)
    weeks = cal.month_weeks(y, m)
    items = _rows_between(weeks[0][0], weeks[-1][-1] + timedelta(days=1))
    grid = cal.month_grid(y, m, items, today)
    _audit_search(
        request, f"_tag=practice-event&month={y}-{m:02d}", f"events month: {len(items)} events"
    )
    py, pm = cal.shift_month(y, m, -1)
    ny, nm = cal.shift_month(y, m, 1)
    return render(
        request,
        "practice_calendar/month.html",
        {
            "grid": grid,
            "year": y,
            "month": m,
            "title": date(y, m, 1).strftime("%B %Y"),
            "prev": f"{py}-{pm:02d}",
            "next": f"{ny}-{nm:02d}",
            "this_month": (y, m) == (today.year, today.month),
            "months": cal.MONTHS,
            "weekdays": WEEKDAYS,
            "may_edit": _may_edit(request),
            "tab": "month",
        },
    )


# ---------------------------------------------------------------------------- day list


@require_role(*STAFF)
@engine_denials_are_403
def day(request: HttpRequest, iso: str) -> HttpResponse:
    try:
        d = date.fromisoformat(iso)
    except ValueError as exc:
        raise Http404("Not a date") from exc
    items = cal.on_day(_rows_between(d, d + timedelta(days=1)), d)
    _audit_search(request, f"_tag=practice-event&date={iso}", f"events day: {len(items)} events")
    return render(
        request,
        "practice_calendar/day.html",
        {
            "day": d,
            "items": [(e, e.label_on(d), e.day_number(d)) for e in items],
            "prev": d - timedelta(days=1),
            "next": d + timedelta(days=1),
            "month": f"{d.year}-{d.month:02d}",
            "may_edit": _may_edit(request),
        },
    )


# ---------------------------------------------------------------------------- event page


@require_role(*STAFF)
@engine_denials_are_403
def detail(request: HttpRequest, event_id: str) -> HttpResponse:
    resource = _load(event_id)
    with reading_events():
        row = cal.rows([resource])[0]
    record_event(
        "read", request.principal, resource_type="Appointment", resource_id=event_id,
        detail="practice event",
    )  # fmt: skip
    return render(
        request,
        "practice_calendar/event.html",
        {
            "e": row,
            "reason": (resource.get("cancelationReason") or {}).get("text", ""),
            "may_edit": _may_edit(request) and not row.cancelled,
            "may_delete": _may_delete(request),
            "month": f"{row.first_day.year}-{row.first_day.month:02d}",
        },
    )


@require_role(*EDITORS)
@engine_denials_are_403
@require_POST
def cancel(request: HttpRequest, event_id: str) -> HttpResponse:
    _load(event_id)
    reason = (request.POST.get("reason") or "").strip()[:200]
    services.cancel(event_id, reason, request.principal)
    messages.success(request, "Event cancelled. It no longer blocks anyone's schedule.")
    return HttpResponseRedirect(reverse("event-detail", args=[event_id]))


@require_role(*EDITORS)
@engine_denials_are_403
@require_POST
def delete(request: HttpRequest, event_id: str) -> HttpResponse:
    if not _may_delete(request):
        raise PermissionDenied("Your role may not delete events; cancel the event instead.")
    row = _load(event_id)
    if not request.POST.get("confirm"):
        messages.error(request, "Tick the box to confirm that the event should be deleted.")
        return HttpResponseRedirect(reverse("event-detail", args=[event_id]))
    services.delete(event_id, request.principal)
    messages.success(request, f"Event “{row.get('description', '')}” deleted.")
    return HttpResponseRedirect(reverse("events-month"))


# ---------------------------------------------------------------------------- upcoming


@require_role(*STAFF)
@engine_denials_are_403
def upcoming(request: HttpRequest) -> HttpResponse:
    now = datetime.now(practice_tz())
    with reading_events():
        items = cal.rows(events.list_events(now, now + timedelta(days=UPCOMING_DAYS)))
    items = sorted(items, key=lambda e: (e.start, e.title.lower()))[:UPCOMING_MAX]
    _audit_search(request, "_tag=practice-event&upcoming", f"upcoming events: {len(items)}")
    return render(
        request,
        "practice_calendar/upcoming.html",
        {"items": items, "may_edit": _may_edit(request), "tab": "upcoming"},
    )


# ---------------------------------------------------------------------------- create / edit


def _choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    locations = sorted(
        ((r["id"], r.get("name") or r["id"]) for r in search_all("Location", [])),
        key=lambda c: c[1].lower(),
    )
    people = [
        (r["id"], cal.person_name(r))
        for r in search_all("Practitioner", [])
        if r.get("active", True)
    ]
    return locations, sorted(people, key=lambda c: c[1].lower())


def _clash_rows(found: list[dict]) -> list[dict]:
    refs = [a for appt in found for a in actors_of(appt)]
    known = cal.names(refs) if refs else {}
    tz = practice_tz()
    out = []
    for appt in sorted(found, key=lambda a: a["start"]):
        start = datetime.fromisoformat(appt["start"]).astimezone(tz)
        end = datetime.fromisoformat(appt["end"]).astimezone(tz) if appt.get("end") else start
        provider = participant_of(appt, "provider") or next(
            (a for a in actors_of(appt) if a.startswith("Practitioner/")), ""
        )
        patient = next((a for a in actors_of(appt) if a.startswith("Patient/")), "")
        out.append(
            {
                "when": f"{start:%a %d-%b-%Y %H:%M}–{end:%H:%M}",
                "provider": known.get(provider, provider),
                "kind": type_code(appt) or "visit",
                "patient": patient.removeprefix("Patient/"),
            }
        )
    return out


def _form_page(request: HttpRequest, event_id: str | None) -> HttpResponse:
    locations, people = _choices()
    initial: dict = {}
    if event_id:
        initial = initial_from(events.describe(_load(event_id)))
    else:
        try:
            initial = default_initial(date.fromisoformat(request.GET.get("date", "")))
        except ValueError:
            initial = {}
    form = EventForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        locations=locations,
        practitioners=people,
    )
    clashes: list[dict] = []
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            fields = form.engine_fields()
            try:
                draft = events.build_event(**fields)
            except SchedulingError as exc:
                form.add_error("end_date" if "31 days" in exc.message else None, exc.message)
            else:
                if event_id:
                    draft["id"] = event_id
                found = events.clashes(draft)
                if found and not request.POST.get("save_anyway"):
                    clashes = _clash_rows(found)
                    status = 409
                else:
                    done = _save(request, form, fields, event_id, len(found))
                    if done is not None:
                        return done
    return render(
        request,
        "practice_calendar/form.html",
        {"form": form, "event_id": event_id, "clashes": clashes, "may_edit": True},
        status=status,
    )


def _save(request, form, fields: dict, event_id: str | None, clashing: int):
    try:
        if event_id:
            event = services.update(event_id, fields, request.principal)
        else:
            event = services.create(fields, request.principal)
    except ValidationFailed as exc:
        for issue in exc.issues:
            if issue.severity == "error":
                form.add_error(None, issue.message)
        return None
    except SchedulingError as exc:
        form.add_error(None, exc.message)
        return None
    note = ""
    if clashing:
        note = (
            f" Saved; {clashing} booked visit{'s' if clashing != 1 else ''} during the event "
            "still need to be rescheduled."
        )
    messages.success(request, ("Event updated." if event_id else "Event created.") + note)
    return HttpResponseRedirect(reverse("event-detail", args=[event["id"]]))


@require_role(*EDITORS)
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@require_role(*EDITORS)
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, event_id: str) -> HttpResponse:
    return _form_page(request, event_id)


# ---------------------------------------------------------------------------- feeds


def _feed_links(request: HttpRequest, secret: str) -> list[dict]:
    """Subscription URLs this person may use, with the secret in them."""
    base = request.build_absolute_uri("/").rstrip("/")
    links = [{"name": "Practice events", "url": f"{base}/calendar/practice.ics?token={secret}"}]
    own = getattr(request.principal, "fhir_user", None) or ""
    people: list[tuple[str, str]] = []
    if _role(request) in EDITORS:
        people = [(pid, name) for pid, name in _choices()[1]]
    elif own.startswith("Practitioner/"):
        known = cal.names([own])
        people = [(own.removeprefix("Practitioner/"), known.get(own, own))]
    for pid, name in people:
        mine = f"Practitioner/{pid}" == own
        links.append(
            {
                "name": f"{name}{' (you)' if mine else ''}: events and busy times",
                "url": f"{base}/calendar/provider/{pid}.ics?token={secret}",
                "mine": mine,
            }
        )
    links[1:] = sorted(links[1:], key=lambda x: not x.get("mine"))
    for i, link in enumerate(links):
        link["id"] = f"feed-url-{i}"
        link["webcal"] = re.sub(r"^https?://", "webcal://", link["url"])
    return links


@require_role(*STAFF)
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def feeds_page(request: HttpRequest) -> HttpResponse:
    form = FeedTokenForm(request.POST if request.method == "POST" else None)
    links: list[dict] = []
    new_token = None
    # The feed server answers under the token owner's role widened to practice events
    # (``scheduling.views``), so every member of staff gets a feed; a role that may not see
    # appointments (the biller's, by default) sees the events only.
    if request.method == "POST" and form.is_valid():
        new_token, secret = feeds.issue_token(request.user, form.cleaned_data["label"])
        record_event(
            "token-issued", request.principal,
            detail=f"calendar feed token {new_token.pk} ({new_token.label})",
        )  # fmt: skip
        links = _feed_links(request, secret)
        form = FeedTokenForm()
    tokens = FeedToken.objects.filter(user=request.user).order_by("revoked", "-created")
    resp = render(
        request,
        "practice_calendar/feeds.html",
        {
            "form": form,
            "tokens": tokens,
            "links": links,
            "new_token": new_token,
            "may_edit": _may_edit(request),
            "tab": "feeds",
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )
    resp["Cache-Control"] = "no-store"  # the secret is shown once and must not be cached
    return resp


@require_role(*STAFF)
@engine_denials_are_403
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = FeedToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise Http404("No such feed token")
    feeds.revoke(token)
    record_event(
        "token-revoked", request.principal,
        detail=f"calendar feed token {token.pk} ({token.label})",
    )  # fmt: skip
    messages.success(
        request, f"Feed token “{token.label}” revoked: calendars using it stop updating."
    )
    return HttpResponseRedirect(reverse("events-feeds"))


# ---------------------------------------------------------------------------- import


@require_role(*EDITORS)
@engine_denials_are_403
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    preview = None
    encoded = ""
    filename = ""
    form = ImportForm()
    status = 200
    if request.method == "POST" and request.POST.get("step") == "confirm":
        filename = (request.POST.get("filename") or "calendar.ics")[:200]
        try:
            data = base64.b64decode(request.POST.get("data", ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data:
            messages.error(request, "The file was lost on the way; choose it again.")
            return HttpResponseRedirect(reverse("events-import"))
        try:
            result = services.run_import(data, request.principal, filename)
        except SchedulingError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("events-import"))
        messages.success(
            request,
            f"Imported {filename}: {len(result.created)} created, {len(result.updated)} "
            f"updated, {len(result.skipped)} skipped.",
        )
        return HttpResponseRedirect(reverse("events-upcoming"))
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            filename = upload.name or "calendar.ics"
            data = upload.read()
            try:
                preview = services.preview_import(data)
            except SchedulingError as exc:
                form.add_error("file", _not_ical(exc.message))
            except Exception:  # noqa: BLE001 - a malformed file must get an answer, not a 500
                form.add_error("file", "This file could not be read as iCalendar (.ics).")
            else:
                status = 200
                encoded = base64.b64encode(data).decode()
                record_event(
                    "search", request.principal, resource_type="Appointment",
                    query="ics-import-preview",
                    detail=f".ics import preview ({filename}): {preview.changes} changes",
                )  # fmt: skip
    return render(
        request,
        "practice_calendar/import.html",
        {
            "form": form,
            "preview": preview,
            "data": encoded,
            "filename": filename,
            "tab": "import",
            "may_edit": True,
        },
        status=status,
    )


def _not_ical(message: str) -> str:
    if message.startswith("Not an iCalendar file"):
        return (
            "This is not an iCalendar (.ics) file. Export the calendar as .ics from your "
            "calendar program and try again."
        )
    return message
