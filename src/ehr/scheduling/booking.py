"""Booking, rescheduling, cancelling and no-shows; conflicts and overbooking.

Each booking is a FHIR R4 ``Appointment`` (US Core has no Appointment profile) whose
participants are the patient, the provider, the clinic ``Location`` and, if any, the room
(``Location``) and equipment (``Device``); the appointment type goes in ``serviceType``.

Conflicts: an actor (provider, room, device, and the patient) cannot hold two overlapping
appointments that hold time, and a provider cannot be booked outside free time (working hours
less exceptions and practice events). Both are refused with ``Conflict`` (which carries the
clashing appointments, for the screen's "pick another slot / book anyway") unless the call says
``overbook=True`` *and* the caller may overbook: the roles in ``EHR_OVERBOOK_ROLES`` (default
``admin,provider``; internal work without an access policy may). The overbooked appointment
carries an extension saying so.

Race safety: the check and the write run in one transaction that first takes a lock per actor
(PostgreSQL advisory locks in sorted order; on SQLite the writer gate serialises all writers),
so two concurrent bookings of the same time cannot both succeed.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

from django.conf import settings

from ehr.fhir import access
from ehr.fhir.errors import Forbidden
from ehr.fhir.storage import repository
from ehr.fhir.storage.db import isolated
from ehr.scheduling import availability
from ehr.scheduling.common import (
    BASE,
    EXT_OVERBOOKED,
    MAX_APPOINTMENT,
    TYPE_SYSTEM,
    SchedulingError,
    actors_of,
    appointments_overlapping,
    aware,
    events_overlapping,
    fhir_instant,
    lock_actors,
    period,
    practice_tz,
    set_ext,
)
from ehr.scheduling.models import AppointmentType

ROLE_SYSTEM = f"{BASE}/CodeSystem/participant-role"
FINAL = ("cancelled", "noshow", "fulfilled", "entered-in-error")


class Conflict(SchedulingError):
    """The time is taken (``clashes``: the appointments in the way) or not free (``reason``)."""

    def __init__(self, message: str, clashes: list[dict] | None = None):
        super().__init__(message, status=409)
        self.clashes = clashes or []


def may_overbook() -> bool:
    """Whether the current caller may book over a conflict (see module docstring)."""
    policy = access.current()
    if policy is None:
        return True
    principal = getattr(policy, "principal", None)
    roles = getattr(settings, "EHR_OVERBOOK_ROLES", None) or os.environ.get(
        "EHR_OVERBOOK_ROLES", "admin,provider"
    )
    allowed = {r.strip() for r in roles.split(",") if r.strip()}
    return principal is not None and principal.role in allowed


def _participant(ref: str, role: str) -> dict:
    return {
        "type": [{"coding": [{"system": ROLE_SYSTEM, "code": role}]}],
        "actor": {"reference": ref},
        "required": "required",
        "status": "accepted",
    }


def participant_of(appointment: dict, role: str) -> str | None:
    for p in appointment.get("participant", []):
        codes = {c.get("code") for t in p.get("type", []) for c in t.get("coding", [])}
        if role in codes and p.get("actor", {}).get("reference"):
            return p["actor"]["reference"]
    return None


def type_code(appointment: dict) -> str | None:
    for st in appointment.get("serviceType", []):
        for c in st.get("coding", []):
            if c.get("system") == TYPE_SYSTEM:
                return c.get("code")
    return None


def build(
    *,
    patient: str,
    provider: str,
    start: datetime,
    end: datetime,
    atype: AppointmentType,
    location: str | None,
    room: str | None = None,
    equipment: tuple[str, ...] | list[str] = (),
    comment: str | None = None,
) -> dict:
    """The Appointment resource for a visit (not stored)."""
    participants = [_participant(patient, "patient"), _participant(provider, "provider")]
    if location:
        participants.append(_participant(location, "clinic"))
    if room:
        participants.append(_participant(room, "room"))
    participants += [_participant(d, "equipment") for d in equipment]
    appt = {
        "resourceType": "Appointment",
        "status": "booked",
        "serviceType": [
            {"coding": [{"system": TYPE_SYSTEM, "code": atype.code, "display": atype.name}]}
        ],
        "description": atype.name,
        "start": fhir_instant(start),
        "end": fhir_instant(end),
        "minutesDuration": int((end - start).total_seconds() // 60),
        "created": date.today().isoformat(),
        "participant": participants,
    }
    if comment:
        appt["comment"] = comment
    return appt


def conflict_actors(appointment: dict) -> list[str]:
    """Actors that cannot be in two places at once: all but the clinic location."""
    clinic = participant_of(appointment, "clinic")
    return [a for a in actors_of(appointment) if a != clinic]


def check(appointment: dict, *, overbook: bool, ignore: set[str] = frozenset()) -> None:
    """Raise ``Conflict`` unless the appointment's time is free for all its actors (or the
    caller overbooks with permission). Marks an overbooked appointment."""
    if overbook and not may_overbook():
        raise Forbidden("You may not overbook: ask someone with overbooking permission")
    p = period(appointment)
    if p.end <= p.start:
        raise SchedulingError("The end must be after the start", status=400)
    if p.end - p.start > MAX_APPOINTMENT:
        hours = int(MAX_APPOINTMENT.total_seconds() // 3600)
        raise SchedulingError(f"A visit may last at most {hours} hours", status=400)
    actors = conflict_actors(appointment)
    clashes = [
        a
        for a in appointments_overlapping(actors, p.start, p.end)
        if a.get("id") not in ignore and a.get("id") != appointment.get("id")
    ]
    provider = participant_of(appointment, "provider")
    outside = False
    if provider and not clashes:
        loc = participant_of(appointment, "clinic")
        skip = set(ignore) | ({appointment["id"]} if appointment.get("id") else set())
        outside = not availability.is_free(provider, p.start, p.end, loc, skip)
    if not clashes and not outside:
        set_ext(appointment, EXT_OVERBOOKED)
        return
    if not overbook:
        if clashes:
            when = ", ".join(
                f"{a.get('description', 'appointment')} {a['start']}–{a['end']}" for a in clashes
            )
            raise Conflict(f"The time is already taken: {when}", clashes)
        raise Conflict("The provider is not available then (hours, absence or practice event)")
    set_ext(appointment, EXT_OVERBOOKED, valueBoolean=True)


def _clinic_for(provider: str, start: datetime, end: datetime) -> str | None:
    day = start.astimezone(practice_tz()).date()
    for shift, loc in availability.working_intervals([provider], day, day).get(provider, []):
        if shift.start <= start < shift.end:
            return loc
    return None


def book(
    *,
    patient: str,
    provider: str,
    start: datetime,
    appointment_type: str | AppointmentType,
    location: str | None = None,
    end: datetime | None = None,
    room: str | None = None,
    equipment: tuple[str, ...] | list[str] = (),
    comment: str | None = None,
    overbook: bool = False,
) -> dict:
    """Book a visit; returns the stored Appointment. Raises ``Conflict`` or ``Forbidden``."""
    atype = availability.appointment_type(appointment_type)
    if not atype.allows(provider):
        raise SchedulingError(f"{provider} does not see '{atype.name}' visits", status=400)
    start = aware(start)
    end = aware(end) if end else start + timedelta(minutes=atype.duration_minutes)
    location = location or _clinic_for(provider, start, end)
    appt = build(
        patient=patient, provider=provider, start=start, end=end, atype=atype,
        location=location, room=room, equipment=equipment, comment=comment,
    )  # fmt: skip
    with isolated():
        lock_actors(conflict_actors(appt))
        check(appt, overbook=overbook)
        repository.create(appt)
    return appt


def get(appointment_id: str) -> dict:
    return repository.read("Appointment", appointment_id).resource()


def _save(appt: dict) -> dict:
    repository.update("Appointment", appt["id"], appt)
    return appt


def reschedule(
    appointment_id: str,
    start: datetime,
    end: datetime | None = None,
    *,
    provider: str | None = None,
    location: str | None = None,
    room: str | None = None,
    overbook: bool = False,
) -> dict:
    """Move an appointment (same resource, same id; a new version). Duration is kept unless
    ``end`` is given."""
    with isolated():
        appt = get(appointment_id)
        if appt["status"] in FINAL or appt["status"] in ("arrived", "checked-in"):
            raise SchedulingError(f"A {appt['status']} appointment cannot be moved")
        old = period(appt)
        start = aware(start)
        end = aware(end) if end else start + (old.end - old.start)
        for role, ref in (("provider", provider), ("clinic", location), ("room", room)):
            if ref:
                _replace_participant(appt, role, ref)
        if provider and not location:
            clinic = _clinic_for(provider, start, end)
            if clinic:
                _replace_participant(appt, "clinic", clinic)
        appt["start"], appt["end"] = fhir_instant(start), fhir_instant(end)
        appt["minutesDuration"] = int((end - start).total_seconds() // 60)
        lock_actors(conflict_actors(appt))
        check(appt, overbook=overbook)
        return _save(appt)


def _replace_participant(appt: dict, role: str, ref: str) -> None:
    keep = [
        p
        for p in appt["participant"]
        if role not in {c.get("code") for t in p.get("type", []) for c in t.get("coding", [])}
    ]
    appt["participant"] = [*keep, _participant(ref, role)]


def cancel(appointment_id: str, reason: str, *, code: str = "pat") -> dict:
    """Cancel with a reason (free text; ``code`` from the R4 appointment-cancellation-reason
    code system, default ``pat``: patient)."""
    if not reason or not reason.strip():
        raise SchedulingError("A cancellation needs a reason", status=400)
    with isolated():
        appt = get(appointment_id)
        if appt["status"] in FINAL:
            raise SchedulingError(f"The appointment is already {appt['status']}")
        appt["status"] = "cancelled"
        appt["cancelationReason"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                    "code": code,
                }
            ],
            "text": reason.strip(),
        }
        return _save(appt)


def mark_no_show(appointment_id: str) -> dict:
    with isolated():
        appt = get(appointment_id)
        if appt["status"] not in ("booked", "pending"):
            raise SchedulingError(f"A {appt['status']} appointment cannot become a no-show")
        appt["status"] = "noshow"
        return _save(appt)


def provider_week(provider: str, week_start: date, *, with_cancelled: bool = True) -> list[dict]:
    """The week view of one provider: every appointment and practice event that overlaps the
    seven days from ``week_start``, in time order (one indexed search)."""
    from ehr.scheduling.common import local_midnight

    start = local_midnight(week_start)
    end = local_midnight(week_start + timedelta(days=7))
    rows = appointments_overlapping([provider], start, end, blocking_only=not with_cancelled)
    seen = {a["id"] for a in rows}
    # Multi-day events that began before the look-back of the visit search.
    rows += [
        e
        for e in events_overlapping(start, end)
        if provider in actors_of(e) and e["id"] not in seen
    ]
    return sorted(rows, key=lambda a: (period(a).start, a.get("id", "")))


def next_available(
    appointment_type: str | AppointmentType,
    after: datetime,
    providers: list[str] | None = None,
    locations: list[str] | None = None,
    *,
    count: int = 1,
    within_days: int = 90,
) -> list[availability.Slot]:
    """The earliest free slots for a type of visit across providers and locations (see
    ``availability.next_available``)."""
    return availability.next_available(
        appointment_type, aware(after), providers, locations, count=count, within_days=within_days
    )
