"""The administrator's first day, in a real browser: sign in, set up two-step verification,
keep the recovery codes, look at the role grid, the users and the audit report. Screenshots of
each screen go to test-output/screens/."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.browser import browser_page, screenshot
from tests.live import ehr, fresh_database, running_server

pytestmark = pytest.mark.live
PASSWORD = "correct horse battery staple 42"


def test_admin_first_sign_in_with_mfa_then_roles_users_and_audit(tmp_path):
    with fresh_database(tmp_path) as url:
        ehr(url, "migrate")
        ehr(url, "createadmin", "--username", "ada", "--password-stdin",
            input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
        with running_server(url) as base, browser_page() as page:
            root = base.removesuffix("/fhir")
            page.goto(root + "/")
            assert "/login/" in page.url
            screenshot(page, "login")

            # a wrong password: the message sits in the form, the name typed stays
            page.fill("#id_username", "ada")
            page.fill("#id_password", "not the password")
            page.click("main button[type=submit]")
            # the refused form comes back as a new page: wait for it rather than race it
            page.wait_for_selector(".errorlist, .error, [role=alert]", timeout=10_000)
            assert page.input_value("#id_username") == "ada"

            page.fill("#id_password", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(r".*/account/mfa/setup/"))
            assert page.locator(".qr svg").count() == 1
            screenshot(page, "mfa-setup")
            secret = page.inner_text("code.mfa-key").replace(" ", "")
            page.fill("input[name=code]", pyotp.TOTP(secret).now())
            page.click("main button[type=submit]")
            page.wait_for_load_state()
            codes = page.inner_text("main")
            assert "recovery" in codes.lower()
            screenshot(page, "recovery-codes")

            page.goto(root + "/admin/roles/?role=front_desk")
            assert page.locator("table").count() >= 1
            screenshot(page, "roles")
            page.goto(root + "/admin/users/")
            assert "ada" in page.inner_text("main")
            screenshot(page, "users")
            page.goto(root + "/admin/audit/")
            report = page.inner_text("main")
            assert "login" in report and "ada" in report
            screenshot(page, "audit-report")
            page.goto(root + "/account/sessions/")
            screenshot(page, "sessions")

            # signing out ends the session: the admin pages ask for a sign-in again
            page.goto(root + "/")
            page.click("form[action='/logout/'] button")
            page.wait_for_selector("text=You are signed out.")
            page.goto(root + "/admin/users/")
            assert "/login/" in page.url
