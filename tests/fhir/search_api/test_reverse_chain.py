"""``_has`` finds the resources that live resources of another type refer to: a deleted
Condition no longer makes its patient match, whichever way the plan reads the index."""

from __future__ import annotations


def _patient(fhir, family: str) -> str:
    resp = fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": family}]})
    assert resp.status == 201, resp.body
    return resp.json()["id"]


def _condition(fhir, pid: str, code: str) -> str:
    body = {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
    }
    resp = fhir.post("Condition", body)
    assert resp.status == 201, resp.body
    return resp.json()["id"]


def _ids(fhir, query: str) -> set[str]:
    resp = fhir.get(query)
    assert resp.status == 200, resp.body
    return {e["resource"]["id"] for e in resp.json().get("entry", [])}


def test_has_follows_only_live_resources(fhir):
    kept, dropped, other = _patient(fhir, "Kept"), _patient(fhir, "Dropped"), _patient(fhir, "X")
    _condition(fhir, kept, "44054006")
    gone = _condition(fhir, dropped, "44054006")
    _condition(fhir, other, "38341003")
    query = "Patient?_has:Condition:patient:code=44054006"
    assert _ids(fhir, query) == {kept, dropped}
    assert fhir.delete(f"Condition/{gone}").status in (200, 204)
    assert _ids(fhir, query) == {kept}
    assert fhir.get(query + "&_count=0").json()["total"] == 1
    # A patient with two matching Conditions is found once.
    _condition(fhir, kept, "44054006")
    assert fhir.get(query).json()["total"] == 1
    # A condition the other resources cannot answer from the index alone (:not) still works.
    assert _ids(fhir, "Patient?_has:Condition:patient:code:not=44054006") == {other}
