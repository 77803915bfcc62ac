"""Passwords, lockout, MFA at sign-in, CSRF and security headers."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from ehr.identity.accounts import account_of, create_user
from ehr.identity.models import LoginThrottle

from .conftest import PASSWORD, enrol, sign_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "password",
    ["short-1!", "123456789012345", "password1234", "alice.walker99"],
    ids=["too-short", "numeric", "common", "like-username"],
)
def test_password_policy_refuses_weak_passwords(password):
    with pytest.raises(ValidationError):
        create_user("alice.walker", "nurse", password=password, email="alice.walker@example.org")
    assert not get_user_model().objects.filter(username="alice.walker").exists()


def test_passwords_are_stored_with_argon2(make_user):
    user = make_user("dana")
    assert user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)


def test_demo_account_signs_in_and_sees_home(make_user):
    make_user("demo-nurse", "nurse", demo=True)
    client = Client()
    resp = sign_in(client, "demo-nurse")
    assert resp.status_code == 302 and resp["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"Sign out" in home.content


def test_signed_out_visitor_goes_to_login():
    resp = Client().get("/admin/users/")
    assert resp.status_code == 302
    assert resp["Location"].startswith("/login/?next=")
    assert Client().get("/")["Location"].startswith("/login/")


def test_wrong_password_message_does_not_reveal_account(make_user):
    make_user("erin", "nurse", demo=True)
    client = Client()
    known = client.post("/login/", {"username": "erin", "password": "wrong-password-1"})
    unknown = client.post("/login/", {"username": "nobody", "password": "wrong-password-1"})
    assert known.status_code == unknown.status_code == 200
    assert known.context["form"].non_field_errors() == unknown.context["form"].non_field_errors()
    assert b"erin" in known.content  # typed username kept
    assert b"wrong-password-1" not in known.content  # the password is never echoed


def test_lockout_after_five_failures_and_its_expiry(make_user):
    make_user("frank", "biller", demo=True)
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "frank", "password": "not-the-password"})
    resp = client.post("/login/", {"username": "frank", "password": PASSWORD})
    assert resp.status_code == 200
    assert "paused" in str(resp.context["form"].non_field_errors())
    assert "_auth_user_id" not in client.session
    # A name that does not exist is locked the same way.
    for _ in range(5):
        client.post("/login/", {"username": "ghost", "password": "not-the-password"})
    ghost = client.post("/login/", {"username": "ghost", "password": "x"})
    assert "paused" in str(ghost.context["form"].non_field_errors())
    # Fifteen minutes later the lock is over.
    LoginThrottle.objects.filter(key="user:frank").update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    resp = sign_in(client, "frank")
    assert resp.status_code == 302
    assert not LoginThrottle.objects.filter(key="user:frank").exists()


def test_per_address_rate_limit(make_user, settings):
    settings.EHR_LOGIN_IP_MAX_FAILURES = 3
    make_user("gina", "nurse", demo=True)
    client = Client()
    for i in range(3):
        client.post("/login/", {"username": f"someone{i}", "password": "x"})
    resp = client.post("/login/", {"username": "gina", "password": PASSWORD})
    assert "paused" in str(resp.context["form"].non_field_errors())


def test_staff_must_enrol_in_mfa_then_sign_in_with_codes(make_user):
    make_user("hana", "provider")  # a real (non-demo) staff account
    client = Client()
    assert sign_in(client, "hana")["Location"] == "/"
    # Every page leads to enrolment until it is done.
    assert client.get("/")["Location"] == "/account/mfa/setup/"
    page = client.get("/account/mfa/setup/")
    assert page.status_code == 200 and b"<svg" in page.content
    secret = client.session["_ehr_mfa_setup_secret"]
    bad = client.post("/account/mfa/setup/", {"code": "000000"})
    assert bad.status_code == 200 and bad.context["form"].errors["code"]
    done = client.post("/account/mfa/setup/", {"code": pyotp.TOTP(secret).now()})
    assert done["Location"] == "/account/mfa/recovery-codes/"
    codes_page = client.get("/account/mfa/recovery-codes/")
    codes = codes_page.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    # Shown once only.
    assert client.get("/account/mfa/recovery-codes/").status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")

    # Password alone is not enough now.
    client = Client()
    resp = client.post("/login/", {"username": "hana", "password": PASSWORD})
    assert resp["Location"] == "/login/mfa/"
    assert client.get("/")["Location"].startswith("/login/")
    wrong = client.post("/login/mfa/", {"code": "123456"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    # A recovery code works once.
    ok = client.post("/login/mfa/", {"code": codes[0]})
    assert ok["Location"] == "/" and client.session["_auth_user_id"]
    client.post("/logout/")
    client = Client()
    client.post("/login/", {"username": "hana", "password": PASSWORD})
    again = client.post("/login/mfa/", {"code": codes[0]})
    assert again.status_code == 200 and "_auth_user_id" not in client.session
    assert client.post("/login/mfa/", {"code": codes[1].upper()})["Location"] == "/"


def test_totp_code_cannot_be_replayed(make_user):
    user = make_user("ivan", "nurse")
    secret = enrol(user)
    first = Client()
    sign_in(first, "ivan", secret=secret)
    assert first.session["_auth_user_id"]
    second = Client()
    second.post("/login/", {"username": "ivan", "password": PASSWORD})
    replay = second.post("/login/mfa/", {"code": pyotp.TOTP(secret).now()})
    assert replay.status_code == 200 and "_auth_user_id" not in second.session
    assert account_of(user).mfa_enabled


def test_csrf_is_enforced_on_forms(make_user):
    make_user("jo", "nurse", demo=True)
    client = Client(enforce_csrf_checks=True)
    refused = client.post("/login/", {"username": "jo", "password": PASSWORD})
    assert refused.status_code == 403
    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    resp = client.post(
        "/login/", {"username": "jo", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert resp.status_code == 302
    assert client.post("/logout/").status_code == 403  # sign-out is a form too


def test_logout_needs_post(make_user):
    make_user("kim", "nurse", demo=True)
    client = Client()
    sign_in(client, "kim")
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/")["Location"].startswith("/login/")


def test_security_headers():
    resp = Client().get("/login/")
    assert resp["X-Frame-Options"] == "DENY"
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["Referrer-Policy"] == "same-origin"
    csp = resp["Content-Security-Policy"]
    for part in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"):
        assert part in csp
    assert resp.cookies["csrftoken"]["samesite"] == "Lax"


def test_https_requests_get_secure_cookies_and_hsts(make_user, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    make_user("lee", "nurse", demo=True)
    client = Client()
    resp = client.post("/login/", {"username": "lee", "password": PASSWORD}, secure=True)
    assert resp.cookies["sessionid"]["secure"] is True
    assert resp.cookies["sessionid"]["httponly"] is True
    assert "max-age=3600" in resp["Strict-Transport-Security"]
