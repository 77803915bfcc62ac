"""The flow board: arrived → roomed → with provider → checked out, with times and waits.

Where it is kept: on the Appointment itself. ``status`` carries the FHIR state (``arrived``
from arrival until check-out, then ``fulfilled``) and one extension holds the time of each
stage reached (``arrived``, ``roomed``, ``with-provider``, ``checked-out``), so the day's
board is one indexed search of the day's appointments and each row carries its whole story;
every change is a new version, so the history is audited like any write. The Encounter of the
visit is the charting app's concern (it may point back with ``Encounter.appointment``).
Stages only move forward; a stage may be skipped (a patient taken straight to a room).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from ehr.fhir.storage import repository
from ehr.fhir.storage.db import isolated
from ehr.scheduling import booking
from ehr.scheduling.common import (
    EXT_FLOW,
    SchedulingError,
    aware,
    ext,
    fhir_instant,
    is_event,
    local_midnight,
    parse_instant,
    period,
    search_all,
    utc_days,
    utc_param,
)

STAGES = ("arrived", "roomed", "with-provider", "checked-out")
STATUS_OF = {"arrived": "arrived", "roomed": "arrived", "with-provider": "arrived",
             "checked-out": "fulfilled"}  # fmt: skip


def stage_times(appointment: dict) -> dict[str, datetime]:
    e = ext(appointment, EXT_FLOW)
    if not e:
        return {}
    return {p["url"]: parse_instant(p["valueDateTime"]) for p in e.get("extension", [])}


def stage(appointment: dict) -> str | None:
    times = stage_times(appointment)
    reached = [s for s in STAGES if s in times]
    return reached[-1] if reached else None


def advance(
    appointment_id: str, to: str, *, at: datetime | None = None, room: str | None = None
) -> dict:
    """Move an appointment to a later stage, stamping the time (now unless ``at``)."""
    if to not in STAGES:
        raise SchedulingError(f"Unknown stage '{to}': one of {', '.join(STAGES)}", status=400)
    when = aware(at) if at else timezone.now()
    with isolated():
        appt = booking.get(appointment_id)
        if appt["status"] not in ("booked", "pending", "checked-in", "arrived"):
            raise SchedulingError(f"A {appt['status']} appointment is not on the flow board")
        times = stage_times(appt)
        current = stage(appt)
        if current is not None and STAGES.index(to) <= STAGES.index(current):
            raise SchedulingError(f"The patient is already {current.replace('-', ' ')}")
        if times and when < max(times.values()):
            raise SchedulingError("A stage cannot be earlier than the one before it", status=400)
        times[to] = when
        appt["extension"] = [e for e in appt.get("extension", []) if e.get("url") != EXT_FLOW]
        appt["extension"].append(
            {
                "url": EXT_FLOW,
                "extension": [
                    {"url": s, "valueDateTime": fhir_instant(times[s])}
                    for s in STAGES
                    if s in times
                ],
            }
        )
        appt["status"] = STATUS_OF[to]
        if room:
            booking._replace_participant(appt, "room", room)
        repository.update("Appointment", appt["id"], appt)
        return appt


def check_in(appointment_id: str, **kw) -> dict:
    return advance(appointment_id, "arrived", **kw)


def check_out(appointment_id: str, **kw) -> dict:
    return advance(appointment_id, "checked-out", **kw)


@dataclass(frozen=True)
class Waits:
    """Minutes spent in each part of the visit (running to ``now`` for the current part)."""

    in_waiting_room: float | None  # arrived → roomed (or → with provider if not roomed)
    in_room_before_provider: float | None  # roomed → with provider
    with_provider: float | None  # with provider → checked out
    total: float | None  # arrived → checked out
    late_minutes: float | None  # arrival after the booked start (negative: early)


def waiting_times(appointment: dict, now: datetime | None = None) -> Waits:
    now = now or timezone.now()
    t = stage_times(appointment)

    def minutes(a: str, b: str | tuple[str, ...]) -> float | None:
        if a not in t:
            return None
        ends = (b,) if isinstance(b, str) else b
        end = next((t[x] for x in ends if x in t), now)
        return round((end - t[a]).total_seconds() / 60, 1)

    arrived = t.get("arrived")
    return Waits(
        in_waiting_room=minutes("arrived", ("roomed", "with-provider", "checked-out")),
        in_room_before_provider=minutes("roomed", ("with-provider", "checked-out")),
        with_provider=minutes("with-provider", "checked-out"),
        total=minutes("arrived", "checked-out"),
        late_minutes=(
            round((arrived - period(appointment).start).total_seconds() / 60, 1)
            if arrived
            else None
        ),
    )


@dataclass(frozen=True)
class BoardRow:
    appointment: dict
    stage: str | None
    times: dict[str, datetime]
    waits: Waits


def board(day: date, *, location: str | None = None, provider: str | None = None) -> list:
    """The day's visits (no practice events, no cancellations) with their stage and waits."""
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    params = [
        # The UTC days first: a bounded range that leads the query (a location would not).
        ("date", utc_days(start, end)),
        ("date", "ge" + utc_param(start)),
        ("date", "lt" + utc_param(end)),
        ("status", "booked,pending,checked-in,arrived,fulfilled,noshow"),
    ]
    if location:
        params.append(("location", location))
    if provider:
        params.append(("practitioner", provider))
    now = timezone.now()
    rows = [a for a in search_all("Appointment", params, reuse=True) if not is_event(a)]
    rows.sort(key=lambda a: (parse_instant(a["start"]), a["id"]))
    return [BoardRow(a, stage(a), stage_times(a), waiting_times(a, now)) for a in rows]
