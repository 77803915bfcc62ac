"""A condition checked row by row reads that resource's own index rows by the table's key, on
SQLite whatever its statistics say. With the statistics of a 64,000-patient database (a
sampled average of 3 rows per code hash), SQLite used to check "this Observation is a vital
sign" by reading the whole vital-signs entry of the code index, once per Observation."""

from __future__ import annotations

import pytest
from django.db import connection

from ehr.fhir.search import engine
from ehr.fhir.storage.db import raw_cursor, sql
from tests.fhir.search_api.api_calls import created_id, found_ids

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="SQLite's planner and statistics; PostgreSQL plans with per-value statistics",
)

# sqlite_stat1 rows as ANALYZE (analysis_limit 1000) wrote them on the benchmark's
# 64,000-patient database: the code index looks more selective than the resource's key.
MISLEADING = [
    ("fhir_token", "fhir_token_code", "18784920 3 3"),
    ("fhir_token", "fhir_token", "18729360 6 2 1"),
    ("fhir_reference", "fhir_reference_target", "20157822 1001 20 20"),
    ("fhir_reference", "fhir_reference", "11901120 4 1 1"),
    ("fhir_string", "fhir_string_norm", "3000000 40 1"),
    ("fhir_string", "fhir_string", "3000000 3 1 1"),
]


def _mislead_the_planner() -> None:
    cur = raw_cursor()
    cur.execute("ANALYZE")
    cur.execute(
        "DELETE FROM sqlite_stat1 WHERE tbl IN ('fhir_token', 'fhir_reference', 'fhir_string')"
    )
    cur.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", MISLEADING)
    cur.execute("ANALYZE sqlite_schema")


def _plan(query: str) -> list[str]:
    rtype, _, qs = query.partition("?")
    params = [tuple(p.split("=", 1)) for p in qs.split("&")]
    where = engine._where(engine.parse(rtype, params)).cond
    cur = raw_cursor()
    cur.execute(
        sql(f"EXPLAIN QUERY PLAN SELECT r.id FROM fhir_resource r WHERE {where.sql}"), where.args
    )
    return [row[-1] for row in cur.fetchall()]


def _observation(fhir, pid: str, category: str, code: str) -> str:
    cat = "http://terminology.hl7.org/CodeSystem/observation-category"
    body = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": cat, "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    return created_id(fhir, body)


def test_a_token_checked_per_row_uses_the_resource_key(fhir):
    pid = created_id(fhir, {"resourceType": "Patient", "name": [{"family": "Anderson"}]})
    vital = _observation(fhir, pid, "vital-signs", "8867-4")
    _observation(fhir, pid, "laboratory", "2339-0")
    _mislead_the_planner()
    query = f"Observation?patient={pid}&category=vital-signs"
    plan = _plan(query)
    assert "SEARCH x USING PRIMARY KEY (resource_id=?)" in plan, plan
    assert not any("fhir_token_code" in step for step in plan), plan
    assert found_ids(fhir, query) == {vital}


def test_a_chain_checked_per_row_follows_the_rows_own_references(fhir):
    anderson = created_id(fhir, {"resourceType": "Patient", "name": [{"family": "Anderson"}]})
    other = created_id(fhir, {"resourceType": "Patient", "name": [{"family": "Baker"}]})
    rare = _observation(fhir, anderson, "laboratory", "2339-0")
    _observation(fhir, other, "laboratory", "2339-0")
    for _ in range(3):
        _observation(fhir, anderson, "vital-signs", "8867-4")
    _mislead_the_planner()
    query = "Observation?subject:Patient.name=Anderson&code=2339-0"
    plan = _plan(query)
    # the code (2 keys) leads; the chain (4 keys) is checked per row from the reference's key
    assert any(step.startswith("SEARCH ref USING PRIMARY KEY (resource_id=?") for step in plan), (
        plan
    )
    assert found_ids(fhir, query) == {rare}
