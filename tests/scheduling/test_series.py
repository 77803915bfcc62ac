"""Recurring series: exceptions and the three edit scopes never lose or duplicate."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from ehr.scheduling import booking, series
from ehr.scheduling.common import period
from tests.scheduling.conftest import DR_A, DR_B, MONDAY, WEST, at

WEEK = timedelta(days=7)


def _make(exdates=()):
    return series.create_series(
        patient="Patient/pat-1", provider=DR_A, rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        dtstart=at(MONDAY, 9), appointment_type="follow-up", exdates=list(exdates),
    )  # fmt: skip


def _live(series_ids):
    rows = [a for sid in series_ids for a in series.occurrences(sid)]
    return [a for a in rows if a["status"] == "booked"]


def _assert_no_duplicates(rows):
    keys = Counter(i["value"] for a in rows for i in a["identifier"])
    assert max(keys.values()) == 1
    starts = Counter(a["start"] for a in rows)
    assert max(starts.values()) == 1


def test_weekly_series_with_an_exception_date(world):
    sid, appts = _make(exdates=[at(MONDAY + 2 * WEEK, 9)])
    assert len(appts) == 9
    starts = sorted(period(a).start for a in series.occurrences(sid))
    assert at(MONDAY + 2 * WEEK, 9) not in starts and starts[0] == at(MONDAY, 9)
    # Materialising again (a longer horizon) creates nothing new: COUNT=10 is exhausted.
    assert series.extend_series(sid, at(MONDAY + 100 * WEEK, 0)) == []
    assert len(series.occurrences(sid)) == 9


def test_series_refused_whole_on_a_conflict(world):
    booking.book(patient="Patient/pat-2", provider=DR_A, start=at(MONDAY + 3 * WEEK, 9),
                 appointment_type="follow-up")  # fmt: skip
    with pytest.raises(booking.Conflict) as err:
        _make()
    assert "1 occurrence" in err.value.message and len(err.value.clashes) == 1
    from ehr.scheduling.common import search_all

    assert len(search_all("Appointment", [("patient", "Patient/pat-1")])) == 0


def test_open_series_extends_its_horizon_idempotently(world):
    sid, appts = series.create_series(
        patient="Patient/pat-1", provider=DR_A, rrule="FREQ=WEEKLY;BYDAY=WE",
        dtstart=at(MONDAY + timedelta(days=2), 10), appointment_type="follow-up",
        horizon=at(MONDAY + 4 * WEEK, 0),
    )  # fmt: skip
    assert len(appts) == 4
    more = series.extend_series(sid, at(MONDAY + 8 * WEEK, 0))
    assert len(more) == 4
    assert series.extend_series(sid, at(MONDAY + 8 * WEEK, 0)) == []
    rows = series.occurrences(sid)
    assert len(rows) == 8
    _assert_no_duplicates(rows)


def test_edit_this_one_keeps_identity_and_count(world):
    sid, _ = _make()
    rows = series.occurrences(sid)
    third = rows[2]
    before = {a["id"] for a in rows}
    changed = series.edit_series(
        third["id"], "this", {"start": at(MONDAY + 2 * WEEK + timedelta(days=1), 15)}
    )
    assert changed[0]["id"] == third["id"]
    after = series.occurrences(sid)
    assert {a["id"] for a in after} == before and len(after) == 10
    moved = next(a for a in after if a["id"] == third["id"])
    assert period(moved).start == at(MONDAY + 2 * WEEK + timedelta(days=1), 15)
    assert series.original_start(moved) == at(MONDAY + 2 * WEEK, 9)  # its identity
    # Extending the series does not bring the moved occurrence back at its old time.
    series.extend_series(sid, at(MONDAY + 60 * WEEK, 0))
    assert len(series.occurrences(sid)) == 10
    _assert_no_duplicates(series.occurrences(sid))


def test_cancel_this_one_then_all_edit_keeps_it_cancelled(world):
    sid, _ = _make()
    rows = series.occurrences(sid)
    series.cancel_series(rows[4]["id"], "this", "Patient travelling")
    assert len(_live([sid])) == 9
    series.edit_series(rows[0]["id"], "all", {"start": at(MONDAY, 10)})
    live = _live([sid])
    assert len(live) == 9
    assert all(period(a).start.hour == 10 for a in live)
    assert at(MONDAY + 4 * WEEK, 10) not in {period(a).start for a in live}
    _assert_no_duplicates(live)
    assert {a["id"] for a in live} <= {a["id"] for a in rows}  # same appointments, moved


def test_edit_this_and_following(world):
    sid, _ = _make()
    rows = series.occurrences(sid)
    ids = [a["id"] for a in rows]
    changed = series.edit_series(
        rows[4]["id"],
        "following",
        {"start": at(MONDAY + 4 * WEEK, 10), "provider": DR_B, "location": WEST},
    )
    assert [a["id"] for a in changed] == ids[4:]  # identity kept, in order
    new_sid = series.series_of(changed[0])
    assert new_sid != sid
    old_part, new_part = _live([sid]), _live([new_sid])
    assert len(old_part) == 4 and len(new_part) == 6  # 10 before, 10 after
    assert all(period(a).start.hour == 9 for a in old_part)
    assert all(period(a).start.hour == 10 for a in new_part)
    assert all(booking.participant_of(a, "clinic") == WEST for a in new_part)
    assert all(booking.participant_of(a, "provider") == DR_B for a in new_part)
    _assert_no_duplicates(old_part + new_part)
    # The first series ends before the split: extending it creates nothing.
    assert series.extend_series(sid, at(MONDAY + 60 * WEEK, 0)) == []
    assert series.extend_series(new_sid, at(MONDAY + 60 * WEEK, 0)) == []
    assert len(_live([sid, new_sid])) == 10


def test_edit_all_with_a_new_rule_pairs_and_cancels_surplus(world):
    sid, _ = _make()
    ids = {a["id"] for a in series.occurrences(sid)}
    # Every other week from now on, same COUNT: fewer occurrences in the old range? No: COUNT
    # still 10, so all 10 remain, spread over 20 weeks; identities are kept.
    series.edit_series(next(iter(series.occurrences(sid)))["id"], "all",
                       {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;COUNT=10"})  # fmt: skip
    live = _live([sid])
    assert len(live) == 10 and {a["id"] for a in live} == ids
    assert period(live[-1]).start == at(MONDAY + 18 * WEEK, 9)
    # Now shorten to 6: four are cancelled (kept in the record), none are lost silently.
    series.edit_series(live[0]["id"], "all", {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;COUNT=6"})
    rows = series.occurrences(sid)
    assert len(rows) == 10
    assert Counter(a["status"] for a in rows) == {"booked": 6, "cancelled": 4}
    _assert_no_duplicates([a for a in rows if a["status"] == "booked"])
