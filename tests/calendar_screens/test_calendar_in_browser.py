"""The appointment book in real Chromium: the front desk opens the views, books a weekly series
of five visits, drags one occurrence to another time, confirms "this one", and exactly that
occurrence moves. Screenshots go to test-output/screens/."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from datetime import date, timedelta

import pytest

from tests.browser import browser_page, screenshot
from tests.live import ehr, fresh_database, running_server, system_token

pytestmark = pytest.mark.live

DOCTOR = "Practitioner/demo-pract-3"  # works full days Monday to Friday in the demo practice


def api(base: str, token: str, path: str) -> dict:
    req = urllib.request.Request(
        base + path,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def column_point(page, day: str, minutes: int, offset: float = 2) -> dict:
    """Page coordinates of a time in the week view's column for ``day``."""
    return page.evaluate(
        """([day, minutes, offset]) => {
            const cal = document.getElementById("calendar");
            const col = cal.querySelector(`.cal-col[data-date="${day}"]`);
            const r = col.getBoundingClientRect();
            const rowPx = r.height / parseInt(cal.dataset.rows, 10);
            const y = (minutes - parseInt(cal.dataset.dayStart, 10)) / 5 * rowPx + offset;
            return {x: r.width / 2, y: y, absX: r.left + r.width / 2, absY: r.top + y};
        }""",
        [day, minutes, offset],
    )


def test_front_desk_books_a_series_and_drags_one_occurrence(tmp_path):
    with fresh_database(tmp_path) as url:
        ehr(url, "migrate")
        ehr(url, "demo-data", "--patients", "8", "--seed", "1")
        token = system_token(url)
        with running_server(url) as base, browser_page(viewport=(1400, 900)) as page:
            root = base.removesuffix("/fhir")
            patient = api(base, token, "/Patient?_count=1&gender=male")["entry"][0]["resource"]
            family = next(n for n in patient["name"] if n.get("use", "official") == "official")[
                "family"
            ]

            page.goto(root + "/login/")
            page.fill("#id_username", "frontdesk")
            page.fill("#id_password", "demo-frontdesk-2026!")
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(r".*/$"))
            page.click("nav.app-nav a:has-text('Schedule')")
            page.wait_for_selector("#calendar")

            # the views, on next week's seeded appointments
            today = date.today()
            seeded = today - timedelta(days=today.weekday()) + timedelta(days=7)
            q = urllib.parse.urlencode({"date": seeded.isoformat(), "provider": DOCTOR})
            page.goto(f"{root}/schedule/?{q}")
            assert page.locator(".appt").count() >= 1
            screenshot(page, "day-view")
            page.goto(f"{root}/schedule/providers/?date={seeded.isoformat()}")
            assert page.locator(".cal-col").count() >= 4
            screenshot(page, "multi-provider-day")
            page.goto(f"{root}/schedule/month/?{q}")
            assert page.locator(".appt-chip").count() >= 5
            screenshot(page, "month-view")
            page.goto(f"{root}/schedule/week/?{q}")
            assert page.locator(".appt").count() >= 5
            screenshot(page, "week-view")

            # a week with free time: click Monday 10:00 to book there (a tall window keeps
            # the whole form and the sticky action bar apart in the screenshots)
            page.set_viewport_size({"width": 1400, "height": 2000})
            monday = today - timedelta(days=today.weekday()) + timedelta(days=28)
            q = urllib.parse.urlencode({"date": monday.isoformat(), "provider": DOCTOR})
            page.goto(f"{root}/schedule/week/?{q}")
            pt = column_point(page, monday.isoformat(), 10 * 60)
            page.mouse.click(pt["absX"], pt["absY"])
            page.wait_for_url(re.compile(r".*/schedule/book/.*"))
            assert page.input_value("#id_start_time") == "10:00"
            assert page.input_value("#id_day") == monday.isoformat()
            page.fill("#book-patient-q", family)
            page.wait_for_selector("#patient-options input[name=patient]")
            page.locator("#patient-options input[name=patient]").first.check()
            page.select_option("#id_appointment_type", "follow-up")
            assert page.input_value("#id_end_time") == "10:20"
            page.select_option("#id_repeat", "weekly")
            page.fill("#id_count", "5")
            page.focus("#id_comment")
            page.wait_for_selector("#repeat-words:has-text('5 visits')")
            assert "Every week on Monday at 10:00, 5 visits" in page.inner_text("#repeat-words")
            screenshot(page, "booking")
            page.click("button:has-text('Book')")
            page.wait_for_url(re.compile(r".*/schedule/appointment/[^/]+/$"))
            assert "Booked 5 visits" in page.inner_text("main")

            # a clash: another patient at the same time is refused with the booking shown
            page.goto(f"{root}/schedule/book/?start={monday.isoformat()}T10:00&provider={DOCTOR}")
            other = api(base, token, "/Patient?_count=1&gender=female")["entry"][0]["resource"]
            page.fill("#book-patient-q", other["name"][0]["family"])
            page.wait_for_selector("#patient-options input[name=patient]")
            page.locator("#patient-options input[name=patient]").first.check()
            page.select_option("#id_appointment_type", "follow-up")
            page.click("button:has-text('Book')")
            page.wait_for_selector(".conflict")
            assert family.upper() in page.inner_text(".conflict")
            assert page.locator(".conflict button[name=pick]").count() >= 1
            screenshot(page, "conflict")

            # drag Monday's occurrence to 14:00; the dialog asks; "this one"; Move
            page.goto(f"{root}/schedule/week/?{q}")
            block = page.locator(f'.cal-col[data-date="{monday.isoformat()}"] .appt').first
            box = block.bounding_box()
            target = column_point(page, monday.isoformat(), 14 * 60, box["height"] / 2)
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(target["absX"], target["absY"], steps=12)
            page.mouse.up()
            page.wait_for_selector("#move-dialog[open]")
            assert "14:00–14:20" in page.inner_text("#move-when")
            assert page.is_visible("#move-scope")
            page.check("#move-dialog input[name=scope][value=this]")
            screenshot(page, "drag-confirm")
            with page.expect_navigation():
                page.click("#move-ok")
            page.wait_for_selector("#calendar")

            found = api(
                base, token,
                f"/Appointment?patient=Patient/{patient['id']}&date=ge{monday.isoformat()}"
                "&_count=100",
            )  # fmt: skip
            occ = [
                e["resource"]
                for e in found.get("entry", [])
                if e["resource"].get("supportingInformation")
            ]
            assert len(occ) == 5
            times = sorted((a["start"][:10], a["start"][11:16]) for a in occ)
            assert times[0] == (monday.isoformat(), "14:00")
            assert [t for _, t in times[1:]] == ["10:00"] * 4
            assert [d for d, _ in times] == [
                (monday + timedelta(weeks=i)).isoformat() for i in range(5)
            ]
