"""Transaction and batch Bundles posted to the server base."""

from __future__ import annotations

import json

from tests.conftest import SYNTHEA, row_counts

PAT_URN = "urn:uuid:7a3f1c2e-0b8d-4d53-9a61-2f6c1e0d9b11"


def _transaction(*entries):
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def _patient_entry(**extra):
    return {
        "fullUrl": PAT_URN,
        "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:mrn", "value": "T-1"}],
            "name": [{"family": "Okafor"}],
        },
        "request": {"method": "POST", "url": "Patient", **extra},
    }


def _obs_entry(subject=PAT_URN):
    return {
        "fullUrl": "urn:uuid:0d0e4c8a-2f43-4c59-8e8a-1b3c9a6f2e22",
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": subject},
            "valueQuantity": {
                "value": 72,
                "unit": "/min",
                "system": "http://unitsofmeasure.org",
                "code": "/min",
            },
        },
        "request": {"method": "POST", "url": "Observation"},
    }


def test_transaction_resolves_urn_references_and_reports_every_entry(fhir):
    resp = fhir.post("", _transaction(_obs_entry(), _patient_entry()))
    assert resp.status == 200, resp.body
    bundle = resp.json()
    assert bundle["type"] == "transaction-response"
    obs_resp, pat_resp = bundle["entry"]
    for entry in bundle["entry"]:
        assert entry["response"]["status"] == "201 Created"
        assert entry["response"]["etag"] == 'W/"1"'
        assert entry["response"]["location"].startswith("http://testserver/fhir/")
        assert entry["response"]["lastModified"]
    pid = pat_resp["response"]["location"].split("/")[-3]
    obs_id = obs_resp["response"]["location"].split("/")[-3]
    obs = fhir.get(f"Observation/{obs_id}").json()
    assert obs["subject"]["reference"] == f"Patient/{pid}"


def test_a_bad_entry_leaves_the_database_unchanged(fhir):
    fhir.post("", _transaction(_patient_entry()))
    before = row_counts()
    bad = {"resource": {"resourceType": "Unicorn"}, "request": {"method": "POST", "url": "Unicorn"}}
    resp = fhir.post("", _transaction(_patient_entry(), _obs_entry(), bad))
    assert resp.status == 404
    outcome = resp.json()
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[2]"]
    assert "Bundle.entry[2]" in outcome["issue"][0]["diagnostics"]
    assert row_counts() == before


def test_an_unresolvable_urn_reference_fails_the_transaction(fhir):
    before = row_counts()
    resp = fhir.post("", _transaction(_obs_entry("urn:uuid:00000000-0000-0000-0000-000000000000")))
    assert resp.status == 400
    assert "does not match the fullUrl" in resp.json()["issue"][0]["diagnostics"]
    assert row_counts() == before


def test_conditional_create_and_conditional_references_in_a_transaction(fhir):
    first = fhir.post("", _transaction(_patient_entry(ifNoneExist="identifier=urn:mrn|T-1")))
    pid = first.json()["entry"][0]["response"]["location"].split("/")[-3]
    again = fhir.post(
        "", _transaction(_patient_entry(ifNoneExist="identifier=urn:mrn|T-1"), _obs_entry())
    ).json()
    assert again["entry"][0]["response"]["status"] == "200 OK"
    obs_id = again["entry"][1]["response"]["location"].split("/")[-3]
    assert fhir.get(f"Observation/{obs_id}").json()["subject"]["reference"] == f"Patient/{pid}"
    cond = _obs_entry("Patient?identifier=urn:mrn|T-1")
    done = fhir.post("", _transaction(cond)).json()
    obs_id = done["entry"][0]["response"]["location"].split("/")[-3]
    assert fhir.get(f"Observation/{obs_id}").json()["subject"]["reference"] == f"Patient/{pid}"
    missing = fhir.post("", _transaction(_obs_entry("Patient?identifier=urn:mrn|NOPE")))
    assert missing.status == 412


def test_transaction_processing_order(fhir):
    fhir.put("Patient/p-del", {"resourceType": "Patient", "id": "p-del"})
    fhir.put("Patient/p-upd", {"resourceType": "Patient", "id": "p-upd", "gender": "male"})
    bundle = _transaction(
        {"request": {"method": "GET", "url": "Patient/p-upd"}},
        {
            "resource": {"resourceType": "Patient", "id": "p-upd", "gender": "female"},
            "request": {"method": "PUT", "url": "Patient/p-upd"},
        },
        {"request": {"method": "DELETE", "url": "Patient/p-del"}},
        _patient_entry(),
    )
    resp = fhir.post("", bundle).json()
    statuses = [e["response"]["status"] for e in resp["entry"]]
    assert statuses == ["200 OK", "200 OK", "204 No Content", "201 Created"]
    # GET runs last, so it sees the PUT of the same transaction.
    assert resp["entry"][0]["resource"]["gender"] == "female"
    assert fhir.get("Patient/p-del").status == 410


def test_batch_processes_entries_independently(fhir):
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            _patient_entry(),
            {
                "resource": {"resourceType": "Unicorn"},
                "request": {"method": "POST", "url": "Unicorn"},
            },
            {"request": {"method": "GET", "url": "Patient/nope"}},
        ],
    }
    resp = fhir.post("", bundle)
    assert resp.status == 200
    entries = resp.json()["entry"]
    assert entries[0]["response"]["status"] == "201 Created"
    assert entries[1]["response"]["status"].startswith("404")
    assert entries[1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert entries[2]["response"]["status"].startswith("404")
    assert row_counts()["fhir_resource"] == 1


def test_bundle_of_wrong_type_is_rejected(fhir):
    resp = fhir.post("", {"resourceType": "Bundle", "type": "collection"})
    assert resp.status == 400


def _references(node, out):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            out.append(node["reference"])
        for v in node.values():
            _references(v, out)
    elif isinstance(node, list):
        for v in node:
            _references(v, out)
    return out


def test_synthea_bundles_load_through_the_api_with_every_reference_resolved(fhir):
    total = 0
    for path in sorted(SYNTHEA.glob("*.json")):
        resp = fhir.post("", path.read_bytes())
        assert resp.status == 200, (path.name, resp.body[:300])
        entries = resp.json()["entry"]
        assert all(e["response"]["status"] == "201 Created" for e in entries)
        total += len(entries)
    assert total == 5441
    _assert_all_references_resolve(fhir)


def _assert_all_references_resolve(fhir):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT resource_type, fhir_id, content FROM fhir_resource WHERE deleted = %s", [False]
        )
        rows = cur.fetchall()
    present = {f"{t}/{i}" for t, i, _ in rows}
    checked = 0
    for _, _, content in rows:
        for ref in _references(json.loads(content), []):
            if ref.startswith("#"):
                continue
            assert not ref.startswith("urn:"), ref
            assert ref in present, ref
            checked += 1
    assert checked > 10000
