"""The practice events calendar: conferences, training, staff meetings, closures.

Storage: each event is a FHIR ``Appointment`` tagged ``practice-event`` (``meta.tag``), its
kind in ``serviceType``, the title in ``description``, the long text in ``comment``, the
attendees (Practitioners) and the place (a Location) as participants. Why FHIR and why
Appointment: an event a provider attends is that provider's time, exactly like a visit, so the
same indexed search (``Appointment?actor=Practitioner/x&date=...``) that draws the week view
and finds conflicts sees it with no extra machinery; it is versioned and audited like any
write, and FHIR clients see the provider as busy. Events hold no patient, so they are in no
patient compartment.

All-day events start at local midnight of the first day and end at local midnight after the
last day (exclusive end, as RFC 5545), with an ``event-all-day`` extension. An event lasts at
most ``MAX_EVENT`` (31 days; longer absences are working-hours exceptions). A ``closure``
blocks every provider at its location (or the whole practice if it has none); any other event
blocks its attendees.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ehr.fhir.storage import repository
from ehr.fhir.storage.db import isolated
from ehr.scheduling.common import (
    EVENT_KIND_SYSTEM,
    EXT_ALL_DAY,
    ICAL_UID_SYSTEM,
    MAX_EVENT,
    TAG_SYSTEM,
    SchedulingError,
    actors_of,
    appointments_overlapping,
    aware,
    events_overlapping,
    ext,
    fhir_instant,
    is_event,
    local_midnight,
    period,
)

KINDS = ("conference", "training", "meeting", "closure", "other")


def _span(start: datetime | date, end: datetime | date | None, all_day: bool):
    if all_day or (isinstance(start, date) and not isinstance(start, datetime)):
        first = start if not isinstance(start, datetime) else start.date()
        last = end if end is not None else first
        last = last if not isinstance(last, datetime) else last.date()
        return local_midnight(first), local_midnight(last + timedelta(days=1)), True
    if end is None:
        raise SchedulingError("A timed event needs an end", status=400)
    return aware(start), aware(end), False


def build_event(
    *,
    title: str,
    start: datetime | date,
    end: datetime | date | None = None,
    all_day: bool = False,
    kind: str = "other",
    location: str | None = None,
    description: str | None = None,
    attendees: list[str] | tuple = (),
    uid: str | None = None,
) -> dict:
    """The Appointment for an event (not stored). For all-day events ``end`` is the last day
    (inclusive)."""
    if not title or not title.strip():
        raise SchedulingError("An event needs a title", status=400)
    if kind not in KINDS:
        raise SchedulingError(f"kind must be one of {', '.join(KINDS)}", status=400)
    s, e, all_day = _span(start, end, all_day)
    if e <= s:
        raise SchedulingError("The end must be after the start", status=400)
    if e - s > MAX_EVENT:
        raise SchedulingError(
            "An event lasts at most 31 days; record longer absences as schedule exceptions",
            status=400,
        )
    participants = [
        {"actor": {"reference": a}, "required": "required", "status": "accepted"}
        for a in dict.fromkeys(attendees)
    ]
    if location:
        participants.append(
            {"actor": {"reference": location}, "required": "information-only",
             "status": "accepted"}
        )  # fmt: skip
    if not participants:  # R4 needs one participant: the practice as a whole
        participants.append(
            {"type": [{"text": "whole practice"}], "required": "information-only",
             "status": "accepted"}
        )  # fmt: skip
    event = {
        "resourceType": "Appointment",
        "meta": {"tag": [{"system": TAG_SYSTEM, "code": "practice-event"}]},
        "status": "booked",
        "serviceCategory": [{"text": "Practice event"}],
        "serviceType": [{"coding": [{"system": EVENT_KIND_SYSTEM, "code": kind}]}],
        "description": title.strip(),
        "start": fhir_instant(s),
        "end": fhir_instant(e),
        "participant": participants,
    }
    if description:
        event["comment"] = description
    if all_day:
        event["extension"] = [{"url": EXT_ALL_DAY, "valueBoolean": True}]
    if uid:
        event["identifier"] = [{"system": ICAL_UID_SYSTEM, "value": uid}]
    return event


def create_event(**fields) -> dict:
    """Store a practice event (see ``build_event`` for the fields); returns it."""
    event = build_event(**fields)
    repository.create(event)
    return event


def get_event(event_id: str) -> dict:
    event = repository.read("Appointment", event_id).resource()
    if not is_event(event):
        raise SchedulingError(f"Appointment/{event_id} is not a practice event", status=404)
    return event


def describe(event: dict) -> dict:
    """The fields of an event as ``build_event`` takes them."""
    all_day = bool((ext(event, EXT_ALL_DAY) or {}).get("valueBoolean"))
    p = period(event)
    who = actors_of(event)
    kind = next(
        (c["code"] for st in event.get("serviceType", []) for c in st.get("coding", [])
         if c.get("system") == EVENT_KIND_SYSTEM),
        "other",
    )  # fmt: skip
    uid = next(
        (i["value"] for i in event.get("identifier", []) if i.get("system") == ICAL_UID_SYSTEM),
        None,
    )
    return {
        "title": event.get("description", ""),
        "start": p.start.date() if all_day else p.start,
        "end": (p.end - timedelta(days=1)).date() if all_day else p.end,
        "all_day": all_day,
        "kind": kind,
        "location": next((a for a in who if a.startswith("Location/")), None),
        "description": event.get("comment"),
        "attendees": [a for a in who if not a.startswith("Location/")],
        "uid": uid,
    }


def update_event(event_id: str, **changes) -> dict:
    """Change some fields of an event (same resource, new version)."""
    with isolated():
        old = get_event(event_id)
        fields = {**describe(old), **changes}
        if "all_day" in changes and not changes["all_day"] and "end" not in changes:
            raise SchedulingError("Give the end time when an all-day event becomes timed")
        event = build_event(**fields)
        event["id"] = event_id
        event["status"] = old["status"]
        repository.update("Appointment", event_id, event)
        return event


def cancel_event(event_id: str, reason: str = "") -> dict:
    """Cancel (kept in the calendar's history, no longer blocks anyone)."""
    with isolated():
        event = get_event(event_id)
        event["status"] = "cancelled"
        if reason:
            event["cancelationReason"] = {"text": reason}
        repository.update("Appointment", event_id, event)
        return event


def delete_event(event_id: str) -> None:
    get_event(event_id)
    repository.delete("Appointment", event_id)


def list_events(
    start: datetime | date, end: datetime | date, *, attendee: str | None = None
) -> list[dict]:
    """Events overlapping [start, end) (dates: whole local days, end exclusive)."""
    s = local_midnight(start) if not isinstance(start, datetime) else aware(start)
    e = local_midnight(end) if not isinstance(end, datetime) else aware(end)
    rows = events_overlapping(s, e)
    if attendee:
        rows = [r for r in rows if attendee in actors_of(r)]
    return sorted(rows, key=lambda r: (r["start"], r["id"]))


def clashes(event: dict) -> list[dict]:
    """Visits of the event's attendees during the event: to be moved (the screen warns)."""
    p = period(event)
    who = [a for a in actors_of(event) if a.startswith("Practitioner/")]
    return [
        a for a in appointments_overlapping(who, p.start, p.end)
        if not is_event(a) and a.get("id") != event.get("id")
    ]  # fmt: skip
