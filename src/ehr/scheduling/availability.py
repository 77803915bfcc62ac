"""Free time: weekly working hours minus exceptions, practice events and booked appointments.

Free time is computed on the fly instead of being stored as FHIR ``Slot`` rows: hours change,
and materialised slots would mean millions of rows that must be rewritten on every change. A
computed slot can still be shown to FHIR clients as a ``Slot``-shaped dict (``Slot.as_fhir``).

Cost: the hours and exceptions come from small configuration tables; the busy time of a
window is one indexed search of the actors' appointments plus one of the practice events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q

from ehr.scheduling.common import (
    EVENT_KIND_SYSTEM,
    Interval,
    SchedulingError,
    actors_of,
    appointments_overlapping,
    days,
    events_overlapping,
    fhir_instant,
    local_midnight,
    period,
    practice_tz,
    subtract,
)
from ehr.scheduling.models import AppointmentType, ScheduleException, WorkingHours

STEP = timedelta(minutes=15)  # the grid on which slots start (besides the start of a gap)


@dataclass(frozen=True, slots=True)
class Slot:
    actor: str
    location: str
    start: datetime
    end: datetime
    appointment_type: str

    def as_fhir(self) -> dict:
        """A FHIR R4 ``Slot``-shaped dict (not stored)."""
        return {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{self.actor.replace('/', '-')}"},
            "status": "free",
            "start": fhir_instant(self.start),
            "end": fhir_instant(self.end),
            "serviceType": [{"coding": [{"code": self.appointment_type}]}],
            "extension": [
                {"url": "actor", "valueReference": {"reference": self.actor}},
                {"url": "location", "valueReference": {"reference": self.location}},
            ],
        }


def appointment_type(code: str | AppointmentType) -> AppointmentType:
    if isinstance(code, AppointmentType):
        return code
    try:
        return AppointmentType.objects.get(code=code, active=True)
    except AppointmentType.DoesNotExist:
        raise SchedulingError(f"Unknown appointment type '{code}'", status=400) from None


def working_intervals(
    actors: list[str], day_from: date, day_to: date, location: str | list[str] | None = None
) -> dict[str, list[tuple[Interval, str]]]:
    """Each actor's shifts in the days (inclusive), as (interval, location), before exceptions."""
    rows = WorkingHours.objects.filter(actor__in=actors)
    if location:
        rows = rows.filter(location__in=[location] if isinstance(location, str) else location)
    by_weekday: dict[tuple[str, int], list[WorkingHours]] = defaultdict(list)
    for row in rows:
        by_weekday[(row.actor, row.weekday)].append(row)
    tz = practice_tz()
    out: dict[str, list[tuple[Interval, str]]] = defaultdict(list)
    for day in days(day_from, day_to):
        for actor in actors:
            for row in by_weekday.get((actor, day.weekday()), ()):
                if (row.valid_from and day < row.valid_from) or (
                    row.valid_to and day > row.valid_to
                ):
                    continue
                start = datetime.combine(day, row.start, tzinfo=tz)
                end = datetime.combine(day, row.end, tzinfo=tz)
                out[actor].append((Interval(start, end), row.location))
    return out


def exceptions(actors: list[str], start: datetime, end: datetime) -> list[ScheduleException]:
    return list(
        ScheduleException.objects.filter(start__lt=end, end__gt=start).filter(
            Q(actor__in=actors) | Q(actor="")
        )
    )


def _exception_blocks(exc: list[ScheduleException], actor: str, location: str) -> list[Interval]:
    return [
        Interval(e.start, e.end)
        for e in exc
        if e.actor in ("", actor) and (not e.location or e.location == location)
    ]


def event_blocks(events: list[dict], actor: str, location: str) -> list[Interval]:
    """Practice events that take this actor's time: those it attends, and closures of the
    whole practice or of this location."""
    out = []
    for ev in events:
        who = actors_of(ev)
        kinds = {
            c.get("code")
            for st in ev.get("serviceType", [])
            for c in st.get("coding", [])
            if c.get("system") == EVENT_KIND_SYSTEM
        }
        closure = "closure" in kinds and (
            not [a for a in who if a.startswith("Location/")] or location in who
        )
        if actor in who or closure:
            out.append(period(ev))
    return out


def busy_by_actor(appointments: list[dict]) -> dict[str, list[Interval]]:
    out: dict[str, list[Interval]] = defaultdict(list)
    for a in appointments:
        p = period(a)
        for actor in actors_of(a):
            out[actor].append(p)
    return out


def free_time(
    actors: list[str],
    day_from: date,
    day_to: date,
    location: str | list[str] | None = None,
    ignore: set[str] | frozenset[str] = frozenset(),
    window: Interval | None = None,
) -> dict[str, list[tuple[Interval, str]]]:
    """Each actor's free intervals (with their location) over the days, inclusive; only
    within ``window`` when given (then only that window's bookings are read)."""
    start, end = local_midnight(day_from), local_midnight(day_to + timedelta(days=1))
    hours = working_intervals(actors, day_from, day_to, location)
    if window is not None:
        start, end = max(start, window.start), min(end, window.end)
        hours = {
            a: [
                (Interval(max(i.start, start), min(i.end, end)), loc)
                for i, loc in shifts
                if i.start < end and i.end > start
            ]
            for a, shifts in hours.items()
        }
    actors = [a for a in actors if hours.get(a)]
    if not actors:
        return {}
    exc = exceptions(actors, start, end)
    events = events_overlapping(start, end)
    booked = appointments_overlapping(actors, start, end)
    busy = busy_by_actor([a for a in booked if a.get("id") not in ignore])
    events = [e for e in events if e.get("id") not in ignore]
    out: dict[str, list[tuple[Interval, str]]] = {}
    for actor in actors:
        free: list[tuple[Interval, str]] = []
        for shift, loc in hours[actor]:
            blocks = (
                _exception_blocks(exc, actor, loc) + event_blocks(events, actor, loc) + busy[actor]
            )
            free += [(i, loc) for i in subtract([shift], blocks)]
        out[actor] = _merge(sorted(free, key=lambda x: x[0]))
    return out


def _merge(gaps: list[tuple[Interval, str]]) -> list[tuple[Interval, str]]:
    """Join gaps that touch at the same location (back-to-back shifts)."""
    out: list[tuple[Interval, str]] = []
    for gap, loc in gaps:
        if out and out[-1][1] == loc and out[-1][0].end >= gap.start:
            prev = out[-1][0]
            out[-1] = (Interval(prev.start, max(prev.end, gap.end)), loc)
        else:
            out.append((gap, loc))
    return out


def _slots_in(gap: Interval, length: timedelta) -> list[tuple[datetime, datetime]]:
    """Start times inside a free gap: the gap's start, then every grid point (``STEP`` from
    local midnight) where a visit of ``length`` still fits."""
    out = []
    t = gap.start
    midnight = gap.start.astimezone(practice_tz()).replace(hour=0, minute=0, second=0)
    while t + length <= gap.end:
        out.append((t, t + length))
        steps = (t - midnight) // STEP + 1
        t = midnight + steps * STEP
    return out


def free_slots(
    provider: str,
    day_from: date,
    day_to: date,
    appointment_type_code: str | AppointmentType,
    location: str | None = None,
) -> list[Slot]:
    """Bookable slots of one provider for a type of visit, in time order."""
    atype = appointment_type(appointment_type_code)
    if not atype.allows(provider):
        return []
    length = timedelta(minutes=atype.duration_minutes)
    out = []
    for gap, loc in free_time([provider], day_from, day_to, location).get(provider, []):
        out += [Slot(provider, loc, s, e, atype.code) for s, e in _slots_in(gap, length)]
    return out


def is_free(
    actor: str,
    start: datetime,
    end: datetime,
    location: str | None = None,
    ignore: set[str] | frozenset[str] = frozenset(),
) -> bool:
    """Whether [start, end) lies inside the actor's free time (hours, no block, no booking)."""
    tz = practice_tz()
    d0, d1 = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    want = Interval(start, end)
    for gap, _ in free_time([actor], d0, d1, location, ignore).get(actor, []):
        if gap.start <= want.start and want.end <= gap.end:
            return True
    return False


SEARCH_WINDOW = timedelta(hours=2)


def next_available(
    appointment_type_code: str | AppointmentType,
    after: datetime,
    providers: list[str] | None = None,
    locations: list[str] | None = None,
    *,
    within_days: int = 90,
    count: int = 1,
) -> list[Slot]:
    """The earliest ``count`` slots for a type of visit at or after ``after``, across the
    providers (default: those allowed for the type who have working hours) and locations.

    Scans day by day: per day one search for all candidates' bookings (plus events), so the
    cost is that of the days up to the answer, not of the schedule's size.
    """
    atype = appointment_type(appointment_type_code)
    if providers is None:
        providers = atype.allowed_actors or sorted(
            set(
                WorkingHours.objects.filter(actor__startswith="Practitioner/").values_list(
                    "actor", flat=True
                )
            )
        )
    providers = [p for p in providers if atype.allows(p)]
    length = timedelta(minutes=atype.duration_minutes)
    midnight = after.astimezone(practice_tz()).replace(hour=0, minute=0, second=0, microsecond=0)
    after = midnight + -((midnight - after) // STEP) * STEP  # up to the next grid point
    found: list[Slot] = []
    day = after.astimezone(practice_tz()).date()
    for _ in range(within_days):
        # A few hours at a time: the answer is usually soon after ``after``, and each window
        # reads only the bookings around it, not the whole day of every provider.
        shifts = [
            i for a in working_intervals(providers, day, day, locations).values() for i, _ in a
        ]
        if not shifts:
            day += timedelta(days=1)
            continue
        t = max(after, min(i.start for i in shifts))
        day_end = max(i.end for i in shifts)
        while t < day_end and len(found) < count:
            w_end = min(t + SEARCH_WINDOW, day_end)
            free = free_time(providers, day, day, locations, window=Interval(t, w_end + length))
            for actor, gaps in free.items():
                for gap, loc in gaps:
                    if gap.end <= after:
                        continue
                    gap = Interval(max(gap.start, after), gap.end)
                    found += [
                        Slot(actor, loc, s, e, atype.code)
                        for s, e in _slots_in(gap, length)
                        if t <= s < w_end  # later starts belong to the next window
                    ]
            t = w_end
        if len(found) >= count:
            break
        day += timedelta(days=1)
    found.sort(key=lambda s: (s.start, s.actor, s.location))
    return found[:count]
