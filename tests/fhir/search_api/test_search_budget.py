"""A search's statements run under a time limit that the database enforces (SQLite's progress
handler, PostgreSQL's statement_timeout): past it the search fails as too costly, and a total
the client did not ask for is left out instead of holding the page back.

The searches of a test database are fast, so a slow statement (a long recursive count on
SQLite, ``pg_sleep`` on PostgreSQL) is run where the engine counts or reads the page; the
database itself must stop it."""

from __future__ import annotations

import pytest
from django.db import connection

from ehr.fhir.search import budget, engine
from ehr.fhir.storage.db import raw_cursor


def _slow_statement() -> None:
    cur = raw_cursor()
    if connection.vendor == "postgresql":
        cur.execute("SELECT pg_sleep(3)")
    else:
        cur.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) "
            "SELECT count(*) FROM c"
        )
    cur.fetchall()


def _slowed(monkeypatch, name: str):
    """Make ``engine.<name>`` run the slow statement first; returns the real function."""
    real = getattr(engine, name)

    def slow(*args):
        _slow_statement()
        return real(*args)

    monkeypatch.setattr(engine, name, slow)
    return real


def _observation(fhir, code: str) -> None:
    body = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
    }
    assert fhir.post("Observation", body).status == 201


@pytest.mark.django_db(transaction=True)  # outside a transaction, as the API runs searches
def test_the_database_stops_a_statement_past_the_limit():
    for _ in range(2):  # the second time with the session's own limit already known
        with pytest.raises(budget.TooCostly) as caught, budget.limit(0.05):
            _slow_statement()
        assert "longer than 0.05 s" in caught.value.message
    cur = raw_cursor()  # the connection is still usable, and no limit is left behind
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]
    if connection.vendor == "postgresql":
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()[0] == "0"


@pytest.mark.django_db
def test_inside_a_transaction_the_limit_leaves_the_transaction_usable():
    with pytest.raises(budget.TooCostly), budget.limit(0.05):
        _slow_statement()
    cur = raw_cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]
    with budget.limit(5):
        cur.execute("SELECT 1")
    if connection.vendor == "postgresql":  # the transaction's statements have no limit after
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()[0] == "0"


def test_a_search_past_its_limit_is_too_costly(fhir, settings, monkeypatch):
    _observation(fhir, "8867-4")
    settings.EHR_SEARCH_SECONDS = 0.05
    real_page = _slowed(monkeypatch, "_page")
    resp = fhir.get("Observation?code=8867-4")
    assert resp.status == 422, resp.body
    issue = resp.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert "Narrow it" in issue["diagnostics"]
    monkeypatch.setattr(engine, "_page", real_page)
    assert fhir.get("Observation?code=8867-4").status == 200


def test_a_total_not_asked_for_is_left_out_when_counting_takes_too_long(
    fhir, settings, monkeypatch
):
    for _ in range(3):
        _observation(fhir, "8867-4")
    settings.EHR_SEARCH_COUNT_SECONDS = 0.05
    real_count = _slowed(monkeypatch, "_count")
    resp = fhir.get("Observation?code=8867-4&_count=1")
    assert resp.status == 200, resp.body
    bundle = resp.json()
    assert len(bundle["entry"]) == 1
    assert "total" not in bundle
    # A first page that holds every match needs no count and keeps its total.
    assert fhir.get("Observation?code=8867-4").json()["total"] == 3
    # Asked for, the total is counted and given.
    monkeypatch.setattr(engine, "_count", real_count)
    resp = fhir.get("Observation?code=8867-4&_count=1&_total=accurate")
    assert resp.json()["total"] == 3
