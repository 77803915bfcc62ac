"""Appointment reminders through the outbox.

``schedule_reminders(appointment)`` queues one reminder per channel the patient wants, sent
``EHR_REMINDER_HOURS`` (default 24) before the start (at once if that moment has passed).
The idempotency key is ``appointment-reminder:<id>:<start>:<channel>``, so calling it again
for an unchanged appointment does nothing, and a moved appointment gets new keys while the
reminders for its old time are cancelled.

``on_appointment_changed(appointment_id)`` is the hook every screen that books, moves, cancels
or marks a no-show calls after the change (the calendar screens, the flow board, the waitlist):
it reads the appointment and brings its pending reminders in line. Call it inside the same
transaction as the change when you can, so both commit together. ``sweep`` (run by the worker
every ``EHR_REMINDER_SWEEP_SECONDS``) does the same for every appointment of the next 48 hours
that has no reminder yet, so appointments booked through the FHIR API are reminded too.

Channels: the patient's ``contact-preference`` method ``email`` -> e-mail; ``sms`` -> text to
the mobile; otherwise e-mail if the patient has an address, plus a text to the mobile if they
agreed to texts. Text carries no clinical detail: no visit type, no provider, no reason; only
the time, the place and the practice's phone (patients' phones and mailboxes are shared).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from django.utils import timezone

from ehr.fhir.errors import FhirError, NotFound
from ehr.fhir.storage import db, repository
from ehr.jobs import outbox
from ehr.jobs.models import OutboxMessage
from ehr.registration.codes import CONTACT_PREF_URL
from ehr.scheduling import booking
from ehr.scheduling.common import ext, is_event, period, practice_tz, search_all, utc_param

TOPIC = "appointment-reminder"
ACTIVE = ("booked", "pending")


def lead_time() -> timedelta:
    return timedelta(hours=float(os.environ.get("EHR_REMINDER_HOURS", "24")))


def practice_phone(location: dict | None) -> str:
    for t in (location or {}).get("telecom", []):
        if t.get("system") == "phone" and t.get("value"):
            return t["value"]
    return os.environ.get("EHR_PRACTICE_PHONE", "")


def _read(ref: str | None) -> dict | None:
    if not ref or "/" not in ref:
        return None
    try:
        return repository.read(*ref.split("/", 1)).resource()
    except FhirError:
        return None


def channels(patient: dict) -> list[tuple[str, str]]:
    """``[(channel, recipient)]`` the patient wants reminders on."""
    pref = ext(patient, CONTACT_PREF_URL) or {}
    flags = {
        e.get("url"): e.get("valueCode", e.get("valueBoolean")) for e in pref.get("extension", [])
    }
    method, texts_ok = flags.get("method"), bool(flags.get("text"))
    telecom = [t for t in patient.get("telecom") or [] if t.get("value") and t.get("use") != "old"]
    telecom.sort(key=lambda t: t.get("rank", 99))
    email = next((t["value"] for t in telecom if t.get("system") == "email"), None)
    mobile = next(
        (t["value"] for t in telecom if t.get("system") in ("phone", "sms")
         and t.get("use") == "mobile"),
        None,
    )  # fmt: skip
    if method == "email":
        return [("email", email)] if email else []
    if method == "sms":
        return [("sms", mobile)] if mobile else []
    out = [("email", email)] if email else []
    if mobile and texts_ok:
        out.append(("sms", mobile))
    return out


def render(appointment: dict, location: dict | None, channel: str) -> tuple[str, str]:
    """(subject, body) with no clinical detail."""
    start = period(appointment).start.astimezone(practice_tz())
    when = f"{start:%A} {start.day} {start:%B %Y} at {start:%I:%M %p}".replace(" 0", " ")
    place = (location or {}).get("name") or "the practice"
    addr = (location or {}).get("address") or {}
    street = ", ".join([*addr.get("line", []), addr.get("city", "")]).strip(", ")
    phone = practice_phone(location)
    call = f" To change or cancel, call {phone}." if phone else ""
    if channel == "sms":
        return "", f"Reminder: appointment {when}, {place}.{call} Reply STOP to opt out."
    subject = "Appointment reminder"
    body = (
        f"This is a reminder of your appointment on {when}\n"
        f"at {place}{', ' + street if street else ''}.\n\n"
        f"Please arrive 10 minutes early.{call}\n\n"
        "This message was sent automatically; please do not reply."
    )
    return subject, body


def key_for(appointment: dict, channel: str) -> str:
    return f"{TOPIC}:{appointment['id']}:{appointment['start']}:{channel}"


def schedule_reminders(appointment: dict, *, now: datetime | None = None) -> list[OutboxMessage]:
    """Queue the reminders of a booked appointment (and cancel those of an older time)."""
    ref = f"Appointment/{appointment['id']}"
    now = now or timezone.now()
    start = period(appointment).start
    if appointment.get("status") not in ACTIVE or start <= now:
        outbox.cancel_pending(ref, TOPIC)
        return []
    patient = _read(booking.participant_of(appointment, "patient"))
    wanted = channels(patient) if patient else []
    keys = [key_for(appointment, ch) for ch, _ in wanted]
    location = _read(booking.participant_of(appointment, "clinic"))
    out = []
    with db.atomic():
        outbox.cancel_pending(ref, TOPIC, keep=keys)
        for (channel, recipient), key in zip(wanted, keys, strict=True):
            subject, body = render(appointment, location, channel)
            out.append(
                outbox.enqueue(
                    channel,
                    recipient,
                    body,
                    subject=subject,
                    key=key,
                    topic=TOPIC,
                    ref=ref,
                    send_after=max(now, start - lead_time()),
                )  # fmt: skip
            )
    return out


def on_appointment_changed(appointment_id: str) -> list[OutboxMessage]:
    """The hook for screens: call after booking, moving, cancelling or a no-show."""
    try:
        appointment = booking.get(appointment_id)
    except NotFound:
        outbox.cancel_pending(f"Appointment/{appointment_id}", TOPIC)
        return []
    return schedule_reminders(appointment)


def sweep(*, now: datetime | None = None, hours: float = 48) -> int:
    """Queue reminders for the appointments of the next ``hours`` that have none; returns how
    many appointments got some. One indexed search plus one outbox query."""
    now = now or timezone.now()
    params = [
        ("date", "ge" + utc_param(now)),
        ("date", "lt" + utc_param(now + timedelta(hours=hours))),
        ("status", ",".join(ACTIVE)),
    ]
    found = [a for a in search_all("Appointment", params) if not is_event(a)]
    refs = [f"Appointment/{a['id']}" for a in found]
    have = {
        key.rsplit(":", 1)[0]
        for key in OutboxMessage.objects.filter(topic=TOPIC, ref__in=refs).values_list(
            "idempotency_key", flat=True
        )
    }
    done = 0
    for a in found:
        if f"{TOPIC}:{a['id']}:{a['start']}" in have:
            continue
        if schedule_reminders(a, now=now):
            done += 1
    return done
