"""The administrator in real Chromium: open a provider's weekly hours, add a shift (an
overlapping one is refused beside the field), look at time off and visit types. Screenshots
``schedule-hours``, ``schedule-exceptions`` and ``schedule-types`` go to test-output/screens/."""

from __future__ import annotations

import re

import pytest

from tests.browser import browser_page, screenshot
from tests.live import ehr, fresh_database, running_server

pytestmark = pytest.mark.live


def test_admin_edits_weekly_hours(tmp_path):
    with fresh_database(tmp_path) as url:
        ehr(url, "migrate")
        ehr(url, "demo-data", "--patients", "2", "--seed", "1")
        with running_server(url) as base, browser_page() as page:
            root = base.removesuffix("/fhir")
            page.goto(root + "/login/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "demo-admin-2026!")
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(r".*/$"))

            page.click("nav.app-nav a:has-text('Schedule settings')")
            page.wait_for_url(re.compile(r".*/admin/schedule/$"))
            page.locator("#pick-actor optgroup[label=Providers] option").first.wait_for(
                state="attached"
            )
            ref = page.locator("#pick-actor optgroup[label=Providers] option").first.get_attribute(
                "value"
            )
            page.select_option("#pick-actor", ref)
            page.click("form.ss-pick button[type=submit]")
            page.wait_for_url(re.compile(r".*/admin/schedule/hours/\?actor=.*"))

            # Sunday is free in the demo; add an evening shift, then an overlapping one
            page.click("a:has-text('Add shift on Sunday')")
            assert page.input_value("#id_weekday") == "6"
            page.fill("#id_start", "18:00")
            page.fill("#id_end", "20:00")
            page.select_option("#id_location", index=1)
            page.click("button:has-text('Add shift')")
            page.wait_for_selector(".message-success")
            assert "Sunday 18:00–20:00" in page.inner_text(".messages")
            page.select_option("#id_weekday", "6")
            page.fill("#id_start", "19:00")
            page.fill("#id_end", "21:00")
            page.select_option("#id_location", index=1)
            page.click("button:has-text('Add shift')")
            page.wait_for_selector("#id_start_error")
            assert "Overlaps the Sunday shift 18:00–20:00" in page.inner_text("#id_start_error")
            assert page.input_value("#id_end") == "21:00"
            screenshot(page, "schedule-hours")

            page.click("nav.ss-tabs a:has-text('Time off')")
            page.wait_for_selector("form.card #id_start_date")
            screenshot(page, "schedule-exceptions")
            page.click("nav.ss-tabs a:has-text('Visit types')")
            page.wait_for_selector("input[type=color]")
            screenshot(page, "schedule-types")
