"""Flow board, practice events, iCalendar feeds and import, feed tokens, concurrent booking."""

from __future__ import annotations

import threading
from datetime import timedelta

import icalendar
import pytest
from django.db import connection

from ehr.scheduling import availability, booking, events, feeds, flow, ical
from ehr.scheduling.common import search_all
from tests.scheduling.conftest import DR_A, DR_B, MAIN, MONDAY, ROOM, WEST, at


def test_flow_board_transitions_and_waits(world):
    appt = booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 9),
                        appointment_type="follow-up")  # fmt: skip
    other = booking.book(patient="Patient/pat-2", provider=DR_A, start=at(MONDAY, 10),
                         appointment_type="follow-up")  # fmt: skip
    flow.check_in(appt["id"], at=at(MONDAY, 8, 55))
    flow.advance(appt["id"], "roomed", at=at(MONDAY, 9, 7), room=ROOM)
    with pytest.raises(booking.SchedulingError):
        flow.advance(appt["id"], "arrived", at=at(MONDAY, 9, 8))  # backwards
    flow.advance(appt["id"], "with-provider", at=at(MONDAY, 9, 12))
    done = flow.check_out(appt["id"], at=at(MONDAY, 9, 40))
    assert done["status"] == "fulfilled"
    assert booking.participant_of(done, "room") == ROOM
    waits = flow.waiting_times(done)
    assert (waits.in_waiting_room, waits.in_room_before_provider, waits.with_provider) == (
        12.0, 5.0, 28.0,
    )  # fmt: skip
    assert waits.total == 45.0 and waits.late_minutes == -5.0
    flow.check_in(other["id"], at=at(MONDAY, 10, 5))
    running = flow.waiting_times(booking.get(other["id"]), now=at(MONDAY, 10, 25))
    assert running.in_waiting_room == 20.0 and running.total == 20.0  # still running
    rows = flow.board(MONDAY, location=MAIN)
    assert [(r.appointment["id"], r.stage) for r in rows] == [
        (appt["id"], "checked-out"), (other["id"], "arrived"),
    ]  # fmt: skip
    assert rows[0].times["roomed"] == at(MONDAY, 9, 7)
    with pytest.raises(booking.SchedulingError):  # no moving an arrived patient
        booking.reschedule(other["id"], at(MONDAY, 11))


def test_events_all_day_multi_day_timed_and_closures(world):
    tue, wed = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    timed = events.create_event(title="Staff meeting", start=at(MONDAY, 9), end=at(MONDAY, 10),
                                kind="meeting", attendees=[DR_A], location=MAIN)  # fmt: skip
    slots = availability.free_slots(DR_A, MONDAY, MONDAY, "follow-up")
    assert slots[0].start == at(MONDAY, 10)
    with pytest.raises(booking.Conflict):
        booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 9, 30),
                     appointment_type="follow-up")  # fmt: skip
    events.create_event(title="Training", start=tue, all_day=True, kind="training",
                        attendees=[DR_B])  # fmt: skip
    assert availability.free_slots(DR_B, tue, tue, "follow-up") == []
    assert availability.free_slots(DR_A, tue, tue, "follow-up")  # not an attendee
    events.create_event(title="Flooded", start=wed, all_day=True, kind="closure", location=WEST)
    assert availability.free_slots(DR_B, wed, wed, "follow-up") == []  # at West on Wednesday
    assert availability.free_slots(DR_A, wed, wed, "follow-up")  # at Main
    assert [e["description"] for e in events.list_events(MONDAY, MONDAY + timedelta(days=7))] == [
        "Staff meeting", "Training", "Flooded",
    ]  # fmt: skip
    events.cancel_event(timed["id"], "moved online")
    assert availability.free_slots(DR_A, MONDAY, MONDAY, "follow-up")[0].start == at(MONDAY, 9)
    moved = events.update_event(timed["id"], title="Staff meeting (online)")
    assert moved["status"] == "cancelled" and moved["description"].endswith("(online)")
    with pytest.raises(booking.SchedulingError):
        events.create_event(title="Sabbatical", start=MONDAY, end=MONDAY + timedelta(days=60),
                            all_day=True, attendees=[DR_A])  # fmt: skip


def test_event_clashes_are_reported(world):
    appt = booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 14),
                        appointment_type="follow-up")  # fmt: skip
    ev = events.create_event(title="Board", start=at(MONDAY, 13), end=at(MONDAY, 15),
                             attendees=[DR_A])  # fmt: skip
    assert [a["id"] for a in events.clashes(ev)] == [appt["id"]]


def _parse(body: bytes) -> list:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


def test_feeds_parse_and_hold_the_right_events(world):
    conf = events.create_event(title="Conference", start=MONDAY, end=MONDAY + timedelta(days=2),
                               all_day=True, kind="conference", attendees=[DR_A],
                               description="Three days in Denver")  # fmt: skip
    events.create_event(title="B training", start=at(MONDAY, 8), end=at(MONDAY, 9),
                        kind="training", attendees=[DR_B])  # fmt: skip
    appt = booking.book(patient="Patient/pat-1", provider=DR_B, start=at(MONDAY, 9),
                        appointment_type="follow-up", comment="private note")  # fmt: skip
    start, end = at(MONDAY, 0) - timedelta(days=1), at(MONDAY, 0) + timedelta(days=14)
    practice = _parse(ical.practice_feed(start, end))
    assert sorted(str(e["summary"]) for e in practice) == ["B training", "Conference"]
    c = next(e for e in practice if str(e["summary"]) == "Conference")
    assert c.decoded("dtstart") == MONDAY and c.decoded("dtend") == MONDAY + timedelta(days=3)
    assert str(c["uid"]) == f"{conf['id']}@ehr.example.org"
    assert str(c["attendee"]) == "mailto:a@x.org"
    b = _parse(ical.provider_feed(DR_B, start, end))
    summaries = sorted(str(e["summary"]) for e in b)
    assert summaries == ["B training", "Busy: Follow-up"]
    body = ical.provider_feed(DR_B, start, end).decode()
    assert "pat-1" not in body and "private note" not in body  # no patient data leaves
    visit = next(e for e in b if str(e["summary"]).startswith("Busy"))
    assert visit.decoded("dtstart") == at(MONDAY, 9) and appt["id"] in str(visit["uid"])


def test_ics_import_round_trip_and_recurrence(world):
    events.create_event(title="Conference", start=MONDAY, end=MONDAY + timedelta(days=2),
                        all_day=True, kind="conference", attendees=[DR_A])  # fmt: skip
    events.create_event(title="Lunch talk", start=at(MONDAY, 12), end=at(MONDAY, 13),
                        kind="training", attendees=[DR_A, DR_B], description="Sepsis")  # fmt: skip
    window = (at(MONDAY, 0) - timedelta(days=1), at(MONDAY, 0) + timedelta(days=30))
    exported = ical.practice_feed(*window)
    for e in events.list_events(*window):  # start from an empty calendar
        events.delete_event(e["id"])
    first = ical.import_ics(exported)
    assert len(first.created) == 2 and not first.skipped
    again = ical.import_ics(exported)  # idempotent: same UIDs update
    assert len(again.updated) == 2 and not again.created
    got = {e["description"]: events.describe(e) for e in events.list_events(*window)}
    assert got["Conference"]["all_day"] and got["Conference"]["end"] == MONDAY + timedelta(days=2)
    assert got["Conference"]["attendees"] == [DR_A] and got["Conference"]["kind"] == "conference"
    assert got["Lunch talk"]["start"] == at(MONDAY, 12)
    assert sorted(got["Lunch talk"]["attendees"]) == [DR_A, DR_B]
    assert got["Lunch talk"]["description"] == "Sepsis"
    outside = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\n"
        "UID:weekly-1\r\nDTSTAMP:20310101T000000Z\r\nSUMMARY:Huddle\r\n"
        "DTSTART;TZID=America/New_York:20310303T080000\r\n"
        "DTEND;TZID=America/New_York:20310303T083000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n"
        "EXDATE;TZID=America/New_York:20310310T080000\r\n"
        "ATTENDEE;CN=B:mailto:b@x.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    res = ical.import_ics(outside)
    assert len(res.created) == 3
    huddles = events.list_events(MONDAY, MONDAY + timedelta(days=40), attendee=DR_B)
    assert len([h for h in huddles if h["description"] == "Huddle"]) == 3
    assert availability.free_slots(DR_B, MONDAY, MONDAY, "follow-up")[0].start == at(MONDAY, 8, 30)


def test_feed_url_needs_a_live_token(world, client, django_user_model):
    from ehr.identity.accounts import create_user

    user = create_user("desk", "front_desk", password="correct-horse-battery-9")
    events.create_event(title="Holiday party", start=at(MONDAY, 18), end=at(MONDAY, 21),
                        kind="other")  # fmt: skip
    token, secret = feeds.issue_token(user, "phone")
    assert token.token_hash != secret and len(token.token_hash) == 64
    url = f"/calendar/practice.ics?start=x&token={secret}"
    assert client.get("/calendar/practice.ics").status_code == 403
    assert client.get("/calendar/practice.ics?token=wrong").status_code == 403
    resp = client.get(url)
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/calendar")
    resp = client.get(f"/calendar/provider/dr-a.ics?token={secret}")
    assert resp.status_code == 200
    icalendar.Calendar.from_ical(resp.content)
    assert client.get(f"/calendar/provider/nobody.ics?token={secret}").status_code == 404
    feeds.revoke(token)
    assert client.get(url).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_booking_only_one_wins(world_tx):
    results: list[str] = []
    barrier = threading.Barrier(6)

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            start = at(MONDAY, 10, 5 * (i % 2))  # half at 10:00, half at 10:05: all overlap
            booking.book(patient=f"Patient/pat-{i % 5 + 1}", provider=DR_A, start=start,
                         appointment_type="follow-up")  # fmt: skip
            results.append("ok")
        except booking.Conflict:
            results.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 5 + ["ok"]
    booked = search_all("Appointment", [("actor", DR_A), ("status", "booked")])
    assert len(booked) == 1
