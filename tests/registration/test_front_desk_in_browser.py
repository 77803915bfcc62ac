"""The front desk's day in real Chromium: find a demo patient despite a typo, open the chart,
register a look-alike (the duplicate warning appears), add primary and secondary coverage,
check the primary coverage's eligibility (the payer simulator answers "active PPO") and upload
an insurance card. Screenshots go to test-output/screens/."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.browser import browser_page, screenshot
from tests.live import ehr, fresh_database, running_server, system_token

from .test_merge_coverage_documents import png

pytestmark = pytest.mark.live


def first_patient(base: str, token: str) -> dict:
    req = urllib.request.Request(
        base + "/Patient?_count=1&gender=female",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)["entry"][0]["resource"]


def typo(name: str) -> str:
    """Swap the 2nd and 3rd letters (Okafor -> Oakfor): one edit."""
    return name[0] + name[2] + name[1] + name[3:] if len(name) > 3 else name + "e"


def test_front_desk_search_chart_register_coverage_documents(tmp_path):
    with fresh_database(tmp_path) as url:
        ehr(url, "migrate")
        ehr(url, "demo-data", "--patients", "5", "--seed", "1")
        token = system_token(url)
        with running_server(url) as base, browser_page() as page:
            root = base.removesuffix("/fhir")
            demo = first_patient(base, token)
            name = next(n for n in demo["name"] if n.get("use", "official") == "official")
            family, given = name["family"], name["given"][0]

            page.goto(root + "/login/")
            page.fill("#id_username", "frontdesk")
            page.fill("#id_password", "demo-frontdesk-2026!")
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(r".*/$"))

            # search from the header with a typo; arrow down and Enter open the chart
            page.click("#patient-q")
            page.keyboard.type(f"{typo(family)} {given}", delay=30)
            page.wait_for_selector("#patient-results [role=option]")
            assert family.upper() in page.inner_text("#patient-results")
            screenshot(page, "search")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r".*/patients/[^/]+/$"))
            banner = page.inner_text(".patient-banner")
            assert family.upper() in banner and "MRN" in banner and "BORN" in banner.upper()
            assert page.locator(".patient-tabs a[aria-current=page]").inner_text() == "Demographics"
            screenshot(page, "chart")

            # register a look-alike: the duplicate warning appears while typing
            page.goto(root + "/patients/new")
            screenshot(page, "registration")
            page.fill("#id_family", family)
            page.fill("#id_given", given)
            y, m, d = demo["birthDate"].split("-")
            page.fill("#id_birth_date", f"{m}/{d}/{y}")
            page.select_option("#id_gender", demo["gender"])
            page.focus("#id_middle")  # leaving the field fires the change event
            page.wait_for_selector("#duplicates .dupe")
            assert "Probable match" in page.inner_text("#duplicates")
            page.fill("#id_phone_mobile", "614 555 0188")
            page.fill("#id_addr1_line1", "5 Willow Ct")
            page.fill("#id_addr1_city", "Columbus")
            page.select_option("#id_addr1_state", "OH")
            page.fill("#id_addr1_postal", "43004")
            page.check("#id_race_4")
            page.check("#id_ethnicity_1")
            page.select_option("#id_language", "en-US")
            screenshot(page, "duplicate-warning")
            page.click("button:has-text('Register patient')")
            # refused until "different person" is ticked; the typed values are still there
            page.wait_for_selector(".error-summary")
            assert page.input_value("#id_addr1_line1") == "5 Willow Ct"
            page.check("#id_not_duplicate")
            page.click("button:has-text('Register patient')")
            page.wait_for_url(re.compile(r".*/patients/[^/]+/$"))
            new_id = page.url.rstrip("/").split("/")[-1]
            assert "Patient registered" in page.inner_text("main")

            # two coverages: primary and secondary
            page.goto(f"{root}/patients/{new_id}/coverage")
            options = page.locator("#id_payer option").all_inner_texts()
            assert len(options) >= 3
            for order, index, kind, member in (
                ("1", 1, "5", "XGP900100"),
                ("2", 2, "1", "1EG4TE5MK72"),
            ):
                page.select_option("#id_order", order)
                page.select_option("#id_payer", index=index)
                page.select_option("#id_kind", kind)
                page.fill("#id_member_id", member)
                page.fill("#id_group_number", "GRP1200" if order == "1" else "")
                page.fill("#id_start", "1/1/2026")
                page.click("button:has-text('Save coverage')")
                page.wait_for_selector(".message-success")
            rows = page.locator("table.results tbody tr").all_inner_texts()
            assert rows[0].startswith("Primary") and rows[1].startswith("Secondary")
            assert page.locator("a:has-text('Check eligibility')").count() == 2
            screenshot(page, "coverage")

            # eligibility of the primary coverage: the simulator answers "active PPO"
            page.locator("table.results tbody tr").first.locator(
                "a:has-text('Check eligibility')"
            ).click()
            page.wait_for_url(re.compile(r".*/eligibility/coverage/[^/]+/$"))
            assert "XGP900100" in page.inner_text("main")
            page.click("button:has-text('Check eligibility now')")
            page.wait_for_selector("section.eligibility")
            answer = page.locator("section.eligibility")
            assert "eligibility-active" in (answer.get_attribute("class") or "")
            assert "Coverage is active" in answer.inner_text()
            benefits = answer.locator("table.results")
            assert "Benefits by service type" in benefits.inner_text()
            assert benefits.locator("tbody tr").count() >= 3
            assert "PPO" in page.inner_text("main")
            screenshot(page, "eligibility")

            # upload an insurance card image
            page.goto(f"{root}/patients/{new_id}/documents")
            page.select_option("#id_kind", "insurance-card-front")
            page.fill("#id_description", "Card front")
            page.set_input_files(
                "#id_file", {"name": "card.png", "mimeType": "image/png", "buffer": png(320, 200)}
            )
            page.click("button:has-text('Store document')")
            page.wait_for_selector(".message-success")
            assert "Insurance card (front)" in page.inner_text("table.results")
            page.wait_for_function(
                "() => (document.querySelector('.doc-thumb') || {}).naturalWidth > 0"
            )
            screenshot(page, "documents")
