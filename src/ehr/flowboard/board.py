"""The flow board's view model: the day's visits at a location in columns by stage.

One indexed search gives the day's appointments (``flow.board``: ``Appointment?date=ge..&
date=lt..&status=..&location=..``); then one ``_id`` search per kind of name (patients,
providers, places). Nothing here grows with the size of the store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone

from ehr.flowboard.common import (
    location_name,
    patient_name,
    practitioner_name,
    resources,
)
from ehr.scheduling import booking, flow
from ehr.scheduling.common import period, practice_tz

COLUMNS = [
    ("scheduled", "Not arrived"),
    ("arrived", "Arrived (waiting room)"),
    ("roomed", "Roomed"),
    ("with-provider", "With provider"),
    ("checked-out", "Checked out"),
    ("no-show", "No-show"),
]
# The next step offered on a card in each column: (stage to move to, button label).
NEXT = {
    "scheduled": [("arrived", "Check in")],
    "arrived": [("roomed", "Room"), ("with-provider", "With provider")],
    "roomed": [("with-provider", "With provider")],
    "with-provider": [("checked-out", "Check out")],
}


def warn_minutes() -> float:
    return float(os.environ.get("EHR_FLOW_WARN_MINUTES", "15"))


@dataclass
class Card:
    id: str
    column: str
    patient_id: str
    patient: str
    start: datetime
    provider: str
    visit_type: str
    room: str
    minutes: float | None  # in the current stage (checked out: the whole visit)
    waiting_label: str
    warn: bool
    late: float | None
    since: datetime | None
    actions: list[tuple[str, str]]


@dataclass
class Board:
    day: date
    location: str | None
    columns: list[tuple[str, str, list[Card]]] = field(default_factory=list)
    total: int = 0


def column_of(appointment: dict, stage: str | None) -> str:
    if appointment["status"] == "noshow":
        return "no-show"
    if stage:
        return stage
    return "checked-out" if appointment["status"] == "fulfilled" else "scheduled"


def build(day: date, location: str | None = None, now: datetime | None = None) -> Board:
    now = now or timezone.now()
    rows = flow.board(day, location=location)
    refs: set[str] = set()
    for r in rows:
        refs.update(
            x
            for x in (
                booking.participant_of(r.appointment, "patient"),
                booking.participant_of(r.appointment, "provider"),
                booking.participant_of(r.appointment, "room"),
            )
            if x
        )
    patients = resources(refs, "Patient")
    doctors = resources(refs, "Practitioner")
    places = resources(refs, "Location")
    limit = warn_minutes()
    cards: dict[str, list[Card]] = {c: [] for c, _ in COLUMNS}
    for r in rows:
        a = r.appointment
        col = column_of(a, r.stage)
        pref = booking.participant_of(a, "patient") or ""
        room = booking.participant_of(a, "room")
        start = period(a).start
        since = r.times.get(r.stage) if r.stage else None
        minutes: float | None
        if col == "checked-out":
            minutes, label = r.waits.total, "Visit took"
        elif col in ("arrived", "roomed", "with-provider") and since:
            minutes = round((now - since).total_seconds() / 60, 1)
            label = {"arrived": "Waiting", "roomed": "In room", "with-provider": "With provider"}[
                col
            ]
        else:
            minutes, label = None, ""
        late = None
        if col == "scheduled" and now > start:
            late = round((now - start).total_seconds() / 60, 1)
        cards[col].append(
            Card(
                id=a["id"],
                column=col,
                patient_id=pref.split("/", 1)[-1],
                patient=patient_name(patients.get(pref)),
                start=start.astimezone(practice_tz()),
                provider=practitioner_name(doctors.get(booking.participant_of(a, "provider"))),
                visit_type=a.get("description") or booking.type_code(a) or "",
                room=location_name(places.get(room)) if room else "",
                minutes=minutes,
                waiting_label=label,
                warn=bool(minutes is not None and col in ("arrived", "roomed") and minutes > limit),
                late=late,
                since=since.astimezone(practice_tz()) if since else None,
                actions=NEXT.get(col, []),
            )
        )
    board = Board(day=day, location=location, total=len(rows))
    board.columns = [(c, label, cards[c]) for c, label in COLUMNS]
    return board
