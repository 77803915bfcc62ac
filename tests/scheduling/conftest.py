"""Fixtures for scheduling: two providers at two clinics, a room, patients, visit types.

Dates are fixed in the future (2031) so "now" never interferes; 2031-03-03 is a Monday.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from ehr.fhir.storage import repository
from ehr.scheduling.common import practice_tz
from ehr.scheduling.models import AppointmentType, WorkingHours

MONDAY = date(2031, 3, 3)
DR_A = "Practitioner/dr-a"
DR_B = "Practitioner/dr-b"
MAIN = "Location/main"
WEST = "Location/west"
ROOM = "Location/room-1"


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=practice_tz())


def _put(resource: dict) -> None:
    repository.update(resource["resourceType"], resource["id"], resource)


def make_world() -> None:
    for rid, family, email in (("dr-a", "Adams", "a@x.org"), ("dr-b", "Baker", "b@x.org")):
        _put({
            "resourceType": "Practitioner", "id": rid, "name": [{"family": family}],
            "telecom": [{"system": "email", "value": email}],
        })  # fmt: skip
    for rid, name in (("main", "Main"), ("west", "West"), ("room-1", "Room 1")):
        _put({"resourceType": "Location", "id": rid, "name": name})
    for i in range(1, 6):
        _put({"resourceType": "Patient", "id": f"pat-{i}", "name": [{"family": f"P{i}"}]})
    # Dr A: Mon-Fri at Main 09-12 and 13-17 (two shifts).
    for wd in range(5):
        WorkingHours.objects.create(actor=DR_A, location=MAIN, weekday=wd, start=time(9),
                                    end=time(12))  # fmt: skip
        WorkingHours.objects.create(actor=DR_A, location=MAIN, weekday=wd, start=time(13),
                                    end=time(17))  # fmt: skip
    # Dr B: Mon, Wed at West 08-12; Tue at Main 14-18.
    for wd in (0, 2):
        WorkingHours.objects.create(actor=DR_B, location=WEST, weekday=wd, start=time(8),
                                    end=time(12))  # fmt: skip
    WorkingHours.objects.create(actor=DR_B, location=MAIN, weekday=1, start=time(14),
                                end=time(18))  # fmt: skip
    WorkingHours.objects.create(actor=ROOM, location=MAIN, weekday=0, start=time(8), end=time(18))
    AppointmentType.objects.create(code="follow-up", name="Follow-up", duration_minutes=20,
                                   colour="#2a9d8f")  # fmt: skip
    AppointmentType.objects.create(code="new-patient", name="New patient", duration_minutes=40,
                                   colour="#e76f51")  # fmt: skip
    AppointmentType.objects.create(code="procedure", name="Procedure", duration_minutes=60,
                                   colour="#264653", allowed_actors=[DR_A])  # fmt: skip


@pytest.fixture
def world(db):
    make_world()


@pytest.fixture
def world_tx(transactional_db):
    make_world()
