"""Shared pieces: code systems and extension URLs, the practice time zone, intervals, and the
indexed searches every part of scheduling uses.

Searches go through the FHIR search engine (``Appointment?actor=...&date=ge..&date=lt..``), so
their cost follows the rows in the window, never the size of the store. The ``date`` parameter
of Appointment indexes ``start`` only; to find what *overlaps* a window we look back by the
longest thing that can overlap: ``MAX_APPOINTMENT`` for visits, ``MAX_EVENT`` for practice
events (which may be multi-day; longer absences belong in working-hours exceptions).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings

from ehr.fhir.errors import FhirError
from ehr.fhir.search.engine import parse, run
from ehr.fhir.search.extract import hash64
from ehr.fhir.storage.db import lock_key

BASE = "http://ehr.example.org/fhir"
TYPE_SYSTEM = f"{BASE}/CodeSystem/appointment-type"
EVENT_KIND_SYSTEM = f"{BASE}/CodeSystem/practice-event-kind"
CATEGORY_SYSTEM = f"{BASE}/CodeSystem/scheduling-category"
TAG_SYSTEM = f"{BASE}/CodeSystem/scheduling"
SERIES_CODE_SYSTEM = f"{BASE}/CodeSystem/basic-kind"
OCCURRENCE_SYSTEM = f"{BASE}/sid/series-occurrence"
ICAL_UID_SYSTEM = "urn:ietf:rfc:5545"  # identifier.system of an imported event's UID
EXT_SERIES = f"{BASE}/StructureDefinition/appointment-series"
EXT_ORIGINAL_START = f"{BASE}/StructureDefinition/appointment-original-start"
EXT_FLOW = f"{BASE}/StructureDefinition/appointment-flow"
EXT_CANCEL_REASON = f"{BASE}/StructureDefinition/appointment-cancel-reason"
EXT_OVERBOOKED = f"{BASE}/StructureDefinition/appointment-overbooked"
EXT_ALL_DAY = f"{BASE}/StructureDefinition/event-all-day"
EXT_RRULE = f"{BASE}/StructureDefinition/series-rrule"
EXT_TEMPLATE = f"{BASE}/StructureDefinition/series-template"
EXT_HORIZON = f"{BASE}/StructureDefinition/series-horizon"

MAX_APPOINTMENT = timedelta(hours=8)  # no visit lasts longer; booking refuses longer ones
MAX_EVENT = timedelta(days=31)
# Appointment statuses that hold the time (proposed, waitlist, cancelled, noshow and
# entered-in-error do not).
BLOCKING = ("booked", "pending", "arrived", "checked-in", "fulfilled")
PAGE = 1000


class SchedulingError(FhirError):
    """A scheduling request that cannot be done as asked (a clear message for the screen)."""

    def __init__(self, message: str, **kw):
        kw.setdefault("status", 409)
        super().__init__(message, **kw)


def practice_tz() -> ZoneInfo:
    """Working hours and all-day events are in the practice's local time."""
    name = getattr(settings, "EHR_TIME_ZONE", None) or os.environ.get(
        "EHR_TIME_ZONE", "America/New_York"
    )
    return ZoneInfo(name)


def aware(dt: datetime) -> datetime:
    """A naive datetime is read as practice local time."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=practice_tz())


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=practice_tz())


def fhir_instant(dt: datetime) -> str:
    """An instant in practice local time with its offset (readable in the chart)."""
    return aware(dt).astimezone(practice_tz()).isoformat(timespec="seconds")


def utc_param(dt: datetime) -> str:
    return aware(dt).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    return aware(dt)


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


def subtract(free: list[Interval], busy: list[Interval]) -> list[Interval]:
    """``free`` minus every ``busy`` interval (both may be unsorted)."""
    busy = sorted(b for b in busy if b.end > b.start)
    out: list[Interval] = []
    for f in sorted(free):
        cur = f.start
        for b in busy:
            if b.end <= cur or b.start >= f.end:
                continue
            if b.start > cur:
                out.append(Interval(cur, b.start))
            cur = max(cur, b.end)
            if cur >= f.end:
                break
        if cur < f.end:
            out.append(Interval(cur, f.end))
    return out


def days(day_from: date, day_to: date) -> Iterator[date]:
    """Each day from ``day_from`` to ``day_to`` inclusive."""
    d = day_from
    while d <= day_to:
        yield d
        d += timedelta(days=1)


# Parsed versions for screens that read the same resources again and again (the flow board
# refreshes every 15 s): a version never changes, so (type, id, version) is a safe key. Only
# read-only callers use it (``search_all(..., reuse=True)``): the dicts are shared.
_PARSED: dict[tuple[str, str, int], dict] = {}
_PARSED_MAX = 20_000


def _parsed(stored) -> dict:
    key = (stored.resource_type, stored.id, stored.version)
    hit = _PARSED.get(key)
    if hit is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        hit = _PARSED[key] = orjson.loads(stored.content)
    return hit


def search_all(rtype: str, params: list[tuple[str, str]], *, reuse: bool = False) -> list[dict]:
    """Every match of an indexed search, paged by cursor; resources as dicts.

    ``reuse=True`` returns shared, cached dicts: for callers that only read them.
    """
    out: list[dict] = []
    cursor = None
    while True:
        req = parse(rtype, [*params, ("_count", str(PAGE)), ("_total", "none")], strict=True)
        req.cursor = cursor
        page = run(req)
        # Plain orjson: scheduling reads times and references, never decimals, so it can skip
        # the decimal-faithful parser (several times slower on thousands of appointments).
        if reuse:
            out.extend(_parsed(s) for s in page.rows)
        else:
            out.extend(orjson.loads(s.content) for s in page.rows)
        if not page.has_more:
            return out
        cursor = page.after


def appointments_overlapping(
    actors: list[str], start: datetime, end: datetime, *, blocking_only: bool = True
) -> list[dict]:
    """Appointments (visits and practice events) of any of ``actors`` that overlap
    [start, end): one indexed search with a look-back of ``MAX_APPOINTMENT``."""
    if not actors:
        return []
    since = start - MAX_APPOINTMENT
    params = [
        ("actor", ",".join(actors)),
        # The days lead the query (bounded index ranges); ge/lt then trim it exactly, row by row.
        ("date", utc_days(since, end)),
        ("date", "ge" + utc_param(since)),
        ("date", "lt" + utc_param(end)),
    ]
    if blocking_only:
        params.append(("status", ",".join(BLOCKING)))
    window = Interval(start, end)
    return [a for a in search_all("Appointment", params) if period(a).overlaps(window)]


def events_overlapping(start: datetime, end: datetime, *, cancelled: bool = False) -> list[dict]:
    """Practice events overlapping [start, end) (one search by tag; events are few)."""
    params = [
        ("_tag", f"{TAG_SYSTEM}|practice-event"),
        ("date", "ge" + utc_param(start - MAX_EVENT)),
        ("date", "lt" + utc_param(end)),
    ]
    if not cancelled:
        params.append(("status", ",".join(BLOCKING)))
    window = Interval(start, end)
    return [e for e in search_all("Appointment", params) if period(e).overlaps(window)]


def utc_days(start: datetime, end: datetime) -> str:
    """The UTC days that [start, end) touches, as one OR'd date search (``eq`` each day).

    Days are bounded ranges on the date index, so the search reads the appointments of those
    days only; ``ge``/``lt`` pairs would each be open-ended and read far more.
    """
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    days = []
    while first <= last:
        days.append(first.isoformat())
        first += timedelta(days=1)
    return ",".join(days)


def period(appointment: dict) -> Interval:
    start = parse_instant(appointment["start"])
    end = parse_instant(appointment["end"]) if appointment.get("end") else start
    return Interval(start, end)


def actors_of(appointment: dict) -> list[str]:
    return [
        p["actor"]["reference"]
        for p in appointment.get("participant", [])
        if isinstance(p.get("actor"), dict) and p["actor"].get("reference")
    ]


def is_event(appointment: dict) -> bool:
    return any(
        t.get("system") == TAG_SYSTEM and t.get("code") == "practice-event"
        for t in appointment.get("meta", {}).get("tag", [])
    )


def ext(resource: dict, url: str) -> dict | None:
    for e in resource.get("extension", []):
        if e.get("url") == url:
            return e
    return None


def set_ext(resource: dict, url: str, **value) -> None:
    """Replace (or remove, with no value) the extension ``url``."""
    exts = [e for e in resource.get("extension", []) if e.get("url") != url]
    if value:
        exts.append({"url": url, **value})
    if exts:
        resource["extension"] = exts
    else:
        resource.pop("extension", None)


def lock_actors(actors: list[str]) -> None:
    """Serialise bookings per actor (PostgreSQL advisory locks, taken in a fixed order so two
    bookings that share actors cannot deadlock). SQLite serialises writers already."""
    for actor in sorted(set(actors)):
        lock_key(hash64("scheduling", actor))
