from __future__ import annotations

import pytest

from ehr.fhir.errors import Forbidden
from ehr.scheduling import availability, booking
from ehr.scheduling.common import EXT_OVERBOOKED, ext, period
from tests.scheduling.conftest import DR_A, DR_B, MAIN, MONDAY, ROOM, WEST, at


def test_book_writes_a_valid_appointment(world):
    appt = booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 9),
                        appointment_type="follow-up")  # fmt: skip
    stored = booking.get(appt["id"])
    assert stored["status"] == "booked"
    assert period(stored).end == at(MONDAY, 9, 20)
    assert booking.participant_of(stored, "clinic") == MAIN
    assert booking.type_code(stored) == "follow-up"


def test_slots_follow_two_shifts_and_exceptions(world):
    from ehr.scheduling.models import ScheduleException

    slots = availability.free_slots(DR_A, MONDAY, MONDAY, "new-patient")
    starts = [s.start for s in slots]
    assert starts[0] == at(MONDAY, 9) and slots[-1].start == at(MONDAY, 16, 15)
    assert at(MONDAY, 11, 15) in starts and at(MONDAY, 11, 30) not in starts  # 40 min to 12:00
    assert not [s for s in slots if at(MONDAY, 12) <= s.start < at(MONDAY, 13)]  # lunch
    ScheduleException.objects.create(actor=DR_A, start=at(MONDAY, 14), end=at(MONDAY, 16),
                                     reason="out of office")  # fmt: skip
    ScheduleException.objects.create(actor="", start=at(MONDAY, 9), end=at(MONDAY, 10),
                                     reason="practice meeting")  # fmt: skip
    after = availability.free_slots(DR_A, MONDAY, MONDAY, "new-patient")
    assert after[0].start == at(MONDAY, 10)
    assert not [s for s in after if s.end > at(MONDAY, 14) and s.start < at(MONDAY, 16)]
    # A holiday for everyone at one location only
    tue = MONDAY.replace(day=4)
    ScheduleException.objects.create(location=MAIN, start=at(tue, 0), end=at(tue, 23, 59))
    assert availability.free_slots(DR_A, tue, tue, "follow-up") == []
    assert availability.free_slots(DR_B, tue, tue, "follow-up") == []  # Tue: Dr B at Main
    assert availability.free_slots(DR_B, MONDAY, MONDAY, "follow-up")[0].location == WEST
    assert availability.free_slots(DR_B, MONDAY, MONDAY, "procedure") == []  # not allowed


def test_booked_time_leaves_the_slots(world):
    booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 9, 10),
                 appointment_type="follow-up")  # fmt: skip
    slots = availability.free_slots(DR_A, MONDAY, MONDAY, "follow-up")
    assert slots[0].start == at(MONDAY, 9, 30)
    assert slots[0].as_fhir()["status"] == "free"


def test_conflict_refused_and_overbook_needs_permission(world):
    from ehr.fhir.access import acting_as
    from ehr.identity.access import PrincipalPolicy
    from ehr.identity.principal import Principal

    first = booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 10),
                         appointment_type="follow-up")  # fmt: skip
    with pytest.raises(booking.Conflict) as err:
        booking.book(patient="Patient/pat-2", provider=DR_A, start=at(MONDAY, 10, 10),
                     appointment_type="follow-up")  # fmt: skip
    assert [c["id"] for c in err.value.clashes] == [first["id"]]
    with pytest.raises(booking.Conflict):  # outside working hours
        booking.book(patient="Patient/pat-2", provider=DR_A, start=at(MONDAY, 12, 10),
                     appointment_type="follow-up")  # fmt: skip
    desk = Principal(kind="user", username="desk", role="front_desk")
    doc = Principal(kind="user", username="doc", role="provider")
    with acting_as(PrincipalPolicy(desk)), pytest.raises(Forbidden):
        booking.book(patient="Patient/pat-2", provider=DR_A, start=at(MONDAY, 10, 10),
                     appointment_type="follow-up", overbook=True)  # fmt: skip
    with acting_as(PrincipalPolicy(doc)):
        over = booking.book(patient="Patient/pat-2", provider=DR_A, start=at(MONDAY, 10, 10),
                            appointment_type="follow-up", overbook=True)  # fmt: skip
    assert ext(booking.get(over["id"]), EXT_OVERBOOKED)["valueBoolean"] is True


def test_room_and_patient_cannot_be_double_booked(world):
    booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 9),
                 appointment_type="follow-up", room=ROOM)  # fmt: skip
    with pytest.raises(booking.Conflict):  # same room, other provider
        booking.book(patient="Patient/pat-2", provider=DR_B, start=at(MONDAY, 9),
                     appointment_type="follow-up", room=ROOM)  # fmt: skip
    with pytest.raises(booking.Conflict):  # same patient elsewhere at the same time
        booking.book(patient="Patient/pat-1", provider=DR_B, start=at(MONDAY, 9, 5),
                     appointment_type="follow-up")  # fmt: skip
    ok = booking.book(patient="Patient/pat-2", provider=DR_B, start=at(MONDAY, 9),
                      appointment_type="follow-up")  # fmt: skip
    assert ok["status"] == "booked"


def test_reschedule_cancel_no_show(world):
    appt = booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 9),
                        appointment_type="follow-up")  # fmt: skip
    booking.book(patient="Patient/pat-2", provider=DR_A, start=at(MONDAY, 11),
                 appointment_type="follow-up")  # fmt: skip
    moved = booking.reschedule(appt["id"], at(MONDAY, 9, 10))  # overlaps only itself
    assert moved["id"] == appt["id"] and period(moved).end == at(MONDAY, 9, 30)
    assert moved["meta"]["versionId"] == "2"
    with pytest.raises(booking.Conflict):
        booking.reschedule(appt["id"], at(MONDAY, 10, 50))
    moved = booking.reschedule(appt["id"], at(MONDAY, 8), provider=DR_B)  # Dr B at West
    assert booking.participant_of(moved, "clinic") == WEST
    with pytest.raises(booking.SchedulingError):
        booking.cancel(appt["id"], "  ")
    cancelled = booking.cancel(appt["id"], "Patient has the flu")
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"]["text"] == "Patient has the flu"
    again = booking.book(patient="Patient/pat-3", provider=DR_B, start=at(MONDAY, 8),
                         appointment_type="follow-up")  # time is free again  # fmt: skip
    assert booking.mark_no_show(again["id"])["status"] == "noshow"
    with pytest.raises(booking.SchedulingError):
        booking.mark_no_show(appt["id"])


def test_next_available_across_providers_locations_events(world):
    from ehr.scheduling import events
    from ehr.scheduling.models import ScheduleException

    # Monday: Dr B at West from 8, Dr A at Main from 9.
    first = booking.next_available("follow-up", at(MONDAY, 7))
    assert (first[0].actor, first[0].location, first[0].start) == (DR_B, WEST, at(MONDAY, 8))
    only_main = booking.next_available("follow-up", at(MONDAY, 7), locations=[MAIN])
    assert (only_main[0].actor, only_main[0].start) == (DR_A, at(MONDAY, 9))
    # Dr B's morning is full of bookings, Dr A is off Monday (vacation).
    for i in range(12):
        booking.book(patient=f"Patient/pat-{i % 5 + 1}", provider=DR_B,
                     start=at(MONDAY, 8, 0) + i * (at(MONDAY, 8, 20) - at(MONDAY, 8)),
                     appointment_type="follow-up", overbook=i % 5 != 0 and False)  # fmt: skip
    ScheduleException.objects.create(actor=DR_A, start=at(MONDAY, 0), end=at(MONDAY, 23, 59),
                                     reason="vacation")  # fmt: skip
    # Tuesday: Dr A is at a three-day conference; Dr B works Tuesday at Main 14-18.
    tue = MONDAY.replace(day=4)
    conf = events.create_event(title="Cardiology conference", start=tue,
                               end=MONDAY.replace(day=6), all_day=True, kind="conference",
                               attendees=[DR_A])  # fmt: skip
    assert conf["extension"][0]["valueBoolean"] is True
    got = booking.next_available("follow-up", at(MONDAY, 7), count=3)
    assert [(s.actor, s.start) for s in got] == [
        (DR_B, at(tue, 14)), (DR_B, at(tue, 14, 15)), (DR_B, at(tue, 14, 30)),
    ]  # fmt: skip
    only_a = booking.next_available("follow-up", at(MONDAY, 7), providers=[DR_A])
    assert only_a[0].start == at(MONDAY.replace(day=7), 9)  # Friday, after the conference
    procedure = booking.next_available("procedure", at(MONDAY, 7))  # Dr A only
    assert procedure[0].actor == DR_A and procedure[0].start == at(MONDAY.replace(day=7), 9)


def test_week_view_has_visits_and_events(world):
    from ehr.scheduling import events

    booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 9),
                 appointment_type="follow-up")  # fmt: skip
    events.create_event(title="Away", start=MONDAY.replace(day=1), end=MONDAY.replace(day=4),
                        all_day=True, attendees=[DR_A])  # began before the week  # fmt: skip
    week = booking.provider_week(DR_A, MONDAY)
    assert [w["description"] for w in week] == ["Away", "Follow-up"]


def test_a_visit_longer_than_eight_hours_is_refused(world):
    """The day searches look back 8 hours for visits that started earlier, so none is longer."""
    from ehr.scheduling.common import SchedulingError

    with pytest.raises(SchedulingError, match="at most 8 hours"):
        booking.book(
            patient="Patient/pat-1",
            provider=DR_A,
            start=at(MONDAY, 8),
            end=at(MONDAY, 8) + (at(MONDAY, 21) - at(MONDAY, 8)),
            appointment_type="follow-up",
            overbook=True,
        )
