"""Date searches between two bounds (``date=ge..&date=lt..``) find exactly what each bound
finds on its own, whatever the shape of the stored values: short ones, long periods, and
resources whose values meet the bounds only separately (found through their envelope row)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from ehr import settings as ehr_settings
from ehr.fhir.search import engine
from tests.fhir.search_api.api_calls import created_id, found_ids, goal_due


def _goal(fhir, *due: str) -> str:
    return goal_due(fhir, *due)


def _encounter(fhir, start: str, end: str) -> str:
    body = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
        },
        "period": {"start": start, "end": end},
    }
    return created_id(fhir, body)


def test_values_meeting_the_bounds_separately_are_found(fhir):
    apart = _goal(fhir, "2020-01-01", "2025-01-01")  # one before the window, one after
    inside = _goal(fhir, "2022-06-01")
    before = _goal(fhir, "2021-01-01")
    after = _goal(fhir, "2024-01-01", "2024-06-01")
    found = found_ids(fhir, "Goal?target-date=ge2022-01-01&target-date=lt2023-01-01")
    assert found == {apart, inside}
    assert before not in found and after not in found


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # a two-month stay overlaps a one-day window in its middle
        ("Encounter?date=ge2022-02-01&date=lt2022-02-02", {"long"}),
        ("Encounter?date=gt2022-01-31&date=le2022-02-01", {"long"}),
        # an hour on the window's first day, and nothing from the day before
        ("Encounter?date=ge2022-03-10&date=lt2022-03-11", {"long", "hour"}),
        ("Encounter?date=ge2022-03-11&date=lt2022-03-12", {"long"}),
        ("Encounter?date=ge2022-03-16&date=lt2022-03-17", set()),
        # the window ends before the hour starts
        ("Encounter?date=ge2022-03-09&date=lt2022-03-10T09:00:00Z", {"long", "late"}),
    ],
)
def test_short_and_long_values_between_two_bounds(fhir, query, expected):
    ids = {
        "long": _encounter(fhir, "2022-01-15", "2022-03-15"),
        "hour": _encounter(fhir, "2022-03-10T09:00:00Z", "2022-03-10T10:00:00Z"),
        "late": _encounter(fhir, "2022-03-09T23:00:00Z", "2022-03-09T23:30:00Z"),
    }
    assert found_ids(fhir, query) == {ids[k] for k in expected}


def test_envelope_rows_stay_out_of_other_searches(fhir):
    gid = _goal(fhir, "2020-01-01", "2025-01-01")
    # the envelope spans 2020..2025 but no value is in 2023
    assert gid not in found_ids(fhir, "Goal?target-date=2023")
    assert gid in found_ids(fhir, "Goal?target-date=2025-01-01")
    assert found_ids(fhir, "Goal?_sort=target-date&target-date=ge2019") == {gid}


def _total(fhir, query: str) -> int:
    """The exact count (``_total=accurate``, unless the query says how to count)."""
    resp = fhir.get(query if "_total=" in query else query + "&_total=accurate")
    assert resp.status == 200, resp.body
    return resp.json()["total"]


def _default_total(fhir, query: str) -> int | None:
    """The total of a search that does not say ``_total``."""
    resp = fhir.get(query)
    assert resp.status == 200, resp.body
    return resp.json().get("total")


def test_a_window_counts_each_match_once_and_only_live_ones(fhir):
    """A page that does not hold every match counts them from the index alone: a resource
    found by two values and by its envelope counts once, and a deleted one not at all."""
    twice = _goal(fhir, "2022-03-01", "2022-04-01")  # both values, and the envelope, match
    apart = _goal(fhir, "2021-01-01", "2024-01-01")  # only the envelope matches
    single = [_goal(fhir, f"2022-0{m}-15") for m in range(1, 6)]
    gone = _goal(fhir, "2022-05-20")
    assert fhir.delete(f"Goal/{gone}").status in (200, 204)
    _goal(fhir, "2023-06-01")  # outside
    query = "Goal?target-date=ge2022-01-01&target-date=lt2023-01-01&_count=2"
    assert _total(fhir, query) == 2 + len(single)
    assert _default_total(fhir, query) is None  # not counted unless asked for
    found = set()
    resp = fhir.get(query).json()
    while True:
        found |= {e["resource"]["id"] for e in resp.get("entry", [])}
        nxt = [link["url"] for link in resp["link"] if link["relation"] == "next"]
        if not nxt:
            break
        resp = fhir.get(nxt[0].split("/fhir/", 1)[1]).json()
    assert found == {twice, apart, *single}


def test_a_window_with_another_filter_still_checks_it(fhir):
    ids = {
        "planned": _encounter(fhir, "2022-03-01T09:00:00Z", "2022-03-01T10:00:00Z"),
        "other": _encounter(fhir, "2022-03-02T09:00:00Z", "2022-03-02T10:00:00Z"),
    }
    resp = fhir.get(f"Encounter/{ids['planned']}").json()
    resp["status"] = "planned"
    assert fhir.put(f"Encounter/{ids['planned']}", resp).status == 200
    query = "Encounter?date=ge2022-03-01&date=lt2022-03-08&status=planned"
    assert found_ids(fhir, query) == {ids["planned"]}
    assert _total(fhir, query + "&_count=0") == 1
    assert _total(fhir, "Encounter?date=ge2022-03-01&date=lt2022-03-08&_count=1") == 2
    # another type's "date" values in the same week are not counted
    _goal(fhir, "2022-03-03")
    body = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
            "effectiveDateTime": "2022-03-03T08:00:00Z"}  # fmt: skip
    assert fhir.post("Observation", body).status == 201
    assert _total(fhir, "Encounter?date=ge2022-03-01&date=lt2022-03-08&_count=1") == 2


def test_a_token_total_counts_a_resource_once(fhir):
    body = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                         "code": "laboratory"}]},
            {"coding": [{"system": "http://example.org/local", "code": "laboratory"}]},
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
    }  # fmt: skip
    for value in (90, 110, 130):
        body["valueQuantity"] = {
            "value": value,
            "unit": "mg/dL",
            "system": "http://unitsofmeasure.org",
            "code": "mg/dL",
        }
        assert fhir.post("Observation", body).status == 201
    body["code"] = {"coding": [{"system": "http://loinc.org", "code": "2093-3"}]}
    assert fhir.post("Observation", body).status == 201
    assert _total(fhir, "Observation?category=laboratory&_count=1") == 4
    assert _total(fhir, "Observation?category=laboratory&_total=accurate&_count=0") == 4
    # the other conditions are checked on the keys
    assert _total(fhir, "Observation?category=laboratory&value-quantity=gt100&_count=1") == 3
    assert _total(fhir, "Observation?code=2345-7&value-quantity=gt100&_count=1") == 2
    assert _total(fhir, "Observation?category=laboratory&code:not=2093-3&_count=1") == 3
    assert _total(fhir, "Observation?category=laboratory&value-quantity:missing=true&_count=1") == 0


def test_a_total_nobody_asked_for_is_the_whole_pages_or_counted_up_to_a_limit(
    fhir, settings, monkeypatch
):
    """By default the Bundle has a total only when its first page holds every match (counting
    costs in proportion to the matches); an operator may have it counted up to a bound
    (``EHR_SEARCH_DEFAULT_TOTAL``), which counts resources, not index rows, or in full."""
    _goal(fhir, "2022-03-01", "2022-04-01")  # two values and the envelope: three index rows
    _goal(fhir, "2021-01-01", "2024-01-01")
    _goal(fhir, "2022-05-15")
    window = "Goal?target-date=ge2022-01-01&target-date=lt2023-01-01&_count=1"
    assert _default_total(fhir, window) is None
    assert _default_total(fhir, window.replace("_count=1", "_count=3")) == 3
    assert _default_total(fhir, window.replace("_count=1", "_count=0")) == 3
    assert _default_total(fhir, window + "&_summary=count") == 3
    settings.EHR_SEARCH_DEFAULT_TOTAL = 3
    assert _default_total(fhir, window) == 3
    assert _default_total(fhir, "Goal?_count=1") == 3  # counted from the resources, not an index
    _goal(fhir, "2022-06-15")
    for query in (window, "Goal?_count=1"):
        bundle = fhir.get(query).json()
        assert "total" not in bundle and len(bundle["entry"]) == 1
        assert any(link["relation"] == "next" for link in bundle["link"])
        assert _total(fhir, query) == 4
        assert _default_total(fhir, query.replace("_count=1", "_count=0")) == 4
    # a first page that holds every match gives its size, whatever the limit
    assert _default_total(fhir, window.replace("_count=1", "_count=10")) == 4
    settings.EHR_SEARCH_DEFAULT_TOTAL = 0  # "accurate": no limit
    assert _default_total(fhir, window) == 4
    # `_total=estimate` stops at its own limit, also counting resources rather than rows
    monkeypatch.setattr(engine, "ESTIMATE_CAP", 2)
    assert _total(fhir, window + "&_total=estimate") == 2
    monkeypatch.setattr(engine, "ESTIMATE_CAP", 10)
    assert _total(fhir, window + "&_total=estimate") == 4


@pytest.mark.parametrize(("value", "limit"), [("none", None), ("accurate", 0), ("250", 250)])
def test_the_default_total_setting_reads_none_accurate_or_a_bound(value, limit):
    assert ehr_settings._default_total(value) == limit


@pytest.mark.parametrize("value", ["0", "-5", "all", ""])
def test_a_default_total_setting_of_anything_else_stops_the_server(value):
    with pytest.raises(ImproperlyConfigured, match="EHR_SEARCH_DEFAULT_TOTAL must be"):
        ehr_settings._default_total(value)
