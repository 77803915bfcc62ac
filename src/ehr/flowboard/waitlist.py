"""The waitlist: patients who want an earlier slot.

Each entry is a FHIR R4 ``Appointment`` with ``status = waitlist`` (a status R4 defines for
exactly this: "the appointment has been placed on a wait-list, to be scheduled when a slot
becomes available"). The wanted visit type is ``serviceType``, the acceptable providers are
``participant`` (none: any provider), the acceptable dates are ``requestedPeriod``, the
patient's notes are ``comment`` and how to reach them is an extension. Why not a
``ServiceRequest``: a waitlist entry is a request for a *time*, not for a service to be
performed; the Appointment carries the same fields the booking needs, sits in the patient's
compartment, and the same indexed Appointment searches (``status``, ``service-type``,
``practitioner``) find it. It holds no time, so it never blocks a calendar.

Matching a freed slot is one indexed search (``status=waitlist&service-type=<type>``); the
few entries found are then checked for provider and date range, first come first served.
Booking from the waitlist books a new Appointment (``booking.book``, with all its conflict
checks) and closes the entry (``cancelled``, reason "booked from the waitlist", with an
extension naming the booked appointment), in one transaction.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from ehr.fhir.storage import db, repository
from ehr.flowboard.reminders import on_appointment_changed
from ehr.scheduling import availability, booking
from ehr.scheduling.common import (
    BASE,
    TYPE_SYSTEM,
    SchedulingError,
    ext,
    period,
    practice_tz,
    search_all,
)

EXT_CONTACT = f"{BASE}/StructureDefinition/waitlist-contact"
EXT_BOOKED = f"{BASE}/StructureDefinition/waitlist-booked-as"
CONTACTS = [("phone", "Phone call"), ("sms", "Text message"), ("email", "Email")]
CANCEL_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"


def _participant(ref: str, role: str) -> dict:
    return {
        "type": [{"coding": [{"system": booking.ROLE_SYSTEM, "code": role}]}],
        "actor": {"reference": ref},
        "required": "required" if role == "patient" else "information-only",
        "status": "needs-action",
    }


def add(
    *,
    patient: str,
    appointment_type: str,
    providers: list[str] | tuple[str, ...] = (),
    earliest: date | None = None,
    latest: date | None = None,
    notes: str = "",
    contact: str = "",
    location: str | None = None,
) -> dict:
    """Put a patient on the waitlist; returns the stored entry."""
    atype = availability.appointment_type(appointment_type)
    if earliest and latest and latest < earliest:
        raise SchedulingError("The latest date must not be before the earliest", status=400)
    for p in providers:
        if not atype.allows(p):
            raise SchedulingError(f"{p} does not see '{atype.name}' visits", status=400)
    entry = {
        "resourceType": "Appointment",
        "status": "waitlist",
        "serviceType": [
            {"coding": [{"system": TYPE_SYSTEM, "code": atype.code, "display": atype.name}]}
        ],
        "description": f"Waitlist: {atype.name}",
        "created": timezone.localdate().isoformat(),
        "participant": [_participant(patient, "patient")]
        + [_participant(p, "provider") for p in providers]
        + ([_participant(location, "clinic")] if location else []),
    }
    if earliest or latest:
        entry["requestedPeriod"] = [
            {
                **({"start": earliest.isoformat()} if earliest else {}),
                **({"end": latest.isoformat()} if latest else {}),
            }
        ]
    if notes.strip():
        entry["comment"] = notes.strip()[:1000]
    if contact:
        entry["extension"] = [{"url": EXT_CONTACT, "valueCode": contact}]
    stored = repository.create(entry)
    return stored.resource() if hasattr(stored, "resource") else entry


def entries() -> list[dict]:
    """Open waitlist entries, oldest first (one indexed search)."""
    rows = search_all("Appointment", [("status", "waitlist")])
    return sorted(rows, key=lambda e: (e.get("created", ""), e["meta"].get("lastUpdated", "")))


def providers_of(entry: dict) -> list[str]:
    return [
        p["actor"]["reference"]
        for p in entry.get("participant", [])
        if "provider" in {c.get("code") for t in p.get("type", []) for c in t.get("coding", [])}
    ]


def date_range(entry: dict) -> tuple[date | None, date | None]:
    rp = (entry.get("requestedPeriod") or [{}])[0]
    start, end = rp.get("start"), rp.get("end")
    return (
        date.fromisoformat(start[:10]) if start else None,
        date.fromisoformat(end[:10]) if end else None,
    )


def contact_of(entry: dict) -> str:
    e = ext(entry, EXT_CONTACT)
    return (e or {}).get("valueCode", "")


def fits(entry: dict, freed: dict) -> bool:
    provider = booking.participant_of(freed, "provider")
    wanted = providers_of(entry)
    if wanted and provider not in wanted:
        return False
    clinic = booking.participant_of(entry, "clinic")
    if clinic and clinic != booking.participant_of(freed, "clinic"):
        return False
    day = period(freed).start.astimezone(practice_tz()).date()
    earliest, latest = date_range(entry)
    return (earliest is None or earliest <= day) and (latest is None or day <= latest)


def matches(freed: dict) -> list[dict]:
    """Waitlist entries that the time of ``freed`` (a cancelled visit) would suit."""
    code = booking.type_code(freed)
    if not code:
        return []
    rows = search_all(
        "Appointment", [("status", "waitlist"), ("service-type", f"{TYPE_SYSTEM}|{code}")]
    )
    found = [e for e in rows if fits(e, freed)]
    return sorted(found, key=lambda e: (e.get("created", ""), e["meta"].get("lastUpdated", "")))


def remove(entry_id: str, reason: str = "Removed from the waitlist") -> dict:
    with db.isolated():
        entry = booking.get(entry_id)
        if entry["status"] != "waitlist":
            raise SchedulingError("This patient is no longer on the waitlist")
        entry["status"] = "cancelled"
        entry["cancelationReason"] = {
            "coding": [{"system": CANCEL_SYSTEM, "code": "other"}],
            "text": reason,
        }
        repository.update("Appointment", entry_id, entry)
        return entry


def book_from(entry_id: str, freed_id: str) -> dict:
    """Book the patient of a waitlist entry into the time ``freed_id`` left; returns the new
    Appointment. Refused (``Conflict``) if the time was taken meanwhile."""
    with db.isolated():
        entry = booking.get(entry_id)
        if entry["status"] != "waitlist":
            raise SchedulingError("This patient is no longer on the waitlist")
        freed = booking.get(freed_id)
        slot = period(freed)
        appt = booking.book(
            patient=booking.participant_of(entry, "patient"),
            provider=booking.participant_of(freed, "provider"),
            start=slot.start,
            end=slot.end,
            appointment_type=booking.type_code(entry) or booking.type_code(freed),
            location=booking.participant_of(freed, "clinic"),
            comment=entry.get("comment"),
        )
        entry["status"] = "cancelled"
        entry["cancelationReason"] = {
            "coding": [{"system": CANCEL_SYSTEM, "code": "other"}],
            "text": "Booked from the waitlist",
        }
        entry.setdefault("extension", []).append(
            {"url": EXT_BOOKED, "valueReference": {"reference": f"Appointment/{appt['id']}"}}
        )
        repository.update("Appointment", entry_id, entry)
        on_appointment_changed(appt["id"])
        return appt
