"""Idle log-off, sessions, emergency access, the permission grid, admin screens, demo, CLI."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from ehr.identity import permissions
from ehr.identity.accounts import account_of, principal_for_user
from ehr.identity.demo_accounts import DEMO_USERS, ensure_demo_accounts
from ehr.identity.models import (
    AdminNotification,
    BreakGlassGrant,
    PermissionGeneration,
    RolePermission,
    UserSession,
)
from ehr.identity.permissions import role_allows

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


def test_idle_session_is_ended(make_user, settings):
    make_user("mia", "nurse", demo=True)
    client = Client()
    sign_in(client, "mia")
    assert client.get("/").status_code == 200
    session = client.session
    session["_ehr_last_activity"] = time.time() - settings.EHR_IDLE_TIMEOUT_MINUTES * 60 - 5
    session.save()
    resp = client.get("/admin/users/?x=1")
    assert resp.status_code == 302
    assert resp["Location"] == "/login/?next=%2Fadmin%2Fusers%2F%3Fx%3D1"
    assert "_auth_user_id" not in client.session
    page = client.get(resp["Location"])
    assert b"without activity" in page.content


def test_idle_script_is_loaded_for_signed_in_users(make_user):
    make_user("nia", "nurse", demo=True)
    client = Client()
    sign_in(client, "nia")
    page = client.get("/").content.decode()
    assert 'data-idle-timeout="900"' in page
    assert "identity/idle.js" in page
    assert "<script>" not in page  # no inline script (CSP)


def test_sessions_list_and_sign_out_elsewhere(make_user):
    make_user("omar", "front_desk", demo=True)
    laptop, tablet, phone = Client(), Client(), Client()
    for c in (laptop, tablet, phone):
        sign_in(c, "omar")
    page = laptop.get("/account/sessions/")
    assert len(page.context["rows"]) == 3
    # Sign out one session.
    tablet_key = tablet.session.session_key
    row = UserSession.objects.get(session_key=tablet_key)
    laptop.post("/account/sessions/", {"session": row.pk})
    assert tablet.get("/")["Location"].startswith("/login/")
    assert phone.get("/").status_code == 200
    # Everywhere else.
    laptop.post("/account/sessions/", {"action": "others"})
    assert phone.get("/")["Location"].startswith("/login/")
    assert laptop.get("/").status_code == 200
    assert UserSession.objects.filter(user__username="omar").count() == 1


def test_admin_revokes_sessions_deactivates_and_resets_mfa(make_user, admin_client):
    user = make_user("pia", "nurse")
    account = account_of(user)
    account.mfa_secret, account.mfa_enabled = "JBSWY3DPEHPK3PXP", True
    account.save()
    halfway = Client()
    assert (
        halfway.post("/login/", {"username": "pia", "password": PASSWORD})["Location"]
        == "/login/mfa/"
    )
    admin_client.post(f"/admin/users/{user.pk}/action/", {"action": "reset-mfa"})
    account.refresh_from_db()
    assert not account.mfa_enabled and account.mfa_secret == ""
    assert halfway.get("/login/mfa/")["Location"] == "/login/"  # the half sign-in is void
    staff = Client()
    sign_in(staff, "pia")
    assert UserSession.objects.filter(user=user).count() == 1
    admin_client.post(f"/admin/users/{user.pk}/action/", {"action": "revoke-sessions"})
    assert staff.get("/account/sessions/")["Location"].startswith("/login/")
    admin_client.post(f"/admin/users/{user.pk}/action/", {"action": "deactivate"})
    user.refresh_from_db()
    assert not user.is_active
    resp = Client().post("/login/", {"username": "pia", "password": PASSWORD})
    assert resp.status_code == 200 and "not right" in str(resp.context["form"].non_field_errors())


def test_break_glass_grant_and_expiry(make_user, admin_client, settings):
    settings.EHR_EMAIL_ALERTS = True
    admin = admin_client.user
    admin.email = "admin@example.org"
    admin.save()
    make_user("quinn", "front_desk", demo=True)
    client = Client()
    sign_in(client, "quinn")
    short = client.post("/account/emergency-access/", {"reason": "urgent", "patient": "p9"})
    assert short.status_code == 200 and short.context["form"].errors["reason"]
    assert b"p9" in short.content  # typed values kept
    user = get_user_model().objects.get(username="quinn")
    assert principal_for_user(user).break_glass is False
    resp = client.post(
        "/account/emergency-access/",
        {"reason": "Unconscious patient in the waiting room", "patient": "Patient/p9"},
    )
    assert resp.status_code == 302
    grant = BreakGlassGrant.objects.get(user=user)
    assert grant.patient == "p9"
    assert 59 <= (grant.expires - grant.started).total_seconds() / 60 <= 60
    p = principal_for_user(user)
    assert p.break_glass is True and p.extra["break_glass_patient"] == "p9"
    assert b"Emergency access is on" in client.get("/").content
    # The administrator is told: a notification on the admin home and an email.
    note = AdminNotification.objects.get(kind="break-glass")
    assert "quinn" in note.text and "Unconscious" in note.text
    assert note.text.encode() in admin_client.get("/").content
    assert mail.outbox and mail.outbox[0].to == ["admin@example.org"]
    # It runs out on its own.
    BreakGlassGrant.objects.filter(pk=grant.pk).update(expires=timezone.now() - timedelta(1))
    assert principal_for_user(user).break_glass is False
    # Patients cannot break the glass.
    make_user("rita", "patient")
    patient = Client()
    sign_in(patient, "rita")
    assert patient.get("/account/emergency-access/").status_code == 403


def test_default_permissions():
    assert role_allows("admin", "AuditEvent", "d")
    assert role_allows("provider", "Observation", "c")
    assert role_allows("nurse", "Observation", "u") and not role_allows("nurse", "Observation", "d")
    assert role_allows("front_desk", "Patient", "c") and role_allows("front_desk", "Slot", "s")
    for rtype in ("Observation", "DiagnosticReport", "MedicationRequest", "Composition"):
        assert not role_allows("front_desk", rtype, "r")
    assert role_allows("biller", "Claim", "c") and role_allows("biller", "Encounter", "r")
    assert not role_allows("biller", "Encounter", "u")
    for rtype in ("Observation", "DocumentReference", "Composition"):
        assert not role_allows("biller", rtype, "r")
    assert role_allows("patient", "Observation", "r") and role_allows("patient", "Observation", "s")
    assert not role_allows("patient", "Observation", "c")
    assert role_allows("proxy", "Communication", "c")
    assert not role_allows("nobody", "Patient", "r")
    # Every R4 type is in exactly one group of the grid.
    grouped = [t for _, types in permissions.grouped_types() for t in types]
    assert len(grouped) == len(set(grouped)) == 146


def test_grid_edit_takes_effect_and_is_audited(admin_client):
    assert not role_allows("front_desk", "Observation", "r")
    page = admin_client.get("/admin/roles/?role=front_desk")
    assert page.status_code == 200
    current = {t: a for t, a in permissions.grid_for("front_desk").items()}
    form = {"role": "front_desk"}
    data = [(t, a) for t, acts in current.items() for a in acts] + [("Observation", "r")]
    data = [(t, a) for t, a in data if not (t == "Patient" and a == "c")]
    body = {}
    for t, a in data:
        body.setdefault(t, []).append(a)
    body.update(form)
    resp = admin_client.post("/admin/roles/?role=front_desk", body)
    assert resp.status_code == 302
    assert role_allows("front_desk", "Observation", "r")
    assert not role_allows("front_desk", "Patient", "c")
    assert role_allows("front_desk", "Patient", "u")
    assert RolePermission.objects.get(role="front_desk", resource_type="Patient").actions == "ruse"


def test_other_processes_see_changes_within_a_second(monkeypatch):
    assert role_allows("biller", "Claim", "d") is False
    # Another process changes the grid behind this one's back.
    RolePermission.objects.filter(role="biller", resource_type="Claim").update(actions="crudse")
    PermissionGeneration.objects.filter(pk=1).update(value=99)
    assert role_allows("biller", "Claim", "d") is False  # cached for up to a second
    real = time.monotonic
    monkeypatch.setattr(permissions.time, "monotonic", lambda: real() + 1.5)
    assert role_allows("biller", "Claim", "d") is True


def test_admin_screens_refuse_other_roles(make_user):
    make_user("sam", "provider", demo=True)
    client = Client()
    sign_in(client, "sam")
    for url in ("/admin/users/", "/admin/users/new/", "/admin/roles/"):
        assert client.get(url).status_code == 403
    assert client.post("/admin/roles/?role=provider", {"Patient": ["r"]}).status_code == 403
    assert role_allows("provider", "Patient", "d")


def test_admin_creates_and_edits_users(admin_client):
    bad = admin_client.post(
        "/admin/users/new/",
        {"username": "tess", "role": "patient", "fhir_user": "Practitioner/1",
         "password1": "tess12", "password2": "tess12", "email": "tess@example.org"},
    )  # fmt: skip
    assert bad.status_code == 200
    errors = bad.context["form"].errors
    assert "fhir_user" in errors and "password1" in errors
    assert b"tess@example.org" in bad.content  # nothing typed is lost
    ok = admin_client.post(
        "/admin/users/new/",
        {"username": "tess", "role": "patient", "fhir_user": "Patient/abc",
         "password1": "lantern-velvet-88", "password2": "lantern-velvet-88"},
    )  # fmt: skip
    assert ok.status_code == 302
    tess = get_user_model().objects.get(username="tess")
    assert principal_for_user(tess).patient == "abc"
    admin_client.post(
        f"/admin/users/{tess.pk}/",
        {"role": "proxy", "fhir_user": "RelatedPerson/r1", "proxy_patients": "abc Patient/def"},
    )
    account = account_of(tess)
    account.refresh_from_db()
    assert account.role == "proxy" and account.proxy_patient_ids() == ["abc", "def"]
    assert b"tess" in admin_client.get("/admin/users/").content


def test_demo_accounts_created_and_linked(settings):
    rows = ensure_demo_accounts()
    assert {role for _, _, role in rows} == set(r for r, _ in DEMO_USERS.values())
    assert len(rows) == 7
    users = get_user_model().objects
    provider = account_of(users.get(username="provider"))
    patient = account_of(users.get(username="patient"))
    proxy = account_of(users.get(username="proxy"))
    assert provider.fhir_user.startswith("Practitioner/")
    assert patient.fhir_user.startswith("Patient/")
    assert proxy.fhir_user.startswith("RelatedPerson/")
    assert proxy.proxy_patient_ids() == [patient.fhir_user.split("/")[1]]
    from ehr.fhir.storage import repository

    related = repository.read("RelatedPerson", proxy.fhir_user.split("/")[1]).resource()
    assert related["patient"]["reference"] == patient.fhir_user
    assert ensure_demo_accounts() == rows and users.count() == 7  # idempotent
    for username, password, _ in rows:
        assert users.get(username=username).check_password(password)
    settings.EHR_DEMO = True
    page = Client().get("/login/").content
    assert b"Demo installation" in page and b"demo-admin-2026!" in page
    settings.EHR_DEMO = False
    assert b"Demo installation" not in Client().get("/login/").content


def test_createadmin_command(monkeypatch, capsys):
    from ehr.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["createadmin", "--username", "root", "--password-stdin"]) == 1
    assert "Password refused" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("marble-orchid-staple-41\n"))
    assert main(["createadmin", "--username", "root", "--password-stdin"]) == 0
    account = account_of(get_user_model().objects.get(username="root"))
    assert account.role == "admin" and account.mfa_required and not account.demo
    # First sign-in leads to MFA enrolment.
    client = Client()
    sign_in(client, "root", "marble-orchid-staple-41")
    assert client.get("/admin/users/")["Location"] == "/account/mfa/setup/"
    monkeypatch.setattr("sys.stdin", io.StringIO("lantern-velvet-88\n"))
    code = main(["user", "create", "--username", "doc", "--role", "provider",
                 "--fhir-user", "Practitioner/1", "--password-stdin"])  # fmt: skip
    assert code == 0
    assert account_of(get_user_model().objects.get(username="doc")).fhir_user == "Practitioner/1"
