"""The events calendar in real Chromium, signed in as the demo front desk: create a three-day
conference for a provider through the form, see it across three days of the month grid, open
the day's list, the event page and the upcoming list, create a feed token and subscribe to the
provider's feed shown on the page (fetched with urllib, parsed with ``icalendar``).
Screenshots go to test-output/screens/."""

from __future__ import annotations

import re
import urllib.request
from datetime import date, timedelta

import icalendar
import pytest

from tests.browser import browser_page, screenshot
from tests.live import ehr, fresh_database, running_server

pytestmark = pytest.mark.live


def test_conference_month_day_feed_in_browser(tmp_path):
    today = date.today()
    monday = today + timedelta(days=21 + (7 - today.weekday()) % 7)  # Mon, three weeks out
    last = monday + timedelta(days=2)
    with fresh_database(tmp_path) as url:
        ehr(url, "migrate")
        ehr(url, "demo-data", "--patients", "8", "--seed", "1")
        with running_server(url) as base, browser_page() as page:
            root = base.removesuffix("/fhir")
            page.goto(root + "/login/")
            page.fill("#id_username", "frontdesk")
            page.fill("#id_password", "demo-frontdesk-2026!")
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(r".*/$"))

            # the nav leads to the month grid
            page.click("nav.app-nav a:has-text('Events')")
            page.wait_for_url(re.compile(r".*/events/$"))
            assert page.locator("td.ev-today").count() == 1

            # create a three-day conference for the first provider
            page.click("a:has-text('New event')")
            page.wait_for_selector("#id_title")
            page.fill("#id_title", "Regional primary care conference")
            page.select_option("#id_kind", "conference")
            page.check("#id_all_day")
            page.fill("#id_start_date", monday.isoformat())
            page.fill("#id_end_date", last.isoformat())
            page.fill(
                "#id_description",
                "Three days of talks and workshops on chronic care management, vaccination "
                "updates and practice operations. Badges at the registration desk from 7:30.",
            )
            first = page.locator("input[name=attendees]").first
            provider_id = first.get_attribute("value")
            provider_name = page.locator(f"label[for='{first.get_attribute('id')}']").inner_text()
            first.check()
            screenshot(page, "event-form")
            page.click("button:has-text('Create event')")
            page.wait_for_url(re.compile(r".*/events/[^/]+/$"))
            main = page.inner_text("main")
            assert "Event created" in main and "Regional primary care conference" in main
            assert provider_name.strip() in page.inner_text(".ev-blocks")
            screenshot(page, "event-page")

            # the month grid shows it on three days
            page.goto(f"{root}/events/?month={monday:%Y-%m}")
            covered = page.locator("td.ev-cell:has(a:has-text('Regional primary care conference'))")
            dates = sorted(covered.evaluate_all("cells => cells.map(c => c.dataset.date)"))
            assert dates == [(monday + timedelta(days=i)).isoformat() for i in range(3)]
            screenshot(page, "events-month")

            # the month picker works
            page.select_option("#pick-m", "1")
            page.fill("#pick-y", str(monday.year + 1))
            page.click(".ev-picker button")
            page.wait_for_selector(f"h1:has-text('January {monday.year + 1}')")
            page.go_back()

            # the day list from the day number
            tuesday = monday + timedelta(days=1)
            page.click(f"td[data-date='{tuesday.isoformat()}'] a.ev-daynum")
            page.wait_for_url(re.compile(rf".*/events/day/{tuesday.isoformat()}$"))
            assert f"Events on {tuesday.isoformat()}" in page.inner_text("h1")
            day_text = page.inner_text("main")
            assert "Regional primary care conference" in day_text and "day 2 of 3" in day_text
            assert provider_name.strip() in day_text
            screenshot(page, "events-day")

            page.goto(root + "/events/upcoming")
            assert "Regional primary care conference" in page.inner_text("main")
            assert "…" in page.inner_text(".ev-up-item:has-text('Regional primary care')")
            screenshot(page, "events-upcoming")

            # a feed token; subscribe to the provider's feed shown on the page
            page.goto(root + "/events/feeds")
            page.fill("#id_label", "Phone calendar")
            page.click("button:has-text('Create token')")
            page.wait_for_selector(".ev-new-token")
            urls = page.locator("input.ev-url").evaluate_all("els => els.map(e => e.value)")
            feed_url = next(u for u in urls if f"/calendar/provider/{provider_id}.ics?token=" in u)
            page.click(".ev-new-token button[data-copy]")
            screenshot(page, "feeds")
            with urllib.request.urlopen(feed_url, timeout=30) as resp:
                assert resp.headers["Content-Type"].startswith("text/calendar")
                vcal = icalendar.Calendar.from_ical(resp.read())
            found = [
                ve for ve in vcal.walk("VEVENT")
                if str(ve.get("summary")) == "Regional primary care conference"
            ]  # fmt: skip
            assert len(found) == 1
            assert found[0].decoded("dtstart") == monday
            assert found[0].decoded("dtend") == last + timedelta(days=1)
