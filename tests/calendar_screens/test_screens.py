"""The appointment book screens over the scheduling engine, through Django's test client."""

from __future__ import annotations

import re

import pytest

from ehr.audit.models import AuditRecord
from ehr.scheduling import booking, events, series
from ehr.scheduling.common import period
from tests.scheduling.conftest import DR_A, DR_B, MAIN, MONDAY, at

DAY = MONDAY.isoformat()


def _book(hh: int, mm: int = 0, patient: str = "Patient/pat-1", kind: str = "follow-up") -> dict:
    return booking.book(patient=patient, provider=DR_A, start=at(MONDAY, hh, mm),
                        appointment_type=kind)  # fmt: skip


def test_day_view_draws_blocks_shading_events_and_legend(world, signed_in):
    appt = _book(9)
    events.create_event(title="Staff meeting", kind="meeting", start=at(MONDAY, 12),
                        end=at(MONDAY, 13), attendees=[DR_A])  # fmt: skip
    client = signed_in("front_desk")
    resp = client.get(f"/schedule/?date={DAY}&provider={DR_A}")
    assert resp.status_code == 200
    html = resp.content.decode()
    # 09:00 is row 13 from 08:00 (5-minute rows); 20 minutes = 4 rows; the type's colour class
    pattern = rf'<a class="appt type-follow-up status-booked ([^"]*)"[^>]*data-id="{appt["id"]}"'
    block = re.search(pattern, html)
    assert block and "r-13 s-4 gc-1-12" in block.group(1)
    assert "QUILL, Ada" in html and "Follow-up" in html and "Booked" in html
    assert 'class="event event-meeting r-49 s-12' in html and "Staff meeting" in html
    assert html.count("shade shade-hours") == 2  # two shifts as background, not blocks
    assert "Working hours (free time)" in html and "No-show" in html  # legend
    assert "/schedule/types.css" in html
    css = client.get("/schedule/types.css")
    assert b".type-follow-up { background-color: #2a9d8f" in css.content
    assert "style=" not in html.split("<main", 1)[1]  # CSP: no inline styles


def test_multi_week_month_views(world, signed_in):
    _book(10)
    booking.book(patient="Patient/pat-2", provider=DR_B, start=at(MONDAY, 8),
                 appointment_type="new-patient")  # fmt: skip
    client = signed_in("provider")
    multi = client.get(f"/schedule/providers/?date={DAY}").content.decode()
    assert multi.count('class="cal-col step') == 2 and "Adams" in multi and "Baker" in multi
    assert "P2" in multi and "New patient" in multi
    week = client.get(f"/schedule/week/?date={DAY}&provider={DR_A}").content.decode()
    assert week.count('class="cal-col step') == 7 and "Mon 03-Mar-2031" in week
    assert "Sun 09-Mar-2031" in week and "QUILL, Ada" in week
    month = client.get(f"/schedule/month/?date={DAY}&provider={DR_A}").content.decode()
    assert "March 2031" in month and "QUILL, Ada" in month and "appt-chip" in month


def test_views_are_audited_once_and_biller_refused(world, signed_in):
    for hh in (9, 10, 11):
        _book(hh)
    before = AuditRecord.objects.filter(action="search", resource_type="Appointment").count()
    signed_in("nurse").get(f"/schedule/week/?date={DAY}&provider={DR_A}")
    after = AuditRecord.objects.filter(action="search", resource_type="Appointment")
    assert after.count() == before + 1
    assert "week view" in after.order_by("-seq").first().detail
    biller = signed_in("biller")
    for url in ("/schedule/", "/schedule/week/", "/schedule/book/", "/schedule/next/"):
        assert biller.get(url).status_code == 403


def _form(**over) -> dict:
    data = {
        "patient": "pat-1", "appointment_type": "follow-up", "provider": DR_A, "location": "",
        "day": DAY, "start_time": "09:00", "end_time": "", "comment": "", "repeat": "",
        "interval": "1", "ends": "count", "count": "", "until": "",
    }  # fmt: skip
    data.update(over)
    return data


def test_booking_form_books_and_errors_keep_input(world, signed_in):
    client = signed_in("front_desk")
    page = client.get(f"/schedule/book/?start={DAY}T09:00&provider={DR_A}").content.decode()
    assert 'value="09:00"' in page and "Find the patient" in page
    bad = client.post("/schedule/book/", _form(patient="", comment="keep me", end_time="08:00"))
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "Choose the patient" in text and "The end must be after the start" in text
    assert "keep me" in text
    ok = client.post("/schedule/book/", _form())
    assert ok.status_code == 302
    appt = booking.get(ok["Location"].rstrip("/").split("/")[-1])
    assert period(appt).start == at(MONDAY, 9) and period(appt).end == at(MONDAY, 9, 20)
    picker = client.get("/schedule/book/patients?patient_q=quill").content.decode()
    assert 'name="patient" value="pat-1"' in picker


def test_conflict_shows_clash_other_slots_and_overbook_by_role(world, signed_in):
    _book(9, patient="Patient/pat-2")
    desk = signed_in("front_desk")
    resp = desk.post("/schedule/book/", _form(start_time="09:10"))
    assert resp.status_code == 409
    html = resp.content.decode()
    assert "This time is not free" in html and "P2" in html and "Follow-up" in html
    assert 'name="pick"' in html and "Book anyway" not in html  # front desk may not overbook
    pick = re.search(r'name="pick" value="([^"]+)"', html).group(1)
    picked = desk.post("/schedule/book/", {**_form(start_time="09:10"), "pick": pick})
    assert picked.status_code == 302
    provider = signed_in("provider")
    again = provider.post("/schedule/book/", _form(start_time="09:10", patient="pat-3"))
    assert "Book anyway" in again.content.decode()
    forced = provider.post("/schedule/book/", {**_form(start_time="09:10", patient="pat-3"),
                                               "overbook": "1"})  # fmt: skip
    assert forced.status_code == 302


def test_recurring_booking_and_series_scope_from_the_screen(world, signed_in):
    client = signed_in("front_desk")
    resp = client.post("/schedule/book/", _form(repeat="weekly", count="5", start_time="10:00"))
    assert resp.status_code == 302, resp.content.decode()[:2000]
    first = booking.get(resp["Location"].rstrip("/").split("/")[-1])
    sid = series.series_of(first)
    occ = sorted(series.occurrences(sid), key=lambda a: a["start"])
    assert len(occ) == 5
    words = client.get(f"/schedule/appointment/{occ[1]['id']}/").content.decode()
    assert "Every week on Monday at 10:00, 5 visits" in words and "This and the following" in words
    # move only the second one (drag and drop endpoint)
    target = {"date": occ[1]["start"][:10], "minutes": str(14 * 60), "scope": "this"}
    moved = client.post(f"/schedule/appointment/{occ[1]['id']}/move", target)
    assert moved.status_code == 200 and moved.json()["ok"]
    after = {a["id"]: a for a in series.occurrences(sid)}
    assert after[occ[1]["id"]]["start"][11:16] == "14:00"
    assert [after[a["id"]]["start"][11:16] for a in occ if a is not occ[1]] == ["10:00"] * 4
    # cancel this and the following from the appointment page (reason required)
    url = f"/schedule/appointment/{occ[3]['id']}/"
    missing = client.post(url, {"action": "cancel", "reason": "", "scope": "following"})
    assert missing.status_code == 400 and "Give the reason" in missing.content.decode()
    done = client.post(url, {"action": "cancel", "reason": "Moving away", "scope": "following"})
    assert done.status_code == 302
    status = {a["id"]: a["status"] for a in series.occurrences(sid)}
    assert [status[a["id"]] for a in occ] == ["booked"] * 3 + ["cancelled"] * 2


def test_reschedule_cancel_no_show_and_move_conflict(world, signed_in):
    a = _book(9)
    b = _book(11, patient="Patient/pat-2")
    client = signed_in("front_desk")
    page = client.get(f"/schedule/appointment/{a['id']}/").content.decode()
    assert "Reschedule" in page and "Mark as no-show" in page
    resp = client.post(f"/schedule/appointment/{a['id']}/", {
        "action": "reschedule", "day": DAY, "start_time": "13:00", "end_time": "13:30",
        "provider": DR_A, "scope": "this",
    })  # fmt: skip
    assert resp.status_code == 302
    assert period(booking.get(a["id"])).end == at(MONDAY, 13, 30)
    clash = client.post(f"/schedule/appointment/{a['id']}/move",
                        {"date": DAY, "minutes": str(11 * 60)})  # fmt: skip
    assert clash.status_code == 409
    body = clash.json()
    assert body["conflict"] and body["clashes"][0]["id"] == b["id"] and body["suggestions"]
    assert body["may_overbook"] is False
    client.post(f"/schedule/appointment/{b['id']}/", {"action": "noshow"})
    assert booking.get(b["id"])["status"] == "noshow"
    client.post(f"/schedule/appointment/{a['id']}/", {"action": "cancel", "reason": "Sick"})
    cancelled = booking.get(a["id"])
    assert cancelled["status"] == "cancelled" and cancelled["cancelationReason"]["text"] == "Sick"
    day = client.get(f"/schedule/?date={DAY}&provider={DR_A}").content.decode()
    assert "No-show" in day and f'data-id="{a["id"]}"' not in day  # cancelled hidden
    shown = client.get(f"/schedule/?date={DAY}&provider={DR_A}&cancelled=1").content.decode()
    assert f'data-id="{a["id"]}"' in shown


def test_next_available_and_patient_tab(world, signed_in):
    _book(9)
    client = signed_in("front_desk")
    resp = client.get(f"/schedule/next/?appointment_type=new-patient&provider={DR_A}&after={DAY}")
    html = resp.content.decode()
    assert resp.status_code == 200 and "Mon 03-Mar-2031 09:20–10:00" in html and "Book</a>" in html
    assert MAIN.split("/")[1] in html or "Main" in html
    tab = client.get("/patients/pat-1/appointments").content.decode()
    assert "Mon 03-Mar-2031 09:00–09:20" in tab and "/schedule/book/?patient=pat-1" in tab


@pytest.mark.parametrize("role", ["admin", "provider", "nurse", "front_desk"])
def test_schedule_in_nav_for_scheduling_roles(world, signed_in, role):
    html = signed_in(role).get("/").content.decode()
    assert 'href="/schedule/"' in html
