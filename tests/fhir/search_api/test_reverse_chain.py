"""``_has`` finds the resources that live resources of another type refer to: a deleted
Condition no longer makes its patient match, whichever way the plan reads the index."""

from __future__ import annotations

from tests.fhir.search_api.api_calls import created_id, found_ids


def _patient(fhir, family: str) -> str:
    return created_id(fhir, {"resourceType": "Patient", "name": [{"family": family}]})


def _condition(fhir, pid: str, code: str) -> str:
    body = {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
    }
    return created_id(fhir, body)


def test_has_follows_only_live_resources(fhir):
    kept, dropped, other = _patient(fhir, "Kept"), _patient(fhir, "Dropped"), _patient(fhir, "X")
    _condition(fhir, kept, "44054006")
    gone = _condition(fhir, dropped, "44054006")
    _condition(fhir, other, "38341003")
    query = "Patient?_has:Condition:patient:code=44054006"
    assert found_ids(fhir, query) == {kept, dropped}
    assert fhir.delete(f"Condition/{gone}").status in (200, 204)
    assert found_ids(fhir, query) == {kept}
    assert fhir.get(query + "&_count=0").json()["total"] == 1
    # A patient with two matching Conditions is found once.
    _condition(fhir, kept, "44054006")
    assert fhir.get(query).json()["total"] == 1
    # A condition the other resources cannot answer from the index alone (:not) still works.
    assert found_ids(fhir, "Patient?_has:Condition:patient:code:not=44054006") == {other}
