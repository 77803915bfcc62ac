"""iCalendar (RFC 5545) feeds and ``.ics`` import, with the ``icalendar`` package.

Feeds: the practice feed holds the practice events; a provider's feed holds that provider's
events and visits. Visits appear as "Busy: <visit type>" with no patient name or details:
calendar apps and their cloud sync are outside the record's protection, so no health data goes
there. Each VEVENT's UID is stable (``<appointment id>@<host>``, or the UID an imported event
came with), so calendar apps update rather than duplicate on refresh.

Import: each VEVENT becomes a practice event (``events``); an event seen before (same UID in
the event's identifier) is updated, not duplicated. Attendees are matched to Practitioners by
their ``X-EHR-REF`` parameter (our own feeds) or by e-mail address; recurring VEVENTs are
expanded (RRULE, EXDATE) over a bounded horizon, one event per occurrence (UID + start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import icalendar
from dateutil.rrule import rrulestr

from ehr.fhir.storage import repository
from ehr.fhir.storage.db import isolated
from ehr.scheduling import events as practice_events
from ehr.scheduling.booking import provider_week, type_code
from ehr.scheduling.common import (
    ICAL_UID_SYSTEM,
    SchedulingError,
    actors_of,
    aware,
    is_event,
    local_midnight,
    practice_tz,
    search_all,
)

PRODID = "-//Open EHR//Scheduling//EN"
UID_HOST = "ehr.example.org"
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=365)
IMPORT_HORIZON = timedelta(days=365)


def _calendar(name: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", str(practice_tz()))
    return cal


def _people(refs: list[str]) -> dict[str, dict]:
    """Practitioner resources by reference (one search)."""
    ids = [r.split("/", 1)[1] for r in refs if r.startswith("Practitioner/")]
    if not ids:
        return {}
    rows = search_all("Practitioner", [("_id", ",".join(ids))])
    return {f"Practitioner/{p['id']}": p for p in rows}


def _name(p: dict) -> str:
    for n in p.get("name", []):
        if n.get("text"):
            return n["text"]
        parts = [*n.get("given", []), n.get("family", "")]
        if any(parts):
            return " ".join(x for x in parts if x)
    return p.get("id", "")


def _email(p: dict) -> str | None:
    return next((t["value"] for t in p.get("telecom", []) if t.get("system") == "email"), None)


def _vevent(appt: dict, people: dict[str, dict], *, private: bool) -> icalendar.Event:
    info = practice_events.describe(appt) if is_event(appt) else None
    ev = icalendar.Event()
    uid = (info or {}).get("uid") or f"{appt['id']}@{UID_HOST}"
    ev.add("uid", uid)
    ev.add("dtstamp", datetime.now(UTC))
    last = appt.get("meta", {}).get("lastUpdated")
    if last:
        ev.add("last-modified", datetime.fromisoformat(last))
    if info and info["all_day"]:
        ev.add("dtstart", info["start"])
        ev.add("dtend", info["end"] + timedelta(days=1))
    else:
        ev.add("dtstart", aware(datetime.fromisoformat(appt["start"])).astimezone(UTC))
        ev.add("dtend", aware(datetime.fromisoformat(appt["end"])).astimezone(UTC))
    ev.add("status", "CANCELLED" if appt["status"] == "cancelled" else "CONFIRMED")
    if info:
        ev.add("summary", info["title"])
        ev.add("categories", [info["kind"]])
        if info["description"]:
            ev.add("description", info["description"])
        if info["location"]:
            ev.add("location", info["location"])
        for ref in info["attendees"]:
            person = people.get(ref, {})
            email = _email(person)
            addr = icalendar.vCalAddress(f"mailto:{email}" if email else f"urn:ehr:{ref}")
            addr.params["CN"] = icalendar.vText(_name(person) or ref)
            addr.params["X-EHR-REF"] = icalendar.vText(ref)
            ev.add("attendee", addr, encode=0)
    else:
        label = appt.get("description") or type_code(appt) or "Appointment"
        ev.add("summary", f"Busy: {label}" if private else label)
        ev.add("transp", "OPAQUE")
        ev.add("class", "PRIVATE")
    return ev


def practice_feed(start: datetime | None = None, end: datetime | None = None) -> bytes:
    """The practice events (cancelled ones as STATUS:CANCELLED so subscribers drop them)."""
    now = datetime.now(UTC)
    start, end = start or now - FEED_PAST, end or now + FEED_FUTURE
    from ehr.scheduling.common import events_overlapping

    rows = events_overlapping(aware(start), aware(end), cancelled=True)
    people = _people([a for r in rows for a in actors_of(r)])
    cal = _calendar("Practice events")
    for row in sorted(rows, key=lambda r: (r["start"], r["id"])):
        cal.add_component(_vevent(row, people, private=True))
    return cal.to_ical()


def provider_feed(
    provider: str, start: datetime | None = None, end: datetime | None = None
) -> bytes:
    """One provider's events and visits (visits as busy time only)."""
    now = datetime.now(UTC)
    start, end = aware(start or now - FEED_PAST), aware(end or now + FEED_FUTURE)
    rows: dict[str, dict] = {}
    day = start.astimezone(practice_tz()).date()
    while local_midnight(day) < end:  # week by week: each an indexed search
        for a in provider_week(provider, day, with_cancelled=False):
            rows[a["id"]] = a
        day += timedelta(days=7)
    people = _people([a for r in rows.values() for a in actors_of(r)])
    cal = _calendar(_name(people.get(provider, {})) or provider)
    for row in sorted(rows.values(), key=lambda r: (r["start"], r["id"])):
        cal.add_component(_vevent(row, people, private=True))
    return cal.to_ical()


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "UID: why"


def _as_local(value) -> datetime | date:
    if isinstance(value, datetime):
        return aware(value).astimezone(practice_tz())
    return value


def _attendees(vevent, by_email: dict[str, str]) -> list[str]:
    raw = vevent.get("attendee")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for a in items:
        ref = a.params.get("X-EHR-REF")
        if ref:
            out.append(str(ref))
            continue
        addr = str(a)
        if addr.lower().startswith("urn:ehr:"):
            out.append(addr[8:])
        elif addr.lower().startswith("mailto:") and addr[7:].lower() in by_email:
            out.append(by_email[addr[7:].lower()])
    return out


def _emails(vcal) -> dict[str, str]:
    wanted = set()
    for ve in vcal.walk("VEVENT"):
        raw = ve.get("attendee") or []
        for a in raw if isinstance(raw, list) else [raw]:
            if str(a).lower().startswith("mailto:"):
                wanted.add(str(a)[7:].lower())
    out = {}
    for email in wanted:
        for p in search_all("Practitioner", [("email", email)]):
            out[email] = f"Practitioner/{p['id']}"
    return out


def _kind(vevent) -> str:
    cats = vevent.get("categories")
    values = []
    for c in cats if isinstance(cats, list) else [cats] if cats else []:
        values += [str(x).lower() for x in c.cats]
    return next((v for v in values if v in practice_events.KINDS), "other")


def _existing(uid: str) -> dict | None:
    rows = search_all("Appointment", [("identifier", f"{ICAL_UID_SYSTEM}|{uid}")])
    return rows[0] if rows else None


def import_ics(data: bytes | str) -> ImportResult:
    """Import the VEVENTs of an iCalendar file as practice events (all or nothing)."""
    try:
        vcal = icalendar.Calendar.from_ical(data)
    except ValueError as err:
        raise SchedulingError(f"Not an iCalendar file: {err}", status=400) from None
    by_email = _emails(vcal)
    result = ImportResult()
    with isolated():
        for ve in vcal.walk("VEVENT"):
            uid = str(ve.get("uid") or "")
            if not uid:
                result.skipped.append("(no UID): an event needs a UID")
                continue
            if ve.get("recurrence-id") is not None:
                result.skipped.append(f"{uid}: overridden occurrences are not imported")
                continue
            try:
                for occ_uid, fields in _occurrences(ve, uid, by_email):
                    _upsert(occ_uid, fields, result)
            except SchedulingError as err:
                result.skipped.append(f"{uid}: {err.message}")
    return result


def _occurrences(ve, uid: str, by_email: dict[str, str]):
    start = _as_local(ve.decoded("dtstart"))
    if ve.get("dtend") is not None:
        end = _as_local(ve.decoded("dtend"))
    elif ve.get("duration") is not None:
        end = start + ve.decoded("duration")
    else:
        end = start + (timedelta(days=1) if not isinstance(start, datetime) else timedelta(0))
    all_day = not isinstance(start, datetime)
    status = str(ve.get("status") or "").upper()
    fields = {
        "title": str(ve.get("summary") or "(untitled)"),
        "all_day": all_day,
        "kind": _kind(ve),
        "description": str(ve.get("description")) if ve.get("description") else None,
        "attendees": _attendees(ve, by_email),
        "location": (
            str(ve.get("location")) if str(ve.get("location") or "").startswith("Location/")
            else None
        ),
        "cancelled": status == "CANCELLED",
    }  # fmt: skip
    length = end - start
    if ve.get("rrule") is None:
        yield uid, {**fields, "start": start, "end": _end(start, length, all_day)}
        return
    rule_text = ve.get("rrule").to_ical().decode()
    first = start if not all_day else datetime.combine(start, datetime.min.time())
    rule = rrulestr(rule_text, dtstart=first)
    skip = set()
    raw = ve.get("exdate")
    for ex in raw if isinstance(raw, list) else [raw] if raw is not None else []:
        for d in ex.dts:
            v = _as_local(d.dt)
            skip.add(v if not isinstance(v, datetime) or not all_day else v.date())
    limit = first + IMPORT_HORIZON
    for occ in rule:
        if occ > limit:
            break
        at = occ.date() if all_day else occ
        if at in skip:
            continue
        key = at.isoformat() if all_day else aware(at).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        yield f"{uid}/{key}", {**fields, "start": at, "end": _end(at, length, all_day)}


def _end(start, length: timedelta, all_day: bool):
    if all_day:
        return start + length - timedelta(days=1)  # inclusive last day
    return start + length


def _upsert(uid: str, fields: dict, result: ImportResult) -> None:
    cancelled = fields.pop("cancelled")
    old = _existing(uid)
    event = practice_events.build_event(**fields, uid=uid)
    if cancelled:
        event["status"] = "cancelled"
    if old is None:
        if cancelled:
            result.skipped.append(f"{uid}: cancelled")
            return
        repository.create(event)
        result.created.append(event["id"])
    else:
        event["id"] = old["id"]
        repository.update("Appointment", old["id"], event)
        result.updated.append(old["id"])
