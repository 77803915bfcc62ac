"""End to end with the public ``fhirclient`` library against the real server process."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
import requests

from tests.live import ehr, fresh_database, running_server, system_token

fhirclient = pytest.importorskip("fhirclient.client")
pytestmark = pytest.mark.live

REDIRECT = "http://app.example/callback"
PASSWORD = "Tall-giraffe-sings-42!"


def _csrf(session: requests.Session, html: str) -> str:
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return m.group(1) if m else session.cookies.get("csrftoken", "")


def _follow_until_app(session: requests.Session, url: str) -> requests.Response:
    """Follow redirects on the EHR, stopping when one points at the app."""
    for _ in range(10):
        resp = session.get(url, allow_redirects=False)
        if resp.status_code not in (301, 302, 303):
            return resp
        url = urljoin(url, resp.headers["Location"])
        if url.startswith(REDIRECT):
            raise _Arrived(url)
    raise AssertionError("too many redirects")


class _Arrived(Exception):
    def __init__(self, url: str):
        self.url = url


def test_patient_standalone_launch_with_fhirclient(tmp_path):
    with fresh_database(tmp_path) as url:
        ehr(url, "migrate")
        with running_server(url) as base:
            http = requests.Session()
            assert http.get(base.replace("/fhir", "/login/")).status_code == 200
            admin = {"Authorization": f"Bearer {system_token(url)}"}
            ids = []
            for family in ("Haddad", "Okafor"):
                created = http.post(
                    f"{base}/Patient",
                    json={"resourceType": "Patient", "name": [{"family": family}]},
                    headers={"Content-Type": "application/fhir+json", **admin},
                )
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            pid, other = ids
            ehr(url, "user", "create", "--username", "sami", "--role", "patient",
                "--fhir-user", f"Patient/{pid}", "--password-stdin",
                input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
            scope = "launch/patient openid fhirUser patient/*.rs offline_access"
            out = ehr(url, "client", "create", "--name", "Growth Charts", "--type", "public",
                      "--redirect-uri", REDIRECT, "--scope", scope).stdout  # fmt: skip
            client_id = re.search(r"client_id: (\S+)", out).group(1)

            settings = {
                "app_id": client_id,
                "api_base": base,
                "redirect_uri": REDIRECT,
                "scope": "launch/patient openid fhirUser patient/*.rs offline_access",
            }
            # fhirclient finds the endpoints in /metadata (the SMART security extension).
            smart = fhirclient.FHIRClient(settings=settings)
            authorize_url = smart.authorize_url
            assert "code_challenge" in authorize_url

            browser = requests.Session()
            try:
                page = _follow_until_app(browser, authorize_url)
                assert "/login/" in page.url, page.url
                login = browser.post(
                    page.url,
                    data={"username": "sami", "password": PASSWORD,
                          "csrfmiddlewaretoken": _csrf(browser, page.text),
                          "next": re.search(r'name="next" value="([^"]*)"', page.text).group(1)
                          .replace("&amp;", "&")},
                    headers={"Referer": page.url},
                    allow_redirects=False,
                )  # fmt: skip
                assert login.status_code == 302, login.text[:500]
                approval = _follow_until_app(browser, urljoin(page.url, login.headers["Location"]))
                assert "Growth Charts" in approval.text
                rid = re.search(r'name="rid" value="([^"]+)"', approval.text).group(1)
                scopes = re.findall(r'name="scope" value="([^"]+)"', approval.text)
                done = browser.post(
                    urljoin(approval.url, "/oauth/authorize/decide"),
                    data={"rid": rid, "decision": "approve", "scope": scopes,
                          "csrfmiddlewaretoken": _csrf(browser, approval.text)},
                    headers={"Referer": approval.url},
                    allow_redirects=False,
                )  # fmt: skip
                assert done.status_code == 302, done.text[:500]
                callback = done.headers["Location"]
            except _Arrived as arrived:
                callback = arrived.url
            assert callback.startswith(REDIRECT) and "code=" in callback

            smart.handle_callback(callback)
            assert smart.patient_id == pid
            assert smart.launch_context["patient"] == pid
            assert smart.server.auth.refresh_token
            token = smart.server.auth.access_token
            info = requests.post(
                base.replace("/fhir", "/oauth/introspect"),
                data={"token": token},
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            assert info["active"] and info["patient"] == pid and info["username"] == "sami"
            assert info["fhirUser"] == f"{base}/Patient/{pid}"

            # The app reads its patient through fhirclient; the other patient stays out of reach.
            assert smart.patient.name[0].family == "Haddad"
            bearer = {"Authorization": f"Bearer {token}"}
            assert requests.get(f"{base}/Patient/{other}", headers=bearer).status_code == 403
            found = requests.get(f"{base}/Patient", headers=bearer).json()
            assert [e["resource"]["id"] for e in found["entry"]] == [pid]
            assert requests.get(f"{base}/Patient/{pid}").status_code == 401
