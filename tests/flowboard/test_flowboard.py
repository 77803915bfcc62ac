"""Flow board, waitlist and reminders: engine helpers and the screens (POST with CSRF)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ehr.audit.models import AuditRecord
from ehr.demo.practice import LOCATIONS, practice_resources
from ehr.fhir.storage import repository
from ehr.flowboard import board, reminders, rooms, waitlist
from ehr.jobs.models import OutboxMessage
from ehr.registration.codes import CONTACT_PREF_URL
from ehr.scheduling import booking, flow
from ehr.scheduling.common import practice_tz
from ehr.scheduling.demo import seed_demo_schedule
from tests.scheduling.conftest import DR_A, MAIN, MONDAY, at

DAY = MONDAY.isoformat()


def reachable_patient(pid: str = "pat-r", method: str = "") -> str:
    pref = [{"url": "text", "valueBoolean": True}]
    if method:
        pref.append({"url": "method", "valueCode": method})
    repository.update("Patient", pid, {
        "resourceType": "Patient", "id": pid, "name": [{"family": "Rivera", "given": ["Ana"]}],
        "telecom": [{"system": "phone", "value": "(614) 555-0142", "use": "mobile"},
                    {"system": "email", "value": "ana@example.org"}],
        "extension": [{"url": CONTACT_PREF_URL, "extension": pref}],
    })  # fmt: skip
    return f"Patient/{pid}"


def csrf_client(role: str, signed_in) -> Client:
    client = signed_in(role)
    client.handler.enforce_csrf_checks = True
    return client


def post(client: Client, url: str, data: dict):
    page = client.get("/flow/?day=" + DAY)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    # the board has no form when it is empty: then take the cookie
    value = token.group(1).decode() if token else client.cookies["csrftoken"].value
    return client.post(url, {**data, "csrfmiddlewaretoken": value})


def test_board_stages_and_waits_from_seeded_demo_schedule(db):
    for r in practice_resources():
        repository.update(r["resourceType"], r["id"], r)
    for i in range(4):
        repository.update(
            "Patient",
            f"p{i}",
            {
                "resourceType": "Patient",
                "id": f"p{i}",
                "name": [{"family": f"Demo{i}", "given": ["X"]}],
            },
        )
    seed_demo_schedule(date(2031, 3, 4), per_day=2)  # visits from Wed 5-Mar-2031
    assert rooms.seed_demo_rooms() == 4 * len(LOCATIONS)
    day = date(2031, 3, 5)
    loc = LOCATIONS[0].ref
    rows = flow.board(day, location=loc)
    assert len(rows) >= 3
    a, b, c = (r.appointment["id"] for r in rows[:3])
    start = flow.period(rows[0].appointment).start
    room = f"Location/{LOCATIONS[0].id}-exam-1"
    flow.advance(a, "arrived", at=start - timedelta(minutes=5))
    flow.advance(a, "roomed", at=start + timedelta(minutes=10), room=room)
    flow.advance(b, "arrived", at=start)
    booking.mark_no_show(c)
    now = start + timedelta(minutes=30)
    b_ = board.build(day, loc, now=now)
    cols = {code: cards for code, _, cards in b_.columns}
    card_a = next(x for x in cols["roomed"] if x.id == a)
    assert card_a.room == "Exam 1" and card_a.minutes == 20.0 and card_a.warn
    card_b = next(x for x in cols["arrived"] if x.id == b)
    assert card_b.minutes == 30.0 and card_b.warn
    assert re.match(r"^[A-Z0-9]+, X$", card_b.patient)
    assert [x.id for x in cols["no-show"]] == [c]
    assert all(x.column == "scheduled" for x in cols["scheduled"])
    waits = flow.waiting_times(flow.booking.get(a), now)
    assert waits.in_waiting_room == 15.0 and waits.late_minutes == -5.0


def test_screen_moves_a_patient_through_every_stage_with_csrf(world, signed_in):
    patient = reachable_patient()
    appt = booking.book(patient=patient, provider=DR_A, start=at(MONDAY, 9),
                        appointment_type="follow-up")  # fmt: skip
    aid = appt["id"]
    client = csrf_client("front_desk", signed_in)
    page = client.get(f"/flow/?day={DAY}&location={MAIN}")
    assert page.status_code == 200 and b"RIVERA, Ana" in page.content
    assert "Server-Timing" in page and page["Server-Timing"].startswith("board;dur=")
    # no CSRF token: refused
    assert client.post(f"/flow/{aid}/advance", {"to": "arrived"}).status_code == 403
    resp = post(client, f"/flow/{aid}/advance", {"to": "arrived", "day": DAY, "location": MAIN})
    assert resp.status_code == 302 and f"checked_in={aid}" in resp["Location"]
    panel = client.get(resp["Location"])
    assert b"is checked in" in panel.content
    assert client.get(f"/flow/{aid}/room?day={DAY}&location={MAIN}").status_code == 200
    for to in ("roomed", "with-provider", "checked-out"):
        resp = post(client, f"/flow/{aid}/advance", {"to": to, "day": DAY, "location": MAIN})
        assert resp.status_code == 302
    done = booking.get(aid)
    assert done["status"] == "fulfilled" and flow.stage(done) == "checked-out"
    part = client.get(f"/flow/board?day={DAY}&location={MAIN}")
    assert part.status_code == 200 and b'hx-trigger="every 15s"' in part.content
    assert b"Visit took" in part.content and "Server-Timing" in part
    # going back is refused with a message, not an error page
    resp = post(client, f"/flow/{aid}/advance", {"to": "arrived", "day": DAY, "location": MAIN})
    assert resp.status_code == 302
    assert b"not on the flow board" in client.get(resp["Location"]).content


def test_checkin_offers_eligibility_link_of_primary_coverage(world, signed_in):
    patient = reachable_patient()
    cov = repository.create({
        "resourceType": "Coverage", "status": "active", "order": 1,
        "beneficiary": {"reference": patient},
        "payor": [{"reference": "Organization/payer-1", "display": "Acme Health"}],
    })  # fmt: skip
    appt = booking.book(patient=patient, provider=DR_A, start=at(MONDAY, 10),
                        appointment_type="follow-up")  # fmt: skip
    client = csrf_client("front_desk", signed_in)
    resp = post(client, f"/flow/{appt['id']}/advance",
                {"to": "arrived", "day": DAY, "location": MAIN})  # fmt: skip
    page = client.get(resp["Location"])
    assert f"/eligibility/coverage/{cov.id}/".encode() in page.content
    assert b"Acme Health" in page.content


def test_biller_is_refused_and_each_board_view_is_audited(world, signed_in):
    biller = signed_in("biller")
    assert biller.get("/flow/").status_code == 403
    assert biller.get("/flow/waitlist").status_code == 403
    client = signed_in("nurse")
    before = AuditRecord.objects.filter(detail__startswith="flow board").count()
    client.get(f"/flow/?day={DAY}&location={MAIN}")
    client.get(f"/flow/board?day={DAY}&location={MAIN}")
    assert AuditRecord.objects.filter(detail__startswith="flow board").count() == before + 2


def test_waitlist_add_match_and_book_after_a_cancellation(world, signed_in):
    patient = reachable_patient("pat-w")
    client = csrf_client("front_desk", signed_in)
    resp = post(client, "/flow/waitlist", {
        "add": "1", "patient": "pat-w", "type": "follow-up", "providers": [DR_A],
        "earliest": DAY, "latest": (MONDAY + timedelta(days=14)).isoformat(),
        "notes": "Mornings", "contact": "sms",
    })  # fmt: skip
    assert resp.status_code == 302
    entries = waitlist.entries()
    assert len(entries) == 1 and entries[0]["status"] == "waitlist"
    # another entry that does not fit (other provider only)
    waitlist.add(patient="Patient/pat-2", appointment_type="follow-up",
                 providers=["Practitioner/dr-b"])  # fmt: skip
    taken = booking.book(patient="Patient/pat-1", provider=DR_A, start=at(MONDAY, 9, 40),
                         appointment_type="follow-up")  # fmt: skip
    page = client.get("/flow/waitlist")
    assert b"RIVERA, Ana" in page.content and b"Mornings" in page.content
    # cancel through the screen: redirected to the offer page with the one match
    resp = post(client, f"/flow/{taken['id']}/cancel",
                {"reason": "Patient unwell", "code": "pat", "day": DAY})  # fmt: skip
    assert resp.status_code == 302 and "/flow/waitlist/offer" in resp["Location"]
    offer = client.get(resp["Location"])
    assert offer.content.count(b"/book") == 1 and b"RIVERA, Ana" in offer.content
    resp = post(client, f"/flow/waitlist/{entries[0]['id']}/book", {"appointment": taken["id"]})
    assert resp.status_code == 302
    booked = booking.provider_week(DR_A, MONDAY, with_cancelled=False)
    mine = [a for a in booked if booking.participant_of(a, "patient") == patient]
    assert len(mine) == 1 and mine[0]["start"] == taken["start"]
    assert booking.get(entries[0]["id"])["status"] == "cancelled"
    assert waitlist.entries()[0]["id"] != entries[0]["id"]
    assert OutboxMessage.objects.filter(ref=f"Appointment/{mine[0]['id']}").exists()
    # remove the other entry
    other = waitlist.entries()[0]["id"]
    assert post(client, f"/flow/waitlist/{other}/remove", {}).status_code == 302
    assert waitlist.entries() == []


def test_waitlist_patient_typeahead(world, signed_in):
    reachable_patient("pat-t")
    resp = signed_in("front_desk").get("/flow/waitlist/patients?q=rivera")
    assert resp.status_code == 200 and b'value="pat-t"' in resp.content


@pytest.fixture
def future_world(world):
    """Now is pinned relative to the fixed 2031 schedule."""
    return at(MONDAY, 9) - timedelta(days=3)


def test_reminders_enqueued_moved_and_cancelled(world, future_world, settings):
    settings.EHR_OUTBOX_DIR = "/tmp/flow-var/outbox-test"
    now = future_world
    patient = reachable_patient()
    appt = booking.book(patient=patient, provider=DR_A, start=at(MONDAY, 9),
                        appointment_type="follow-up")  # fmt: skip
    msgs = reminders.schedule_reminders(appt, now=now)
    assert sorted(m.channel for m in msgs) == ["email", "sms"]
    sms = next(m for m in msgs if m.channel == "sms")
    assert sms.recipient == "(614) 555-0142"
    assert sms.next_attempt_at == at(MONDAY, 9) - timedelta(hours=24)
    assert "Follow-up" not in sms.body and "Adams" not in sms.body and "9:00 AM" in sms.body
    assert reminders.schedule_reminders(appt, now=now)[0].id in {m.id for m in msgs}
    assert OutboxMessage.objects.count() == 2  # idempotent
    moved = booking.reschedule(appt["id"], at(MONDAY, 10))
    reminders.schedule_reminders(moved, now=now)
    live = OutboxMessage.objects.filter(status="queued")
    assert live.count() == 2 and all("10:00 AM" in m.body for m in live)
    assert OutboxMessage.objects.filter(status="cancelled").count() == 2
    booking.cancel(appt["id"], "Patient called")
    reminders.on_appointment_changed(appt["id"])
    assert not OutboxMessage.objects.filter(status="queued").exists()


def test_reminder_channels_follow_the_contact_preference(world):
    p = repository.read("Patient", reachable_patient("a", "email").split("/")[1]).resource()
    assert reminders.channels(p) == [("email", "ana@example.org")]
    p = repository.read("Patient", reachable_patient("b", "sms").split("/")[1]).resource()
    assert reminders.channels(p) == [("sms", "(614) 555-0142")]


def test_sweep_reminds_appointments_created_elsewhere(world, settings):
    patient = reachable_patient()
    start = timezone.now().astimezone(practice_tz()) + timedelta(hours=30)
    start = datetime.combine(start.date(), time(start.hour), tzinfo=practice_tz())
    appt = booking.book(patient=patient, provider=DR_A, start=start,
                        appointment_type="follow-up", overbook=True)  # fmt: skip
    assert not OutboxMessage.objects.exists()
    assert reminders.sweep() == 1
    assert OutboxMessage.objects.filter(ref=f"Appointment/{appt['id']}").count() == 2
    assert reminders.sweep() == 0
