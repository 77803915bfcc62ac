"""A search sorted by a date with many matches reads its page in the date index's order: the
pages are the same, in the same order, as when every match is sorted (resources with several
dates met once at their own sort value, ties by row, those without the date last)."""

from __future__ import annotations

import pytest

from ehr.fhir.search import engine
from tests.fhir.search_api.api_calls import created_id

DUE = [
    ["2024-05-01"],
    ["2023-01-01", "2026-01-01"],  # earliest start early, latest end late
    ["2024-05-01"],  # a tie with the first
    ["2025-03-10", "2024-02-01"],
    [],  # no date: sorts last both ways
    ["2022-07-15"],
    ["2024-05"],  # a month: starts with the ties, ends later
    [],
    ["2025-12-31", "2021-01-01", "2023-06-30"],
    ["2024"],  # a year: starts early, ends late in the year
]


@pytest.fixture
def goals(fhir):
    ids = []
    for i, due in enumerate(DUE):
        body = {
            "resourceType": "Goal",
            "lifecycleStatus": "active" if i % 3 else "proposed",
            "description": {"text": f"Goal {i}"},
            "subject": {"reference": "Patient/p1"},
        }
        if due:
            body["target"] = [{"dueDate": d} for d in due]
        ids.append(created_id(fhir, body))
    return ids


def _all_pages(fhir, query: str, size: int) -> list[str]:
    out: list[str] = []
    for offset in range(0, 20, size):
        resp = fhir.get(f"{query}&_count={size}&_offset={offset}")
        assert resp.status == 200, resp.body
        out += [e["resource"]["id"] for e in resp.json().get("entry", [])]
    return out


@pytest.mark.parametrize(
    "query",
    [
        "Goal?_sort=target-date",
        "Goal?_sort=-target-date",
        "Goal?lifecycle-status=active&_sort=-target-date",
        "Goal?lifecycle-status=active,proposed&_sort=target-date,-_lastUpdated",
    ],
)
@pytest.mark.parametrize("size", [1, 3, 4])
def test_walked_pages_are_the_sorted_pages(fhir, goals, monkeypatch, query, size):
    walks = []
    real = engine._sorted_by_walk

    def counted(*args):
        rows = real(*args)
        walks.append(rows is not None)
        return rows

    monkeypatch.setattr(engine, "_sorted_by_walk", counted)
    monkeypatch.setattr(engine, "WALK_FROM", 1)
    walked = _all_pages(fhir, query, size)
    dated = 4 if "=active&" in query else 8  # matches with a target date
    # A page is walked when the walk finds it and one more; the rest fall back to sorting.
    assert any(walks) == (size < dated), walks
    monkeypatch.setattr(engine, "_walks", lambda *args: False)
    sorted_ = _all_pages(fhir, query, size)
    assert walked == sorted_
    assert len(set(walked)) == len(walked)  # each resource once
    if "lifecycle" not in query:
        assert set(walked) == set(goals)
        assert set(walked[-2:]) == {goals[4], goals[7]}  # no date: last


def test_the_sort_order_itself(fhir, goals, monkeypatch):
    monkeypatch.setattr(engine, "WALK_FROM", 1)
    ascending = _all_pages(fhir, "Goal?_sort=target-date", 3)
    # earliest starts: 2021-01-01 (8), 2022-07-15 (5), 2023-01-01 (1), 2024 (9),
    # 2024-02-01 (3), 2024-05-01 (0, 2 and the month 6, by row), then no date (4, 7)
    assert ascending == [goals[i] for i in (8, 5, 1, 9, 3, 0, 2, 6, 4, 7)]
    descending = _all_pages(fhir, "Goal?_sort=-target-date", 3)
    # latest ends: 2026-01-01 (1), 2025-12-31 (8), 2025-03-10 (3), ...
    assert descending[:3] == [goals[1], goals[8], goals[3]]
    assert descending[-2:] == [goals[4], goals[7]]


def test_a_narrow_lead_is_sorted_not_walked(fhir, goals):
    req = engine.parse("Goal", [("lifecycle-status", "proposed"), ("_sort", "-target-date")])
    assert engine._where(req).walk is None  # 4 keys, far below WALK_FROM
    req = engine.parse("Goal", [("_sort", "-target-date")])
    assert engine._where(req).walk is not None  # every Goal matches
