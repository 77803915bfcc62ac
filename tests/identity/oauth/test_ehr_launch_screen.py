"""EHR launch from the staff screens: find the patient on the Apps screen, open the app, and
the app's authorization request resolves the launch to that patient."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from ehr.fhir.storage import repository as repo
from ehr.identity.accounts import create_user
from ehr.identity.oauth.clients import create_client


@pytest.mark.django_db
def test_staff_open_an_app_for_a_patient_from_the_apps_screen(client):
    pid = repo.create(
        {"resourceType": "Patient", "name": [{"family": "Lindqvist", "given": ["Maja"]}]}
    ).id
    repo.create({"resourceType": "Patient", "name": [{"family": "Osei", "given": ["Kofi"]}]})
    app, _ = create_client(
        name="Growth Charts",
        client_type="public",
        redirect_uris=["https://apps.example/cb"],
        scopes="launch openid fhirUser patient/*.rs",
        launch_url="https://apps.example/launch",
    )
    user = create_user("dr-ann", "provider", check_policy=False, demo=True)  # no MFA step
    client.force_login(user)

    page = client.get("/apps/", {"name": "x"})
    assert "at least two letters" in page.content.decode()
    page = client.get("/apps/", {"name": "lindq"})
    html = page.content.decode()
    assert page.status_code == 200 and "Lindqvist" in html and "Osei" not in html
    assert "Growth Charts" in html

    opened = client.post("/oauth/launch", {"client_id": app.client_id, "patient": pid})
    assert opened.status_code == 302
    target = urlsplit(opened["Location"])
    assert target.netloc == "apps.example" and target.path == "/launch"
    query = parse_qs(target.query)
    assert query["iss"] == ["http://testserver/fhir"] and query["launch"][0]


@pytest.mark.django_db
def test_patients_and_signed_out_people_cannot_use_the_apps_screen(client):
    assert client.get("/apps/").status_code == 302  # to the sign-in page
    user = create_user("pat", "patient", check_policy=False)
    client.force_login(user)
    assert client.get("/apps/").status_code == 403
