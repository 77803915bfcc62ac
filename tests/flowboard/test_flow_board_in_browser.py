"""The front desk's flow board in real Chromium: a patient checked in, roomed, seen and checked
out through every stage; the waitlist; the outbox viewer (admin). Screenshots go to
test-output/screens/ (flow-board, waitlist, outbox)."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ehr.demo.practice import CLINICIANS, LOCATIONS
from tests.browser import browser_page, screenshot
from tests.live import ehr, fresh_database, running_server, system_token

pytestmark = pytest.mark.live

ROLE = "http://ehr.example.org/fhir/CodeSystem/participant-role"
TYPE = "http://ehr.example.org/fhir/CodeSystem/appointment-type"


def api(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json",
                 "Content-Type": "application/fhir+json"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def part(ref: str, role: str) -> dict:
    return {"type": [{"coding": [{"system": ROLE, "code": role}]}], "actor": {"reference": ref},
            "required": "required", "status": "accepted"}  # fmt: skip


def test_flow_board_every_stage_waitlist_and_outbox(tmp_path):
    with fresh_database(tmp_path) as url:
        ehr(url, "migrate")
        ehr(url, "demo-data", "--patients", "8", "--seed", "1")
        token = system_token(url)
        with running_server(url) as base, browser_page(viewport=(1400, 900)) as page:
            root = base.removesuffix("/fhir")
            patients = api(base, token, "GET", "/Patient?_count=2")["entry"]
            p0 = patients[0]["resource"]
            family = p0["name"][0]["family"]
            tz = ZoneInfo("America/New_York")
            now = datetime.now(tz).replace(second=0, microsecond=0)
            start = now + timedelta(minutes=30)
            if start.date() != (start + timedelta(minutes=60)).date() or start.date() != now.date():
                start = now - timedelta(minutes=90)  # near midnight: keep both visits today
            for i, p in enumerate(patients):
                s = start + timedelta(minutes=30 * i)
                api(base, token, "POST", "/Appointment", {
                    "resourceType": "Appointment", "status": "booked",
                    "serviceType": [{"coding": [{"system": TYPE, "code": "follow-up",
                                                 "display": "Follow-up"}]}],
                    "description": "Follow-up", "start": s.isoformat(),
                    "end": (s + timedelta(minutes=20)).isoformat(),
                    "participant": [part(f"Patient/{p['resource']['id']}", "patient"),
                                    part(CLINICIANS[0].ref, "provider"),
                                    part(LOCATIONS[0].ref, "clinic")],
                })  # fmt: skip

            page.goto(root + "/login/")
            page.fill("#id_username", "frontdesk")
            page.fill("#id_password", "demo-frontdesk-2026!")
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(r".*/$"))
            page.click("nav.app-nav a:has-text('Flow board')")
            page.wait_for_selector("#flow-board")
            resp = page.request.get(root + "/flow/board?location=Location/demo-loc-1")
            assert resp.headers["server-timing"].startswith("board;dur=")
            print("flow board partial:", resp.headers["server-timing"])

            card = page.locator(".flow-card", has_text=family.upper()).first
            assert card.count() == 1
            card_id = card.get_attribute("id")
            card.locator("button:has-text('Check in')").click()
            page.wait_for_selector(".checkin-panel")
            assert "is checked in" in page.inner_text(".checkin-panel")
            sel = f"#{card_id}"
            assert page.locator(f".flow-col-arrived {sel}").count() == 1
            page.locator(f"{sel} a:has-text('Room')").click()
            page.click("button:has-text('Exam 2')")
            page.wait_for_selector(f".flow-col-roomed {sel}")
            assert "Exam 2" in page.inner_text(sel)
            page.locator(f"{sel} button:has-text('With provider')").click()
            page.wait_for_selector(f".flow-col-with-provider {sel}")
            page.locator(f"{sel} button:has-text('Check out')").click()
            page.wait_for_selector(f".flow-col-checked-out {sel}")
            # the second patient is arrived and waiting, to show a waiting card
            second = page.locator(".flow-col-scheduled .flow-card").first
            second.locator("button:has-text('Check in')").click()
            page.wait_for_selector(".checkin-panel")
            # htmx refreshes the board in place
            page.wait_for_timeout(300)
            screenshot(page, "flow-board")

            # the waitlist: type-ahead, pick, add
            page.goto(root + "/flow/waitlist")
            page.fill("#wl-q", family)
            page.wait_for_selector("#wl-patient input[type=radio]")
            page.locator("#wl-patient input[type=radio]").first.check()
            page.select_option("#wl-type", "follow-up")
            page.fill("#wl-notes", "Any morning; can come at short notice")
            page.click("button:has-text('Add to waitlist')")
            page.wait_for_selector(".message-success")
            assert family.upper() in page.inner_text("table.results")
            screenshot(page, "waitlist")

            # the outbox (admin): reminders queued by the check-in / bookings
            page.click("button:has-text('Sign out')")
            page.wait_for_selector("text=You are signed out.")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "demo-admin-2026!")
            page.click("main button[type=submit]")
            page.wait_for_url(lambda url: "/login/" not in url)
            page.goto(root + "/admin/outbox/")
            page.wait_for_selector("table.outbox")
            screenshot(page, "outbox")
