"""Where things go on the appointment book: columns, rows and lanes, computed on the server.

The page is a CSS grid of 5-minute rows. The Content-Security-Policy forbids inline styles, so
positions are written as utility classes from ``static/appointments/grid.css``: ``r-N`` (first
row), ``s-N`` (rows spanned) and ``gc-A-B`` (lane: column A, span B of 12, for appointments
that overlap in one column). Working hours are background shading (``shade-hours``), never
blocks; practice events are their own kind of block; all-day events sit in a strip above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ehr.scheduling import booking, flow
from ehr.scheduling.common import (
    EVENT_KIND_SYSTEM,
    EXT_ALL_DAY,
    EXT_OVERBOOKED,
    Interval,
    actors_of,
    ext,
    is_event,
    local_midnight,
    period,
    practice_tz,
)
from ehr.scheduling.models import AppointmentType
from ehr.scheduling.series import series_of

ROW_MINUTES = 5
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

# Status: icon + short text, readable without hover (UX.md section 5).
STATUS = {
    "booked": ("◷", "Booked"),
    "pending": ("…", "Pending"),
    "proposed": ("…", "Proposed"),
    "arrived": ("➜", "Arrived"),
    "roomed": ("▣", "Roomed"),
    "with-provider": ("✚", "With provider"),
    "checked-in": ("➜", "Checked in"),
    "checked-out": ("✓", "Checked out"),
    "fulfilled": ("✓", "Done"),
    "noshow": ("✕", "No-show"),
    "cancelled": ("⊘", "Cancelled"),
    "entered-in-error": ("⊘", "Error"),
}
EVENT_KINDS = {
    "conference": "Conference",
    "training": "Training",
    "meeting": "Meeting",
    "closure": "Closed",
    "other": "Event",
}


def day_text(day: date) -> str:
    """``Tue 03-Mar-2031`` (UX.md: no day/month ambiguity)."""
    return f"{WEEKDAYS[day.weekday()]} {day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def hm(dt: datetime) -> str:
    return dt.astimezone(practice_tz()).strftime("%H:%M")


def when_text(start: datetime, end: datetime) -> str:
    """``Tue 03-Mar-2031 09:00–09:20``."""
    local = start.astimezone(practice_tz())
    return f"{day_text(local.date())} {hm(start)}–{hm(end)}"


def grid_step() -> int:
    """Grid lines every 5, 10 or 15 minutes: the coarsest that fits every visit type."""
    durations = list(
        AppointmentType.objects.filter(active=True).values_list("duration_minutes", flat=True)
    )
    g = 0
    for d in durations:
        g = math.gcd(g, int(d))
    for step in (15, 10):
        if g and g % step == 0:
            return step
    return 5


def status_of(appt: dict) -> str:
    if appt.get("status") in ("arrived", "fulfilled"):
        return flow.stage(appt) or appt["status"]
    return appt.get("status", "booked")


def event_kind(ev: dict) -> str:
    return next(
        (
            c["code"]
            for st in ev.get("serviceType", [])
            for c in st.get("coding", [])
            if c.get("system") == EVENT_KIND_SYSTEM
        ),
        "other",
    )


def all_day(ev: dict) -> bool:
    return bool((ext(ev, EXT_ALL_DAY) or {}).get("valueBoolean"))


@dataclass
class Block:
    id: str
    kind: str  # "visit" or "event"
    start: datetime
    end: datetime
    title: str  # patient name or event title
    subtitle: str  # visit type or event kind
    type_code: str = ""
    status: str = ""
    status_icon: str = ""
    status_text: str = ""
    series: bool = False
    overbooked: bool = False
    movable: bool = False
    row: int = 1
    span: int = 1
    lane: int = 0
    lanes: int = 1

    @property
    def place(self) -> str:
        width = {1: 12, 2: 6, 3: 4}.get(self.lanes, 3)
        start = 1 + (self.lane % (12 // width)) * width
        return f"r-{self.row} s-{self.span} gc-{start}-{width}"

    @property
    def when(self) -> str:
        return f"{hm(self.start)}–{hm(self.end)}"

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def start_minutes(self) -> int:
        local = self.start.astimezone(practice_tz())
        return local.hour * 60 + local.minute


@dataclass
class Shade:
    row: int
    span: int
    kind: str  # "hours" (working time, lighter) or "off" (exception)
    label: str = ""

    @property
    def place(self) -> str:
        return f"r-{self.row} s-{self.span} gc-1-12"


@dataclass
class Column:
    key: str
    label: str
    actor: str
    day: date
    blocks: list[Block] = field(default_factory=list)
    shades: list[Shade] = field(default_factory=list)
    all_day: list[Block] = field(default_factory=list)

    @property
    def day_iso(self) -> str:
        return self.day.isoformat()

    @property
    def day_label(self) -> str:
        return day_text(self.day)


@dataclass
class Grid:
    first_hour: int
    last_hour: int
    step: int
    columns: list[Column]

    @property
    def rows(self) -> int:
        return (self.last_hour - self.first_hour) * 60 // ROW_MINUTES

    @property
    def hours(self) -> list[tuple[str, str]]:
        """(label, placement) of each hour line in the time gutter."""
        per_hour = 60 // ROW_MINUTES
        return [
            (f"{h:02d}:00", f"r-{(h - self.first_hour) * per_hour + 1} s-{per_hour}")
            for h in range(self.first_hour, self.last_hour)
        ]

    @property
    def day_start_minutes(self) -> int:
        return self.first_hour * 60


def _place(block: Block | Shade, start: datetime, end: datetime, day: date, first_hour: int,
           rows: int) -> bool:  # fmt: skip
    origin = local_midnight(day) + timedelta(hours=first_hour)
    top = max(0, int((start - origin).total_seconds() // 60) // ROW_MINUTES)
    bottom = min(rows, math.ceil((end - origin).total_seconds() / 60 / ROW_MINUTES))
    if bottom <= top:
        return False
    block.row, block.span = top + 1, max(1, bottom - top)
    return True


def _lanes(blocks: list[Block]) -> None:
    """Overlapping blocks share the column side by side (double bookings stay visible)."""
    blocks.sort(key=lambda b: (b.start, b.end))
    cluster: list[Block] = []
    cluster_end: datetime | None = None
    lane_ends: list[datetime] = []

    def close() -> None:
        for b in cluster:
            b.lanes = len(lane_ends)

    for b in blocks:
        if cluster_end is not None and b.start >= cluster_end:
            close()
            cluster, lane_ends = [], []
        for i, lane_end in enumerate(lane_ends):
            if lane_end <= b.start:
                b.lane, lane_ends[i] = i, b.end
                break
        else:
            b.lane = len(lane_ends)
            lane_ends.append(b.end)
        cluster.append(b)
        cluster_end = b.end if cluster_end is None else max(cluster_end, b.end)
    close()


def visit_block(appt: dict, names: dict[str, str], types: dict[str, AppointmentType]) -> Block:
    p = period(appt)
    code = booking.type_code(appt) or ""
    atype = types.get(code)
    patient = booking.participant_of(appt, "patient") or next(
        (a for a in actors_of(appt) if a.startswith("Patient/")), ""
    )
    st = status_of(appt)
    icon, text = STATUS.get(st, ("•", st.capitalize()))
    return Block(
        id=appt["id"], kind="visit", start=p.start, end=p.end,
        title=names.get(patient, "Patient"), subtitle=atype.name if atype else code,
        type_code=code, status=st, status_icon=icon, status_text=text,
        series=series_of(appt) is not None,
        overbooked=bool((ext(appt, EXT_OVERBOOKED) or {}).get("valueBoolean")),
        movable=appt.get("status") in ("booked", "pending", "proposed"),
    )  # fmt: skip


def event_block(ev: dict) -> Block:
    p = period(ev)
    kind = event_kind(ev)
    return Block(
        id=ev["id"], kind="event", start=p.start, end=p.end,
        title=ev.get("description") or "Practice event", subtitle=EVENT_KINDS.get(kind, "Event"),
        type_code=kind,
    )  # fmt: skip


def build_grid(
    specs: list[tuple[str, str, str, date]],
    appointments: list[dict],
    events: list[dict],
    hours: dict[str, list[tuple[Interval, str]]],
    off: dict[str, list[tuple[Interval, str]]],
    names: dict[str, str],
) -> Grid:
    """``specs``: (key, label, actor, day) per column. ``hours``: shifts per actor; ``off``:
    exceptions per actor (shaded grey with their reason)."""
    types = {t.code: t for t in AppointmentType.objects.all()}
    tz = practice_tz()
    first, last = 8, 18
    for shifts in hours.values():
        for iv, _ in shifts:
            first = min(first, iv.start.astimezone(tz).hour)
            end = iv.end.astimezone(tz)
            last = max(last, end.hour + (1 if end.minute else 0))
    for a in appointments:
        if all_day(a):
            continue
        p = period(a)
        s, e = p.start.astimezone(tz), p.end.astimezone(tz)
        if s.date() == e.date():
            first = min(first, s.hour)
            last = max(last, e.hour + (1 if e.minute else 0))
    grid = Grid(first_hour=max(0, first), last_hour=min(24, last), step=grid_step(), columns=[])
    for key, label, actor, day in specs:
        col = Column(key=key, label=label, actor=actor, day=day)
        lo, hi = local_midnight(day), local_midnight(day + timedelta(days=1))
        window = Interval(lo, hi)
        for iv, _loc in hours.get(actor, []):
            if iv.overlaps(window):
                shade = Shade(row=1, span=1, kind="hours")
                if _place(shade, iv.start, iv.end, day, grid.first_hour, grid.rows):
                    col.shades.append(shade)
        for iv, reason in off.get(actor, []):
            if iv.overlaps(window):
                shade = Shade(row=1, span=1, kind="off", label=reason or "Not available")
                s, e = max(iv.start, lo), min(iv.end, hi)
                if _place(shade, s, e, day, grid.first_hour, grid.rows):
                    col.shades.append(shade)
        for ev in events:
            if not period(ev).overlaps(window) or not _attends(ev, actor, hours.get(actor, [])):
                continue
            block = event_block(ev)
            if all_day(ev) or (block.end - block.start) >= timedelta(hours=12):
                col.all_day.append(block)
            elif _place(block, block.start, block.end, day, grid.first_hour, grid.rows):
                col.blocks.append(block)
        visits = []
        for appt in appointments:
            if is_event(appt) or actor not in actors_of(appt):
                continue
            if not period(appt).overlaps(window):
                continue
            block = visit_block(appt, names, types)
            if _place(block, block.start, block.end, day, grid.first_hour, grid.rows):
                visits.append(block)
        _lanes(visits)
        col.blocks += visits
        grid.columns.append(col)
    return grid


def _attends(ev: dict, actor: str, shifts: list[tuple[Interval, str]]) -> bool:
    who = actors_of(ev)
    if actor in who:
        return True
    if event_kind(ev) != "closure":
        return False
    places = [a for a in who if a.startswith("Location/")]
    return not places or any(loc in places for _, loc in shifts)


def month_weeks(month_start: date) -> list[list[date]]:
    """The Monday-to-Sunday weeks that cover the month."""
    first = month_start - timedelta(days=month_start.weekday())
    weeks = []
    d = first
    while True:
        weeks.append([d + timedelta(days=i) for i in range(7)])
        d += timedelta(days=7)
        if d.month != month_start.month and d > month_start:
            break
    return weeks


def parse_day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def local_at(day: date, minutes: int) -> datetime:
    """The local wall-clock time ``minutes`` after midnight of ``day`` (DST-safe)."""
    minutes = max(0, min(minutes, 24 * 60 - 1))
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=practice_tz())
