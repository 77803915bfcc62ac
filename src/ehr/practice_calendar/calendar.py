"""What the screens show: events as display rows, the month grid, a day's list.

Pure functions over the engine's event resources (``ehr.scheduling.events``); the views fetch
the events once per screen (one indexed search) and the names of the people and places they
mention (one search per type), then lay them out here. Times are in the practice time zone.
"""

from __future__ import annotations

import calendar as pycal
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ehr.scheduling import events as engine
from ehr.scheduling.common import parse_instant, practice_tz, search_all

KIND_LABELS = {
    "conference": "Conference",
    "training": "Training",
    "meeting": "Staff meeting",
    "closure": "Closure",
    "other": "Other",
}
PER_CELL = 3  # events listed in a month cell before "+N more"
SHORT = 140  # characters of description in the upcoming list


@dataclass
class EventRow:
    id: str
    title: str
    kind: str
    all_day: bool
    start: datetime  # local
    end: datetime  # local, exclusive
    status: str
    location: str | None = None
    location_name: str = ""
    description: str = ""
    attendees: list[tuple[str, str]] = field(default_factory=list)  # (reference, name)
    uid: str | None = None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind.title())

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last day the event covers (inclusive)."""
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def multi_day(self) -> bool:
        return self.days > 1

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def short_description(self) -> str:
        return shorten(self.description)

    @property
    def start_hm(self) -> str:
        return _hm(self.start)

    @property
    def when(self) -> str:
        """``Fri 19-Sep-2025 09:00–17:00``, ``Wed 17-Sep-2025 – Fri 19-Sep-2025 (all day)``."""
        if self.all_day:
            if self.multi_day:
                return f"{_day(self.first_day)} – {_day(self.last_day)} (all day)"
            return f"{_day(self.first_day)} (all day)"
        if self.multi_day:
            first, last = _day(self.first_day), _day(self.last_day)
            return f"{first} {_hm(self.start)} – {last} {_hm(self.end)}"
        return f"{_day(self.first_day)} {_hm(self.start)}–{_hm(self.end)}"

    def label_on(self, day: date) -> str:
        """The time shown before the title in a day cell or a day list."""
        if self.all_day:
            return "All day"
        if self.first_day == day and self.last_day == day:
            return f"{_hm(self.start)}–{_hm(self.end)}"
        if self.first_day == day:
            return f"from {_hm(self.start)}"
        if self.last_day == day:
            return f"until {_hm(self.end)}"
        return "all day"

    def day_number(self, day: date) -> int:
        return (day - self.first_day).days + 1

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    @property
    def blocks(self) -> str:
        """Whose schedule the event blocks (the engine's rule, in words)."""
        if self.cancelled:
            return "Nobody (cancelled)"
        if self.kind == "closure":
            if self.location:
                return f"Every provider working at {self.location_name or self.location}"
            return "Every provider (the whole practice is closed)"
        names = [name for _ref, name in self.attendees]
        return ", ".join(names) if names else "Nobody (no provider attends)"


def _day(d: date) -> str:
    return d.strftime("%a %d-%b-%Y")


def _hm(dt: datetime) -> str:
    return dt.strftime("%H:%M")


def shorten(text: str | None, limit: int = SHORT) -> str:
    """At most ``limit`` characters, cut at a word with an ellipsis."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def person_name(resource: dict) -> str:
    for n in resource.get("name") or []:
        if n.get("text"):
            return n["text"]
        parts = [*n.get("prefix", []), *n.get("given", []), n.get("family", "")]
        if any(parts):
            return " ".join(p for p in parts if p)
    return resource.get("id", "")


def names(refs: list[str]) -> dict[str, str]:
    """Display names of Practitioners and Locations by reference (one search per type)."""
    out: dict[str, str] = {}
    for rtype in ("Practitioner", "Location"):
        ids = sorted({r.split("/", 1)[1] for r in refs if r.startswith(rtype + "/")})
        if not ids:
            continue
        for res in search_all(rtype, [("_id", ",".join(ids))]):
            ref = f"{rtype}/{res['id']}"
            out[ref] = res.get("name") if rtype == "Location" else person_name(res)
    return out


def rows(resources: list[dict]) -> list[EventRow]:
    """Display rows for event resources, with names looked up once."""
    infos = [(r, engine.describe(r)) for r in resources]
    refs = [a for _, i in infos for a in i["attendees"]]
    refs += [i["location"] for _, i in infos if i["location"]]
    known = names(refs) if refs else {}
    return [row(r, i, known) for r, i in infos]


def row(resource: dict, info: dict, known: dict[str, str]) -> EventRow:
    tz = practice_tz()
    return EventRow(
        id=resource["id"],
        title=info["title"],
        kind=info["kind"],
        all_day=info["all_day"],
        start=parse_instant(resource["start"]).astimezone(tz),
        end=parse_instant(resource["end"]).astimezone(tz),
        status=resource.get("status", ""),
        location=info["location"],
        location_name=known.get(info["location"] or "", info["location"] or ""),
        description=info["description"] or "",
        attendees=[(a, known.get(a, a)) for a in info["attendees"]],
        uid=info["uid"],
    )


def ordered(items: list[EventRow]) -> list[EventRow]:
    """All-day (and whole-day) events first, then by start time and title."""
    return sorted(items, key=lambda e: (not e.all_day, e.start, e.title.lower(), e.id))


def on_day(items: list[EventRow], day: date) -> list[EventRow]:
    return ordered([e for e in items if e.covers(day)])


@dataclass
class DayCell:
    day: date
    in_month: bool
    today: bool
    events: list[EventRow]
    more: int

    @property
    def weekend(self) -> bool:
        return self.day.weekday() >= 5


def month_weeks(year: int, month: int) -> list[list[date]]:
    """Monday-to-Sunday weeks covering the month: five or six rows (four padded to five)."""
    weeks = pycal.Calendar(firstweekday=0).monthdatescalendar(year, month)
    while len(weeks) < 5:
        start = weeks[-1][-1] + timedelta(days=1)
        weeks.append([start + timedelta(days=i) for i in range(7)])
    return weeks


def month_grid(
    year: int, month: int, items: list[EventRow], today: date, per_cell: int = PER_CELL
) -> list[list[DayCell]]:
    out = []
    for week in month_weeks(year, month):
        cells = []
        for d in week:
            todays = on_day(items, d)
            cells.append(
                DayCell(
                    day=d,
                    in_month=d.month == month,
                    today=d == today,
                    events=todays[:per_cell] if len(todays) > per_cell + 1 else todays,
                    more=len(todays) - per_cell if len(todays) > per_cell + 1 else 0,
                )
            )
        out.append(cells)
    return out


def today() -> date:
    return datetime.now(practice_tz()).date()


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    n = year * 12 + (month - 1) + delta
    return n // 12, n % 12 + 1


MONTHS = [(i, pycal.month_name[i]) for i in range(1, 13)]
