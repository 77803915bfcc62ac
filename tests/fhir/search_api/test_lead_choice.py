"""Which condition a search leads with: a resource id before anything, and among codes, names
and chains the one with the fewest keys (counted, not guessed). Whichever leads, the others are
checked row by row and the matches are the same; a chain checked row by row still ignores
deleted targets."""

from __future__ import annotations

from ehr.fhir.search import engine
from tests.fhir.search_api.api_calls import created_id, found_ids

HEART_RATE = "8867-4"
RARE = "2339-0"


def _patient(fhir, family: str, gender: str = "female") -> str:
    body = {"resourceType": "Patient", "name": [{"family": family}], "gender": gender}
    return created_id(fhir, body)


def _observation(fhir, pid: str, code: str) -> str:
    body = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    return created_id(fhir, body)


def _lead_sql(query: str) -> str:
    rtype, _, qs = query.partition("?")
    params = [tuple(p.split("=", 1)) for p in qs.split("&")]
    return engine._where(engine.parse(rtype, params)).cond.sql


def test_a_chain_to_few_patients_leads_before_a_common_code(fhir):
    many = [_patient(fhir, f"Common{i}") for i in range(6)]
    for pid in many:
        for _ in range(5):
            _observation(fhir, pid, HEART_RATE)
    few = _patient(fhir, "Longworth")
    expected = {_observation(fhir, few, HEART_RATE), _observation(fhir, few, HEART_RATE)}
    _observation(fhir, few, RARE)
    query = f"Observation?code={HEART_RATE}&subject:Patient.name=Longworth"
    assert _lead_sql(query).startswith("r.id IN (SELECT ref.resource_id FROM fhir_reference")
    assert found_ids(fhir, query) == expected
    assert fhir.get(query).json()["total"] == 2


def test_a_rare_code_leads_before_a_chain_to_a_busy_patient(fhir):
    busy = _patient(fhir, "Busy")
    for _ in range(8):
        _observation(fhir, busy, HEART_RATE)
    rare = _observation(fhir, busy, RARE)
    query = f"Observation?subject:Patient.name=Busy&code=http://loinc.org|{RARE}"
    assert _lead_sql(query).startswith("r.id IN (SELECT resource_id FROM fhir_token")
    assert found_ids(fhir, query) == {rare}


def test_a_chain_checked_row_by_row_ignores_deleted_targets(fhir):
    kept, gone = _patient(fhir, "Longworth"), _patient(fhir, "Longworth")
    for _ in range(3):
        _observation(fhir, kept, HEART_RATE)
    orphan = _observation(fhir, gone, RARE)
    kept_rare = _observation(fhir, kept, RARE)
    query = f"Observation?subject:Patient.name=Longworth&code={RARE}"
    assert found_ids(fhir, query) == {orphan, kept_rare}
    assert fhir.delete(f"Patient/{gone}").status in (200, 204)
    # The code (2 keys) leads; the chain (4 keys of the live patient) is checked per row.
    lead = _lead_sql(query)
    assert lead.startswith("r.id IN (SELECT resource_id FROM fhir_token")
    assert "EXISTS (SELECT 1 FROM fhir_reference ref" in lead
    assert found_ids(fhir, query) == {kept_rare}


def test_an_id_leads_before_a_broad_code(fhir):
    women = [_patient(fhir, f"W{i}") for i in range(5)]
    man = _patient(fhir, "M", gender="male")
    query = f"Patient?gender=female&_id={women[2]}"
    assert _lead_sql(query).startswith("r.id IN (SELECT i.id FROM fhir_resource i")
    assert found_ids(fhir, query) == {women[2]}
    assert found_ids(fhir, f"Patient?gender=female&_id={man},{women[0]}") == {women[0]}
    assert found_ids(fhir, f"Patient?_id:not={man}&gender=male") == set()


def _goal(fhir, due: str, status: str = "active") -> str:
    body = {
        "resourceType": "Goal",
        "lifecycleStatus": status,
        "description": {"text": "Walk daily"},
        "subject": {"reference": "Patient/p1"},
        "target": [{"dueDate": due}],
    }
    return created_id(fhir, body)


def test_a_date_window_competes_as_a_whole_not_by_its_bounds(fhir):
    for year in (2019, 2020, 2021, 2024, 2025):
        for _ in range(3):
            _goal(fhir, f"{year}-06-01")
    inside = {_goal(fhir, "2022-03-01"), _goal(fhir, "2022-09-01")}
    _goal(fhir, "2022-05-01", status="cancelled")
    query = "Goal?target-date=ge2022-01-01&target-date=lt2023-01-01&lifecycle-status=active"
    # Each bound alone matches many goals; the window, 3; the status, 17.
    assert _lead_sql(query).startswith("r.id IN (SELECT resource_id FROM fhir_date")
    assert "UNION ALL" in _lead_sql(query).split(" AND EXISTS")[0]
    assert found_ids(fhir, query) == inside
