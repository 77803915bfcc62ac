"""The /admin/clients/ screens and the ``ehr client create`` / ``ehr token`` commands."""

from __future__ import annotations

import argparse
import json

import pytest
from django.test import Client as Browser

from ehr.identity.oauth.bearer import authenticate_bearer
from ehr.identity.oauth.cli import cmd_client_create, cmd_token
from ehr.identity.oauth.models import Client

pytestmark = pytest.mark.django_db


def test_admin_registers_edits_and_deactivates(person):
    browser = Browser()
    browser.force_login(person("nurse1", "nurse"))
    assert browser.get("/admin/clients/").status_code == 403
    browser.force_login(person("root", "admin"))
    bad = browser.post("/admin/clients/new", {"name": "X", "client_type": "public",
                                               "allowed_scopes": "patient/Obs.zz"})  # fmt: skip
    assert bad.status_code == 200 and b"permissions must be" in bad.content
    resp = browser.post(
        "/admin/clients/new",
        {"name": "Portal app", "client_type": "confidential",
         "redirect_uris": "https://p.example/cb", "allowed_scopes": "launch/patient patient/*.rs"},
    )  # fmt: skip
    assert b"Client secret" in resp.content
    client = Client.objects.get(name="Portal app")
    assert client.token_endpoint_auth_method == "client_secret_basic" and client.secret_hash
    resp = browser.post(
        f"/admin/clients/{client.pk}/",
        {"name": "Portal", "client_type": "confidential", "token_endpoint_auth_method":
         "client_secret_basic", "redirect_uris": "https://p.example/cb\nhttps://p.example/cb2",
         "allowed_scopes": "patient/*.rs"},
    )  # fmt: skip
    assert resp.status_code == 302
    client.refresh_from_db()
    assert client.redirect_uris == ["https://p.example/cb", "https://p.example/cb2"]
    browser.post(f"/admin/clients/{client.pk}/active", {"active": "0"})
    client.refresh_from_db()
    assert not client.active
    assert b"Deactivated" in browser.get("/admin/clients/").content


def _ns(**kw) -> argparse.Namespace:
    return argparse.Namespace(**kw)


def test_cli_client_create_and_token(person, tmp_path, capsys):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": []}))
    assert cmd_client_create(_ns(
        name="Exporter", type="confidential", redirect_uri=[], scope=["system/*.rs"],
        auth_method=None, jwks_url="", jwks_file=str(jwks), launch_url="",
    )) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("client_id: ") and "client_secret" not in out
    assert Client.objects.get(name="Exporter").token_endpoint_auth_method == "private_key_jwt"

    assert cmd_client_create(_ns(
        name="Bad", type="public", redirect_uri=["ftp://x"], scope=["user/*.rs"],
        auth_method=None, jwks_url="", jwks_file=None, launch_url="",
    )) == 2  # fmt: skip

    person("admin1", "admin")
    person("doc1", "provider")
    base = dict(scope="user/*.rs", patient="", client=None, minutes=10, system=False)
    assert cmd_token(_ns(user="doc1", **base)) == 2
    assert "only administrators" in capsys.readouterr().err
    assert cmd_token(_ns(user="admin1", **base)) == 0
    who = authenticate_bearer("Bearer " + capsys.readouterr().out.strip())
    assert who.username == "admin1" and who.role == "admin"
    system = dict(base, scope="system/Patient.rs", system=True)
    assert cmd_token(_ns(user=None, **system)) == 0
    assert authenticate_bearer("Bearer " + capsys.readouterr().out.strip()).kind == "system"
    assert cmd_token(_ns(user=None, **dict(system, scope="user/*.rs"))) == 2
