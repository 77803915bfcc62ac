"""On PostgreSQL a date window's page reads its index in the page's order and stops at the
page (migration 0014: the index entry carries the resource key and ``seq``), rather than
reading the whole window, joining each row to its resource and sorting."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from ehr.fhir.search import engine, window_order
from ehr.fhir.storage.db import raw_cursor, sql

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's indexes of the clustered date table end with its key already",
)

DAY = [("date", "ge2022-03-10"), ("date", "lt2022-03-11")]


def _encounter(minute: int) -> dict:
    start = f"2022-03-10T{8 + minute // 60:02d}:{minute % 60:02d}:00Z"
    return {
        "resource": {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "period": {"start": start, "end": start.replace(":00Z", ":30Z")},
        },
        "request": {"method": "POST", "url": "Encounter"},
    }


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_a_busy_days_page_reads_about_a_page_of_the_index(fhir):
    entries = [_encounter(m) for m in range(0, 600)]  # 600 visits in one day
    resp = fhir.post("", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert resp.status == 200, resp.body
    cur = raw_cursor()
    cur.execute("ANALYZE fhir_date")
    cur.execute("ANALYZE fhir_resource")
    plan = engine._where(engine.parse("Encounter", DAY))
    statement, args = window_order.page_query(plan.window, plan.window_checks, engine._COLUMNS, 51)
    cur.execute(sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement), args)
    raw = cur.fetchone()[0]
    tree = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    spans = [n for n in _nodes(tree) if n.get("Index Name") == "fhir_date_span"]
    assert spans, json.dumps(tree)[:2000]
    assert spans[0]["Node Type"] == "Index Only Scan"
    assert spans[0]["Actual Rows"] <= 51  # not the day's 600
    cur.execute(sql(statement), args)
    assert len(cur.fetchall()) == 51
