"""Demo schedule: working hours, visit types, exceptions, practice events and two weeks of
appointments for the demo practice (``ehr demo-data`` calls ``seed_demo_schedule``).

Idempotent: it does nothing when working hours already exist.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from ehr.demo.practice import CLINICIANS, LOCATIONS
from ehr.fhir.search.engine import parse, run
from ehr.scheduling import booking, events
from ehr.scheduling.common import practice_tz
from ehr.scheduling.models import AppointmentType, ScheduleException, WorkingHours

TYPES = (
    ("new-patient", "New patient", 40, "#e76f51"),
    ("follow-up", "Follow-up", 20, "#2a9d8f"),
    ("annual-physical", "Annual physical", 30, "#264653"),
    ("well-child", "Well-child visit", 30, "#e9c46a"),
    ("sick-visit", "Same-day sick visit", 15, "#f4a261"),
)


def seed_demo_schedule(today: date | None = None, *, per_day: int = 5) -> int:
    """Seed the demo schedule; returns the number of appointments booked (0 if seeded)."""
    if WorkingHours.objects.exists():
        return 0
    today = today or date.today()
    tz = practice_tz()
    kids = [c.ref for c in CLINICIANS if c.sees_children]
    for code, name, minutes, colour in TYPES:
        AppointmentType.objects.create(
            code=code, name=name, duration_minutes=minutes, colour=colour,
            allowed_actors=kids if code == "well-child" else [],
        )  # fmt: skip
    for i, c in enumerate(CLINICIANS):
        loc = LOCATIONS[c.location - 1].ref
        for wd in range(5):
            if wd == i % 5 and i % 2:  # some work a half day
                WorkingHours.objects.create(actor=c.ref, location=loc, weekday=wd,
                                            start=time(8), end=time(12))  # fmt: skip
                continue
            WorkingHours.objects.create(actor=c.ref, location=loc, weekday=wd, start=time(8),
                                        end=time(12))  # fmt: skip
            WorkingHours.objects.create(actor=c.ref, location=loc, weekday=wd, start=time(13),
                                        end=time(17))  # fmt: skip
    WorkingHours.objects.create(actor=CLINICIANS[6].ref, location=LOCATIONS[1].ref, weekday=5,
                                start=time(9), end=time(12))  # Saturday clinic  # fmt: skip
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    vacation = monday + timedelta(days=7)
    ScheduleException.objects.create(
        actor=CLINICIANS[3].ref, reason="Vacation",
        start=datetime.combine(vacation, time(0), tzinfo=tz),
        end=datetime.combine(vacation + timedelta(days=5), time(0), tzinfo=tz),
    )  # fmt: skip
    events.create_event(
        title="AAFP Family Medicine Experience", kind="conference", all_day=True,
        start=monday + timedelta(days=2), end=monday + timedelta(days=4),
        attendees=[CLINICIANS[0].ref], description="Three-day conference (Dr. Okafor)",
    )  # fmt: skip
    events.create_event(
        title="Staff meeting", kind="meeting", location=LOCATIONS[0].ref,
        start=datetime.combine(monday, time(8), tzinfo=tz),
        end=datetime.combine(monday, time(9), tzinfo=tz),
        attendees=[c.ref for c in CLINICIANS if c.location == 1],
    )  # fmt: skip
    events.create_event(
        title="BLS recertification", kind="training",
        start=datetime.combine(monday + timedelta(days=8), time(13), tzinfo=tz),
        end=datetime.combine(monday + timedelta(days=8), time(17), tzinfo=tz),
        attendees=[CLINICIANS[1].ref, CLINICIANS[7].ref], location=LOCATIONS[0].ref,
    )  # fmt: skip
    events.create_event(
        title="Westerville closed (floor works)", kind="closure", all_day=True,
        location=LOCATIONS[1].ref, start=monday + timedelta(days=11),
    )  # fmt: skip
    return _demo_appointments(today, per_day)


def _demo_appointments(today: date, per_day: int) -> int:
    page = run(parse("Patient", [("_count", "200"), ("_total", "none")]))
    patients = [f"Patient/{s.id}" for s in page.rows]
    if not patients:
        return 0
    rng = random.Random(4242)
    tz = practice_tz()
    after = datetime.combine(today, time(0), tzinfo=tz)  # today too: the flow board has a day
    made = 0
    for c in CLINICIANS:
        types = ["follow-up", "new-patient", "sick-visit", "annual-physical"]
        if c.sees_children:
            types.append("well-child")
        slots = booking.next_available("follow-up", after, providers=[c.ref], count=400,
                                       within_days=15)  # fmt: skip
        by_day: dict[date, list] = {}
        for s in slots:
            by_day.setdefault(s.start.astimezone(tz).date(), []).append(s)
        for _day, day_slots in sorted(by_day.items()):
            for s in rng.sample(day_slots, min(per_day, len(day_slots))):
                try:
                    booking.book(
                        patient=rng.choice(patients), provider=c.ref, start=s.start,
                        appointment_type=rng.choice(types), location=s.location,
                    )  # fmt: skip
                    made += 1
                except booking.SchedulingError:
                    continue  # taken by a longer visit drawn earlier, or the patient is busy
    return made
