"""A newcomer's session: the real server process and a real FHIR client library (fhirpy)."""

from __future__ import annotations

import httpx
import pytest
from fhirpy import SyncFHIRClient

from tests.live import ehr, fresh_database, running_server, system_token

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    with fresh_database(tmp) as url:
        ehr(url, "migrate")
        token = system_token(url)
        with running_server(url) as base:
            yield base, token


@pytest.fixture(scope="module")
def base_url(server):
    return server[0]


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(headers={"Authorization": f"Bearer {server[1]}"}) as client:
        yield client


@pytest.fixture(scope="module")
def fhirpy_client(server):
    return SyncFHIRClient(server[0], authorization=f"Bearer {server[1]}")


def test_create_read_update_search_delete_history_with_fhirpy(base_url, http, fhirpy_client):
    client = fhirpy_client
    patient = client.resource(
        "Patient",
        identifier=[{"system": "http://clinic.example/mrn", "value": "MRN-77"}],
        name=[{"family": "Haddad", "given": ["Sami"]}],
        gender="male",
        birthDate="1970-05-01",
    )
    patient.save()
    assert patient.id and patient["meta"]["versionId"] == "1"

    fetched = client.reference("Patient", patient.id).to_resource()
    assert fetched["name"][0]["family"] == "Haddad"

    fetched["gender"] = "other"
    fetched.save()
    assert fetched["meta"]["versionId"] == "2"

    found = (
        client.resources("Patient").search(identifier="http://clinic.example/mrn|MRN-77").fetch()
    )
    assert [p.id for p in found] == [patient.id]
    assert found[0]["gender"] == "other"

    fetched.delete()
    gone = http.get(f"{base_url}/Patient/{patient.id}")
    assert gone.status_code == 410
    history = http.get(f"{base_url}/Patient/{patient.id}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "PUT", "POST"]


def test_metadata_and_http_headers(base_url, http):
    meta = http.get(f"{base_url}/metadata")
    assert meta.status_code == 200
    assert meta.headers["content-type"].startswith("application/fhir+json")
    created = http.post(
        f"{base_url}/Patient",
        content=b'{"resourceType":"Patient","active":true}',
        headers={"Content-Type": "application/fhir+json"},
    )
    assert created.status_code == 201
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["location"].startswith(f"{base_url}/Patient/")
    read = http.get(
        created.headers["location"].split("/_history")[0], headers={"If-None-Match": 'W/"1"'}
    )
    assert read.status_code == 304


def test_concurrent_writes_commit_together_and_failures_stay_apart(base_url, http, server):
    """Many clients writing at once: every success is stored, no failure leaks into others."""
    from concurrent.futures import ThreadPoolExecutor

    tag = "conc-" + str(id(base_url))

    def work(i: int) -> tuple[int, int]:
        with httpx.Client(headers={"Authorization": f"Bearer {server[1]}"}) as http:
            good = http.post(
                f"{base_url}/Patient",
                json={"resourceType": "Patient", "identifier": [{"system": tag, "value": str(i)}]},
                headers={"Content-Type": "application/fhir+json"},
            )
            bad = http.put(
                f"{base_url}/Patient/conc-{i}",
                json={"resourceType": "Patient", "id": "someone-else"},
                headers={"Content-Type": "application/fhir+json"},
            )
            return good.status_code, bad.status_code

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(work, range(200)))
    assert all(r == (201, 400) for r in results)
    found = http.get(f"{base_url}/Patient", params={"identifier": f"{tag}|7"}).json()
    assert found["total"] == 1
    for i in (0, 99, 199):
        assert http.get(f"{base_url}/Patient/conc-{i}").status_code == 404
    everything = http.get(f"{base_url}/Patient", params={"_count": 0}).json()
    assert everything["total"] >= 200
