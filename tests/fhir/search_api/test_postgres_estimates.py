"""PostgreSQL's planner must know how many rows a ``system|code`` token condition finds: it
tests two hashes of the same value, and taken as independent their selectivities multiply,
which made a common code look rare and a page of 20 sort every match (migration 0011)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from ehr.fhir.storage.db import raw_cursor

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="planner statistics exist on PostgreSQL only"
)

LOINC = "http://loinc.org"


def _observation(code: str) -> dict:
    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
        },
        "request": {"method": "POST", "url": "Observation"},
    }


def test_a_common_system_and_code_is_estimated_as_common(fhir):
    entries = [_observation("8867-4") for _ in range(150)]
    entries += [_observation(f"9{n:04d}-0") for n in range(150)]
    resp = fhir.post("", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert resp.status == 200, resp.body
    cur = raw_cursor()
    cur.execute(
        "SELECT hash_value, hash_sys_value FROM fhir_token WHERE system = %s AND code = %s LIMIT 1",
        [LOINC, "8867-4"],
    )
    hash_value, hash_sys_value = cur.fetchone()
    cur.execute("SELECT count(*) FROM fhir_token")
    assert cur.fetchone()[0] >= 600  # enough rows for independence to be far off
    cur.execute("ANALYZE fhir_token")
    cur.execute(
        "EXPLAIN (FORMAT JSON) SELECT resource_id FROM fhir_token "
        "WHERE hash_value = %s AND hash_sys_value = %s",
        [hash_value, hash_sys_value],
    )
    plan = cur.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    assert plan[0]["Plan"]["Plan Rows"] >= 100  # 150 match; taken as independent, 25
