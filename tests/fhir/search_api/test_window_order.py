"""A search led by a date window and not sorted pages in the order of its dates
(``window_order``): each match once, across short values, long periods that start before the
window, values from the day before, and resources with several values (their envelope);
``next`` and ``previous`` links walk the same pages; a cursor that does not fit is a 400."""

from __future__ import annotations

import importlib
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection

from ehr.fhir.search import engine, index_values
from ehr.fhir.search.extract import hash64
from tests.fhir.search_api.api_calls import created_id, goal_due

sibling_seq = importlib.import_module("ehr.fhir.storage.migrations.0013_date_sibling_seq")

WINDOW = "date=ge2022-03-10&date=lt2022-03-11"

# name -> (start, end, status); the window is 2022-03-10 (UTC)
ENCOUNTERS = {
    "long-before": ("2022-01-15", "2022-03-15", "finished"),  # a stay across the window
    # a night shift from the evening before: longer than an hour, starting 6 hours before
    "evening-shift": ("2022-03-09T18:00:00Z", "2022-03-10T02:00:00Z", "finished"),
    "two-hours-before": ("2022-03-09T20:00:00Z", "2022-03-09T22:00:00Z", "finished"),
    "half-hour-across": ("2022-03-09T23:45:00Z", "2022-03-10T00:15:00Z", "finished"),
    "late-night": ("2022-03-09T23:00:00Z", "2022-03-10T00:30:00Z", "finished"),
    "the-day-before": ("2022-03-09T20:00:00Z", "2022-03-09T21:00:00Z", "finished"),
    "nine-a": ("2022-03-10T09:00:00Z", "2022-03-10T10:00:00Z", "finished"),
    "nine-short": ("2022-03-10T09:00:00Z", "2022-03-10T09:30:00Z", "finished"),
    "nine-b": ("2022-03-10T09:00:00Z", "2022-03-10T10:00:00Z", "in-progress"),
    "nine-c": ("2022-03-10T09:00:00Z", "2022-03-10T10:00:00Z", "finished"),
    "noon-long": ("2022-03-10T12:00:00Z", "2022-03-20", "finished"),
    "afternoon": ("2022-03-10T15:00:00Z", "2022-03-10T15:20:00Z", "in-progress"),
    "next-day": ("2022-03-11T08:00:00Z", "2022-03-11T09:00:00Z", "finished"),
    "the-whole-day": ("2022-03-10", "2022-03-10", "finished"),
}
# In the window, by start, then end, then the order they were created in.
ORDER = [
    "long-before",
    "evening-shift",
    "late-night",
    "half-hour-across",
    "the-whole-day",
    "nine-short",
    "nine-a",
    "nine-b",
    "nine-c",
    "noon-long",
    "afternoon",
]


@pytest.fixture
def encounters(fhir) -> dict[str, str]:
    ids = {}
    for name, (start, end, status) in ENCOUNTERS.items():
        body = {
            "resourceType": "Encounter",
            "status": status,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "period": {"start": start, "end": end},
        }
        ids[name] = created_id(fhir, body)
    return ids


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path.removeprefix("/fhir/") + ("?" + parts.query if parts.query else "")


def _link(bundle: dict, rel: str) -> str | None:
    urls = [link["url"] for link in bundle["link"] if link["relation"] == rel]
    return _path(urls[0]) if urls else None


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def _pages(fhir, query: str) -> list[dict]:
    bundle = fhir.get(query).json()
    pages = [bundle]
    while (nxt := _link(bundle, "next")) is not None:
        resp = fhir.get(nxt)
        assert resp.status == 200, resp.body
        bundle = resp.json()
        pages.append(bundle)
        assert len(pages) < 50
    return pages


@pytest.mark.parametrize("size", [1, 2, 3, 4, 9])
def test_pages_follow_the_dates_and_hold_each_match_once(fhir, encounters, size):
    pages = _pages(fhir, f"Encounter?{WINDOW}&_count={size}")
    found = [i for p in pages for i in _ids(p)]
    assert found == [encounters[n] for n in ORDER]
    assert [len(_ids(p)) for p in pages[:-1]] == [size] * (len(pages) - 1)
    cursors = [dict(parse_qsl(urlsplit(_link(p, "next")).query))["_cursor"] for p in pages[:-1]]
    assert all(c.count(".") == 2 for c in cursors)  # a place in the dates, not a row key


def test_previous_links_give_the_same_pages_back(fhir, encounters):
    pages = _pages(fhir, f"Encounter?{WINDOW}&_count=2")
    assert len(pages) == 6
    back = [pages[-1]]
    while (prev := _link(back[-1], "previous")) is not None:
        back.append(fhir.get(prev).json())
        assert len(back) < 10
    # the first page reached backwards has no cursor of its own, so no previous link
    assert [_ids(b) for b in reversed(back)] == [_ids(p) for p in pages]


def test_other_conditions_are_checked_on_each_row(fhir, encounters):
    pages = _pages(fhir, f"Encounter?{WINDOW}&status=finished&_count=2")
    found = [i for p in pages for i in _ids(p)]
    expected = [n for n in ORDER if ENCOUNTERS[n][2] == "finished"]
    assert found == [encounters[n] for n in expected]


def test_resources_with_several_values_come_once_at_their_earliest(fhir):
    def goal(*due: str) -> str:
        return goal_due(fhir, *due)

    apart = goal("2020-01-01", "2025-01-01")  # meets the two bounds separately
    twice = goal("2022-06-01", "2022-06-02")  # two values inside
    one = goal("2022-03-01")
    outside = goal("2021-05-01", "2023-05-01")  # both outside, but around: found
    goal("2021-01-01")  # before
    query = "Goal?target-date=ge2022-01-01&target-date=lt2023-01-01&_count=1"
    found = [i for p in _pages(fhir, query) for i in _ids(p)]
    assert found == [apart, outside, one, twice]


def _date_seqs(goal_id: str) -> dict[int, list[int]]:
    """The goal's date rows: ``seq`` values by parameter key."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT d.hash_param, d.seq FROM fhir_date d JOIN fhir_resource r "
            "ON r.id = d.resource_id WHERE r.resource_type = 'Goal' AND r.fhir_id = %s",
            [goal_id],
        )
        seqs: dict[int, list[int]] = {}
        for hp, seq in cur.fetchall():
            seqs.setdefault(hp, []).append(seq)
    return seqs


def test_a_value_with_siblings_is_marked_on_write_and_on_update(fhir):
    """A value with other values of its parameter has a negative ``seq`` (the page tells a sole
    value from the index entry); an update that leaves one value makes it sole again."""
    target = hash64("Goal", "target-date")
    envelope = index_values.envelope_hash(target)
    two = goal_due(fhir, "2022-06-01", "2022-06-02")
    seqs = _date_seqs(two)
    assert len(seqs[target]) == 2 and all(s < 0 for s in seqs[target])
    assert len(seqs[envelope]) == 1 and seqs[envelope][0] >= 0
    assert all(s >= 0 for hp, ss in seqs.items() if hp not in (target, envelope) for s in ss)
    body = fhir.get(f"Goal/{two}").json()
    body["target"] = [{"dueDate": "2022-06-01"}]
    assert fhir.put(f"Goal/{two}", body).status == 200
    seqs = _date_seqs(two)
    assert len(seqs[target]) == 1 and seqs[target][0] >= 0 and envelope not in seqs
    query = "Goal?target-date=ge2022-01-01&target-date=lt2023-01-01&_count=1"
    assert [i for p in _pages(fhir, query) for i in _ids(p)] == [two]
    body["target"] = [{"dueDate": "2022-06-01"}, {"dueDate": "2022-07-01"}]
    assert fhir.put(f"Goal/{two}", body).status == 200
    assert all(s < 0 for s in _date_seqs(two)[target])
    assert [i for p in _pages(fhir, query) for i in _ids(p)] == [two]


class _Statements:
    """What the migration's functions use of a schema editor (SQLite's cannot open inside the
    test's transaction)."""

    def execute(self, statement: str) -> None:
        with connection.cursor() as cur:
            cur.execute(statement)


def test_the_migration_marks_the_values_stored_before_it(fhir):
    """Rows written before migration 0013 (every ``seq`` a position) are renumbered in place:
    the window then meets each resource once, as for rows written since."""
    apart = goal_due(fhir, "2020-01-01", "2025-01-01")
    twice = goal_due(fhir, "2022-06-01", "2022-06-02")
    one = goal_due(fhir, "2022-03-01")
    with connection.cursor() as cur:
        cur.execute("UPDATE fhir_date SET seq = -seq - 1 WHERE seq < 0")  # as before 0013
    assert all(s >= 0 for g in (apart, twice, one) for ss in _date_seqs(g).values() for s in ss)
    sibling_seq.forwards(None, _Statements())
    target = hash64("Goal", "target-date")
    assert all(s < 0 for g in (apart, twice) for s in _date_seqs(g)[target])
    assert _date_seqs(one)[target][0] >= 0
    query = "Goal?target-date=ge2022-01-01&target-date=lt2023-01-01&_count=1"
    assert [i for p in _pages(fhir, query) for i in _ids(p)] == [apart, one, twice]
    sibling_seq.backwards(None, _Statements())  # and back
    assert all(s >= 0 for g in (apart, twice, one) for ss in _date_seqs(g).values() for s in ss)


def test_an_unsorted_window_leads_in_date_order_and_a_sort_or_compartment_does_not(fhir):
    bounds = [("date", "ge2022-03-10"), ("date", "lt2022-03-11")]
    assert engine._where(engine.parse("Encounter", bounds)).window is not None
    for extra in [("_sort", "date"), ("_offset", "5"), ("_cursor", "12")]:
        req = engine.parse("Encounter", [*bounds, extra])
        assert engine._where(req).window is None, extra
    assert engine._where(engine.parse(None, [*bounds, ("_type", "Encounter")])).window is not None
    req = engine.parse("Encounter", bounds)
    req.extra.append(engine.compartment_condition("Patient", "p1", "Encounter"))
    assert engine._where(req).window is None


def test_a_row_key_cursor_still_pages_by_key(fhir, encounters):
    """A link written while the window did not lead (or before this order existed) goes on."""
    first = fhir.get(f"Encounter?{WINDOW}&_count=3&_cursor=0").json()
    assert len(_ids(first)) == 3
    nxt = _link(first, "next")
    assert nxt is not None and "." not in dict(parse_qsl(urlsplit(nxt).query))["_cursor"]


@pytest.mark.parametrize(
    "query",
    [
        f"Encounter?{WINDOW}&_cursor=1.2",
        f"Encounter?{WINDOW}&_cursor=a.b.c",
        f"Encounter?{WINDOW}&_cursor=99999999999999999999.1.2",
        "Encounter?status=finished&_cursor=1.2.3",  # no window to place it in
        f"Encounter?{WINDOW}&_sort=date&_cursor=1.2.3",
        f"Encounter?{WINDOW}&_before=1.2",
    ],
)
def test_a_cursor_that_does_not_fit_is_a_clear_error(fhir, query):
    resp = fhir.get(query)
    assert resp.status == 400, resp.body
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    name = "_before" if "_before" in query else "_cursor"
    assert name in str(outcome["issue"][0].get("expression"))


def test_the_window_as_a_key_list_finds_the_same(fhir, encounters):
    """Sorted, counted or beside a patient, the window leads as a key list from the same
    ranges (``query.window_ranges``)."""
    expected = {encounters[n] for n in ORDER}
    by_date = [i for p in _pages(fhir, f"Encounter?{WINDOW}&_sort=date&_count=4") for i in _ids(p)]
    assert set(by_date) == expected and len(by_date) == len(expected)
    counted = fhir.get(f"Encounter?{WINDOW}&_summary=count").json()
    assert counted["total"] == len(expected)
    first = fhir.get(f"Encounter?{WINDOW}&_count=2&_total=accurate").json()
    assert first["total"] == len(expected)  # counted from the keys beside a date-order page
