"""The practice events calendar screens: month grid, day list, event page, upcoming list, the
form (with the clash warning), feed tokens and subscription, .ics import, permissions, audit."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, time, timedelta

import icalendar
import pytest
from icalendar import Calendar

from ehr.audit.models import AuditRecord
from ehr.fhir.access import acting_as
from ehr.identity.access import PrincipalPolicy
from ehr.identity.principal import Principal
from ehr.practice_calendar import calendar as cal
from ehr.practice_calendar.access import EventsReaderPolicy
from ehr.scheduling import booking, events
from ehr.scheduling.common import practice_tz, search_all
from tests.scheduling.conftest import DR_A, DR_B, MAIN, at

MARCH = date(2031, 3, 3)  # a Monday; 1 March 2031 is a Saturday


def cells(html: str) -> dict[str, str]:
    """Month grid cells by date (their inner HTML)."""
    parts = re.split(r'<td class="ev-cell', html)[1:]
    out = {}
    for p in parts:
        day = re.search(r'data-date="([\d-]+)"', p).group(1)
        out[day] = p.split("</td>")[0]
    return out


def text(resp) -> str:
    return resp.content.decode()


def next_monday(after_days: int = 14) -> date:
    d = date.today() + timedelta(days=after_days)
    return d + timedelta(days=(7 - d.weekday()) % 7)


# ---------------------------------------------------------------------------- pure layout


def test_month_weeks_start_monday_and_have_five_or_six_rows():
    sep = cal.month_weeks(2025, 9)  # 1 Sep 2025 is a Monday
    assert sep[0][0] == date(2025, 9, 1) and len(sep) == 5
    mar = cal.month_weeks(2031, 3)
    assert mar[0][0] == date(2031, 2, 24) and mar[-1][-1] == date(2031, 4, 6) and len(mar) == 6
    feb = cal.month_weeks(2021, 2)  # 28 days from a Monday: padded to five rows
    assert len(feb) == 5 and all(w[0].weekday() == 0 and len(w) == 7 for w in feb)
    assert cal.shift_month(2031, 1, -1) == (2030, 12) and cal.shift_month(2031, 12, 1) == (2032, 1)


def test_shorten_cuts_at_a_word_with_an_ellipsis():
    words = "Lorem ipsum dolor sit amet " * 20
    short = cal.shorten(words)
    assert len(short) <= 140 and short.endswith("…") and not short.endswith(" …")
    assert cal.shorten("Short text") == "Short text"


# ---------------------------------------------------------------------------- month grid


def test_month_grid_neighbours_multi_day_all_day_and_more(world, signed_in):
    wed, thu, fri = MARCH + timedelta(days=2), MARCH + timedelta(days=3), MARCH + timedelta(4)
    conf = events.create_event(
        title="Family Medicine Congress", kind="conference", all_day=True, start=wed, end=fri,
        attendees=[DR_A],
    )  # fmt: skip
    events.create_event(title="Early huddle", kind="meeting", start=at(wed, 7, 30),
                        end=at(wed, 8), attendees=[DR_B])  # fmt: skip
    events.create_event(title="February thing", kind="other", start=date(2031, 2, 26),
                        all_day=True)  # fmt: skip
    for i in range(5):
        events.create_event(title=f"Busy {i}", kind="training", start=at(MARCH, 8 + i),
                            end=at(MARCH, 9 + i))  # fmt: skip
    client = signed_in("front_desk")
    resp = client.get("/events/?month=2031-03")
    assert resp.status_code == 200
    html = text(resp)
    assert "Events · March 2031" in html
    grid = cells(html)
    days = list(grid)
    assert days[0] == "2031-02-24" and days[-1] == "2031-04-06" and len(days) == 42
    assert all("ev-out" in grid[f"2031-02-{d}"] for d in range(24, 29))
    assert "ev-out" not in grid["2031-03-01"] and "ev-out" in grid["2031-04-01"]
    assert "February thing" in grid["2031-02-26"]  # neighbours' events still shown, greyed
    # the three-day conference appears on each day it covers, and only those
    for d in (wed, thu, fri):
        assert "Family Medicine Congress" in grid[d.isoformat()], d
    assert "Family Medicine Congress" not in grid["2031-03-04"]
    assert "Family Medicine Congress" not in grid["2031-03-08"]
    # all-day first, then by time
    cell = grid[wed.isoformat()]
    assert cell.index("Family Medicine Congress") < cell.index("Early huddle")
    assert "07:30" in cell and f'href="/events/{conf["id"]}/"' in cell
    # five events on Monday: three listed and "+2 more" linking to the day
    monday = grid[MARCH.isoformat()]
    assert monday.count('class="ev-item') == 3 and "+2 more" in monday
    assert 'href="/events/day/2031-03-03"' in monday
    # navigation and the picker
    assert 'href="?month=2031-02"' in html and 'href="?month=2031-04"' in html
    assert '<option value="3" selected>March</option>' in html
    picked = client.get("/events/?y=2032&m=2")
    assert "Events · February 2032" in text(picked)
    assert "Events · " in text(client.get("/events/?month=banana"))  # falls back to today


def test_month_grid_highlights_today(world, signed_in):
    today = cal.today()
    html = text(signed_in("nurse").get("/events/"))
    grid = cells(html)
    assert "ev-today" in grid[today.isoformat()]
    assert sum("ev-today" in c for c in grid.values()) == 1


# ---------------------------------------------------------------------------- day, event page


def test_day_list_and_event_page(world, signed_in):
    wed, fri = MARCH + timedelta(days=2), MARCH + timedelta(days=4)
    conf = events.create_event(
        title="Family Medicine Congress", kind="conference", all_day=True, start=wed, end=fri,
        attendees=[DR_A, DR_B], location=MAIN, description="Line one.\nLine two.",
    )  # fmt: skip
    events.create_event(title="Lunch and learn", kind="training", start=at(wed + timedelta(1), 12),
                        end=at(wed + timedelta(1), 13), location=MAIN)  # fmt: skip
    client = signed_in("front_desk")
    page = text(client.get("/events/day/2031-03-06"))
    assert "Events on 2031-03-06" in page
    assert "Family Medicine Congress" in page and "day 2 of 3" in page
    assert "Lunch and learn" in page and "12:00–13:00" in page
    assert "Adams" in page and "Baker" in page and "Main" in page
    assert page.index("Family Medicine Congress") < page.index("Lunch and learn")
    assert "No events on this day" in text(client.get("/events/day/2031-03-10"))
    assert client.get("/events/day/2031-13-45").status_code == 404

    ev = text(client.get(f"/events/{conf['id']}/"))
    assert "Family Medicine Congress" in ev and "Conference" in ev
    assert "Wed 05-Mar-2031 – Fri 07-Mar-2031 (all day)" in ev and "(3 days)" in ev
    assert "Blocks the schedule of" in ev and "Adams, Baker" in ev
    assert "Line one.<br>Line two." in ev
    assert f"/events/{conf['id']}/edit" in ev and "Cancel this event" in ev
    assert "Delete" not in ev  # the front desk may not delete appointments
    admin = text(signed_in("admin").get(f"/events/{conf['id']}/"))
    assert "delete-confirm" in admin
    assert client.get("/events/nope/").status_code == 404
    visit = booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MARCH, 9),
                         appointment_type="follow-up")  # fmt: skip
    assert client.get(f"/events/{visit['id']}/").status_code == 404  # a visit is no event


def test_cancel_and_delete(world, signed_in):
    ev = events.create_event(title="Fire drill", kind="other", start=at(MARCH, 15),
                             end=at(MARCH, 16), attendees=[DR_A])  # fmt: skip
    desk = signed_in("front_desk")
    resp = desk.post(f"/events/{ev['id']}/cancel", {"reason": "Rescheduled"})
    assert resp.status_code == 302
    page = text(desk.get(f"/events/{ev['id']}/"))
    assert "Cancelled" in page and "Rescheduled" in page and "Nobody (cancelled)" in page
    assert booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MARCH, 15),
                        appointment_type="follow-up")  # fmt: skip
    assert desk.post(f"/events/{ev['id']}/delete", {"confirm": "1"}).status_code == 403
    admin = signed_in("admin")
    assert admin.post(f"/events/{ev['id']}/delete", {}).status_code == 302  # not confirmed
    assert admin.get(f"/events/{ev['id']}/").status_code == 200
    assert admin.post(f"/events/{ev['id']}/delete", {"confirm": "1"}).status_code == 302
    assert admin.get(f"/events/{ev['id']}/").status_code == 404


# ---------------------------------------------------------------------------- upcoming


def test_upcoming_shortens_the_description(world, signed_in):
    soon = date.today() + timedelta(days=3)
    long = "Bring your badge. " + "The agenda covers many topics in depth. " * 12
    ev = events.create_event(title="Quality day", kind="training", start=soon, all_day=True,
                             description=long)  # fmt: skip
    events.create_event(title="Long past", kind="other", start=date.today() - timedelta(40),
                        all_day=True)  # fmt: skip
    client = signed_in("provider")
    page = text(client.get("/events/upcoming"))
    assert "Quality day" in page and "Long past" not in page
    short = cal.shorten(long)
    assert short.endswith("…") and short in page and long.strip() not in page
    assert "Read more" in page
    assert long.strip() in " ".join(text(client.get(f"/events/{ev['id']}/")).split())


# ---------------------------------------------------------------------------- the form


def conference_post(first: date, **extra) -> dict:
    return {
        "title": "Three-day conference",
        "kind": "conference",
        "all_day": "on",
        "start_date": first.isoformat(),
        "end_date": (first + timedelta(days=2)).isoformat(),
        "location": "",
        "description": "Annual meeting",
        "attendees": ["dr-a"],
        **extra,
    }


def test_form_creates_a_conference_that_blocks_booking_and_feeds_it(world, signed_in):
    monday = next_monday()
    desk = signed_in("front_desk")
    form = text(desk.get(f"/events/new?date={monday.isoformat()}"))
    assert f'value="{monday.isoformat()}"' in form and "Adams" in form and "Main" in form
    resp = desk.post("/events/new", conference_post(monday))
    assert resp.status_code == 302, text(resp)[:2000]
    event_id = resp["Location"].strip("/").split("/")[-1]
    info = events.describe(events.get_event(event_id))
    assert info["all_day"] and info["start"] == monday and info["end"] == monday + timedelta(2)
    assert info["attendees"] == [DR_A] and info["kind"] == "conference"
    # Dr Adams cannot be booked during it; next available skips to Thursday
    tuesday = monday + timedelta(days=1)
    with pytest.raises(booking.Conflict):
        booking.book(patient="Patient/pat-1", provider=DR_A, start=at(tuesday, 10),
                     appointment_type="follow-up")  # fmt: skip
    slot = booking.next_available("follow-up", at(monday, 8), providers=[DR_A])[0]
    assert slot.start == at(monday + timedelta(days=3), 9)
    # ... Dr Baker still can
    assert booking.book(patient="Patient/pat-2", provider=DR_B, start=at(tuesday, 14),
                        appointment_type="follow-up")  # fmt: skip

    # feed token -> provider feed -> parsed with icalendar
    page = text(desk.post("/events/feeds", {"label": "Phone"}))
    urls = re.findall(r'value="(http://testserver/calendar/[^"]+)"', page)
    assert any("/calendar/practice.ics?token=" in u for u in urls)
    provider = next(u for u in urls if "/calendar/provider/dr-a.ics?token=" in u)
    path = provider.removeprefix("http://testserver")
    feed = desk.get(path)
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    vcal = icalendar.Calendar.from_ical(feed.content)
    found = [ve for ve in vcal.walk("VEVENT") if str(ve.get("summary")) == "Three-day conference"]
    assert len(found) == 1
    assert found[0].decoded("dtstart") == monday
    assert found[0].decoded("dtend") == monday + timedelta(days=3)  # exclusive end
    practice = next(u for u in urls if "practice.ics" in u).removeprefix("http://testserver")
    assert b"Three-day conference" in desk.get(practice).content
    # revoke: the same URL is refused
    from ehr.scheduling.models import FeedToken

    token = FeedToken.objects.get(label="Phone")
    assert desk.post(f"/events/feeds/{token.pk}/revoke").status_code == 302
    assert desk.get(path).status_code == 403
    assert "Revoked" in text(desk.get("/events/feeds"))
    assert "token=" not in text(desk.get("/events/feeds"))  # the secret is never shown again


def test_form_errors_keep_what_was_typed(world, signed_in):
    desk = signed_in("front_desk")
    resp = desk.post("/events/new", {
        "title": "", "kind": "meeting", "start_date": "2031-03-05", "start_time": "10:00",
        "end_date": "2031-03-04", "end_time": "09:00", "description": "Keep me",
        "attendees": ["dr-b"],
    })  # fmt: skip
    assert resp.status_code == 400
    page = text(resp)
    assert "error-summary" in page and "Keep me" in page and 'value="2031-03-05"' in page
    assert 'aria-invalid="true"' in page and "This field is required" in page
    resp = desk.post("/events/new", {
        "title": "Meeting", "kind": "meeting", "start_date": "2031-03-05", "start_time": "10:00",
        "end_time": "09:00",
    })  # fmt: skip
    assert "The end must be after the start" in text(resp)
    resp = desk.post("/events/new", {
        "title": "Meeting", "kind": "meeting", "start_date": "2031-03-05",
    })  # fmt: skip
    assert "Give a start time, or tick All day" in text(resp)
    too_long = conference_post(MARCH, end_date=(MARCH + timedelta(days=40)).isoformat())
    resp = desk.post("/events/new", too_long)
    assert resp.status_code == 400 and "at most 31 days" in text(resp)
    assert events.list_events(MARCH - timedelta(days=7), MARCH + timedelta(days=60)) == []


def test_form_warns_about_booked_visits_then_saves_anyway(world, signed_in):
    visit = booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MARCH, 10),
                         appointment_type="follow-up")  # fmt: skip
    desk = signed_in("front_desk")
    data = conference_post(MARCH)
    resp = desk.post("/events/new", data)
    assert resp.status_code == 409
    page = text(resp)
    assert "Booked visits during this event" in page and "Save anyway" in page
    assert "Mon 03-Mar-2031 10:00–10:20" in page and "Adams" in page
    assert "/patients/pat-1/appointments" in page
    assert events.list_events(MARCH, MARCH + timedelta(days=3)) == []  # nothing saved yet
    resp = desk.post("/events/new", {**data, "save_anyway": "1"})
    assert resp.status_code == 302
    assert booking.get(visit["id"])["status"] == "booked"  # the visit is kept
    assert "need to be rescheduled" in text(desk.get(resp["Location"]))


def test_edit_event(world, signed_in):
    ev = events.create_event(title="Staff meeting", kind="meeting", start=at(MARCH, 8),
                             end=at(MARCH, 9), attendees=[DR_B], location=MAIN)  # fmt: skip
    desk = signed_in("front_desk")
    form = text(desk.get(f"/events/{ev['id']}/edit"))
    assert 'value="Staff meeting"' in form and 'value="08:00"' in form
    assert re.search(r'value="dr-b"[^>]*checked', form)
    resp = desk.post(f"/events/{ev['id']}/edit", {
        "title": "Staff meeting (longer)", "kind": "meeting", "start_date": "2031-03-03",
        "start_time": "08:00", "end_time": "10:00", "location": "main", "attendees": ["dr-b"],
    })  # fmt: skip
    assert resp.status_code == 302
    info = events.describe(events.get_event(ev["id"]))
    assert info["title"] == "Staff meeting (longer)" and info["end"] == at(MARCH, 10)


# ---------------------------------------------------------------------------- import


def ics(*events_: icalendar.Event) -> bytes:
    c = icalendar.Calendar()
    c.add("prodid", "-//Test//EN")
    c.add("version", "2.0")
    for e in events_:
        c.add_component(e)
    return c.to_ical()


def vevent(uid: str, summary: str, start, end, attendee: str | None = None) -> icalendar.Event:
    e = icalendar.Event()
    e.add("uid", uid)
    e.add("summary", summary)
    e.add("dtstart", start)
    e.add("dtend", end)
    e.add("dtstamp", datetime(2031, 1, 1, tzinfo=practice_tz()))
    if attendee:
        e.add("attendee", f"mailto:{attendee}")
    return e


def test_ics_import_preview_then_confirm(world, signed_in):
    data = ics(
        vevent("conf-1@x", "Imported congress", date(2031, 3, 5), date(2031, 3, 8), "a@x.org"),
        vevent("mtg-1@x", "Imported meeting", at(MARCH, 12), at(MARCH, 13)),
    )
    desk = signed_in("front_desk")
    assert "Preview" in text(desk.get("/events/import"))
    resp = desk.post("/events/import", {"file": _upload("cal.ics", data)})
    assert resp.status_code == 200
    page = text(resp)
    assert "Nothing has been saved yet" in page and "Will be created (2)" in page
    assert "Imported congress" in page and "Adams" in page
    window = (MARCH - timedelta(days=1), MARCH + timedelta(days=10))
    assert events.list_events(*window) == []  # the preview stored nothing
    encoded = re.search(r'name="data" value="([^"]+)"', page).group(1)
    assert base64.b64decode(encoded) == data
    resp = desk.post("/events/import", {"step": "confirm", "filename": "cal.ics", "data": encoded})
    assert resp.status_code == 302
    stored = events.list_events(*window)
    assert sorted(events.describe(e)["title"] for e in stored) == [
        "Imported congress", "Imported meeting",
    ]  # fmt: skip
    congress = next(e for e in stored if "congress" in e["description"])
    assert events.describe(congress)["attendees"] == [DR_A]
    # the same file again: updates, no duplicates
    again = text(desk.post("/events/import", {"file": _upload("cal.ics", data)}))
    assert "Will be updated (2)" in again and "Will be created" not in again
    assert AuditRecord.objects.filter(
        username="u-front_desk", action="create", detail__contains="import (cal.ics)"
    ).exists()


def test_ics_import_errors(world, signed_in):
    desk = signed_in("front_desk")
    resp = desk.post("/events/import", {"file": _upload("notes.ics", b"hello, not a calendar")})
    assert resp.status_code == 400 and "not an iCalendar (.ics) file" in text(resp)
    big = b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"x" * 1_100_000 + b"\r\nEND:VCALENDAR\r\n"
    resp = desk.post("/events/import", {"file": _upload("big.ics", big)})
    assert resp.status_code == 400 and "at most 1 MB" in text(resp)
    resp = desk.post("/events/import", {})
    assert resp.status_code == 400 and "This field is required" in text(resp)
    assert signed_in("nurse").get("/events/import").status_code == 403


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/calendar")


# ---------------------------------------------------------------------------- permissions, audit


def test_permissions_by_role(world, signed_in):
    ev = events.create_event(title="Closure", kind="closure", start=MARCH, all_day=True)
    biller = signed_in("biller")
    assert biller.get("/events/?month=2031-03").status_code == 200
    assert "Closure" in text(biller.get("/events/?month=2031-03"))
    assert biller.get(f"/events/{ev['id']}/").status_code == 200
    assert biller.get("/events/day/2031-03-03").status_code == 200
    assert biller.get("/events/upcoming").status_code == 200
    # A biller subscribes too: the practice feed then holds the events and no visit.
    soon = date.today() + timedelta(days=7 - date.today().weekday())  # next Monday
    booking.book(patient="Patient/pat-1", provider=DR_A, start=at(soon, 9),
                 appointment_type="follow-up")  # fmt: skip
    events.create_event(title="Staff lunch", kind="meeting", start=at(soon, 12),
                        end=at(soon, 13), attendees=[DR_A])  # fmt: skip
    made = text(biller.post("/events/feeds", {"label": "phone"}))
    secret = re.search(r"practice\.ics\?token=([\w-]+)", made).group(1)
    feed = biller.get(f"/calendar/practice.ics?token={secret}")
    assert feed.status_code == 200
    summaries = [str(c.get("SUMMARY")) for c in Calendar.from_ical(feed.content).walk("VEVENT")]
    assert any("Staff lunch" in s for s in summaries), summaries
    assert not any("Busy" in s for s in summaries), summaries
    mine = biller.get(f"/calendar/provider/{DR_A.split('/')[1]}.ics?token={secret}")
    assert mine.status_code == 200
    summaries = [str(c.get("SUMMARY")) for c in Calendar.from_ical(mine.content).walk("VEVENT")]
    assert any("Staff lunch" in s for s in summaries), summaries
    assert not any("Busy" in s for s in summaries), summaries  # the visit stays hidden
    assert "New event" not in text(biller.get("/events/"))
    assert biller.get("/events/new").status_code == 403
    assert biller.post("/events/new", conference_post(MARCH)).status_code == 403
    assert biller.post(f"/events/{ev['id']}/cancel").status_code == 403
    assert biller.get(f"/events/{ev['id']}/edit").status_code == 403
    provider = signed_in("provider")
    assert provider.get("/events/").status_code == 200
    assert provider.get("/events/new").status_code == 403
    patient = signed_in("patient")
    for url in ("/events/", "/events/upcoming", f"/events/{ev['id']}/", "/events/feeds"):
        assert patient.get(url).status_code == 403, url
    from django.test import Client

    anon = Client().get("/events/")
    assert anon.status_code == 302 and anon["Location"].startswith("/login/")
    assert 'href="/events/"' in text(signed_in("admin", "nav-admin").get("/events/"))


def test_events_door_shows_no_visits(world):
    """The widened policy lets a biller read practice events and never a visit."""
    booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MARCH, 9),
                 appointment_type="follow-up")  # fmt: skip
    ev = events.create_event(title="Meeting", kind="meeting", start=at(MARCH, 12),
                             end=at(MARCH, 13), attendees=[DR_A])  # fmt: skip
    biller = PrincipalPolicy(Principal(kind="user", username="b", role="biller"))
    with acting_as(EventsReaderPolicy(biller)):
        found = search_all("Appointment", [])
        assert [a["id"] for a in found] == [ev["id"]]
        assert not EventsReaderPolicy(biller).permits("u", "Appointment")
    with acting_as(biller), pytest.raises(Exception, match="may not search"):
        search_all("Appointment", [])


def test_screens_are_audited(world, signed_in):
    ev = events.create_event(title="Audit me", kind="other", start=MARCH, all_day=True)
    desk = signed_in("front_desk")
    desk.get("/events/?month=2031-03")
    desk.get(f"/events/{ev['id']}/")
    desk.get("/events/day/2031-03-03")
    desk.post("/events/new", conference_post(MARCH + timedelta(days=7)))
    desk.post("/events/feeds", {"label": "Tablet"})
    rows = AuditRecord.objects.filter(username="u-front_desk")
    assert rows.filter(action="search", query__contains="month=2031-03").exists()
    assert rows.filter(action="read", resource_type="Appointment", resource_id=ev["id"]).exists()
    assert rows.filter(action="search", query__contains="date=2031-03-03").exists()
    assert rows.filter(action="create", resource_type="Appointment").exists()
    assert rows.filter(action="token-issued", detail__contains="Tablet").exists()
    assert not rows.filter(detail__contains="token=").exists()


def test_day_cells_label_timed_multi_day_events(world):
    ev = events.create_event(
        title="Night shift course",
        kind="training",
        start=at(MARCH, 18),
        end=at(MARCH + timedelta(days=2), 9),
    )
    row = cal.rows([ev])[0]
    assert row.days == 3 and row.multi_day
    assert row.label_on(MARCH) == "from 18:00"
    assert row.label_on(MARCH + timedelta(days=1)) == "all day"
    assert row.label_on(MARCH + timedelta(days=2)) == "until 09:00"
    assert row.when == "Mon 03-Mar-2031 18:00 – Wed 05-Mar-2031 09:00"
    midnight = events.create_event(title="Ends at midnight", kind="other", start=at(MARCH, 20),
                                   end=datetime.combine(MARCH + timedelta(1), time(0),
                                                        tzinfo=practice_tz()))  # fmt: skip
    assert cal.rows([midnight])[0].days == 1
