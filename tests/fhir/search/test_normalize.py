"""Normal forms shared by index extraction and query parsing (``ehr.fhir.search.normalize``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ehr.fhir.search.extract import hash64
from ehr.fhir.search.normalize import (
    MAX_US,
    MIN_US,
    _date_range_parsed,
    composite_key,
    date_range,
    fold,
    hash_param,
    number_range,
    period_range,
    quantity_hashes,
    token_hashes,
    token_variants,
)


def us(*args: int) -> int:
    """Microseconds since the epoch of a UTC datetime."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return (datetime(*args, tzinfo=UTC) - epoch) // timedelta(microseconds=1)


# ------------------------------------------------------------------ fold


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Smith", "smith"),
        ("  Ève   Dupont-Léger \n", "eve dupont-leger"),
        ("Ångström", "angstrom"),
        ("Straße", "strasse"),
        ("ﬁnal", "final"),  # NFKD compatibility ligature
        ("Zoë\tÑandú", "zoe nandu"),
        ("ΣΊΣΥΦΟΣ", "σισυφοσ"),  # casefold: final sigma
        ("", ""),
        ("   ", ""),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


# ------------------------------------------------------------------ dates


def test_partial_dates_cover_their_whole_period():
    assert date_range("2013") == (us(2013, 1, 1), us(2014, 1, 1) - 1)
    assert date_range("2012-02") == (us(2012, 2, 1), us(2012, 3, 1) - 1)  # leap year
    assert date_range("2013-12") == (us(2013, 12, 1), us(2014, 1, 1) - 1)
    assert date_range("2013-01-15") == (us(2013, 1, 15), us(2013, 1, 16) - 1)


def test_times_cover_their_precision_and_zones_are_applied():
    # minutes (FHIRPath-style partial time), seconds, fractions
    assert date_range("2013-01-15T10:30Z") == (us(2013, 1, 15, 10, 30), us(2013, 1, 15, 10, 31) - 1)
    assert date_range("2013-01-15T10:30:05Z") == (
        us(2013, 1, 15, 10, 30, 5),
        us(2013, 1, 15, 10, 30, 6) - 1,
    )
    low = us(2013, 1, 15, 10, 30, 5)
    assert date_range("2013-01-15T10:30:05.5Z") == (low + 500_000, low + 599_999)
    assert date_range("2013-01-15T10:30:05.123Z") == (low + 123_000, low + 123_999)
    assert date_range("2013-01-15T10:30:05.123456Z") == (low + 123_456, low + 123_456)
    assert date_range("2013-01-15T10:30:05.1234567Z") == (low + 123_456, low + 123_456)
    # offsets: 10:30+02:00 is 08:30Z; -05:00 is 15:30Z
    assert date_range("2013-01-15T10:30:05+02:00")[0] == us(2013, 1, 15, 8, 30, 5)
    assert date_range("2013-01-15T10:30:05-05:00")[0] == us(2013, 1, 15, 15, 30, 5)
    # a time without a zone is read as UTC
    assert date_range("2013-01-15T10:30:05") == date_range("2013-01-15T10:30:05Z")
    assert date_range("1969-12-31T23:59:59Z") == (-1_000_000, -1)


@pytest.mark.parametrize(
    "value",
    [
        "2011-04-19T09:21:52+00:00",
        "2011-04-19T09:21:52Z",
        "2011-04-19T09:21:52.137+00:00",
        "2011-04-19T09:21:52.1-03:30",
        "2011-04-19T09:21:52.12+14:00",
        "2011-04-19T09:21:52.1234567-12:00",
        "2011-04-19T23:59:59.999999Z",
        "2000-02-29T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z",
    ],
)
def test_the_fast_instant_path_agrees_with_the_parser(value):
    assert date_range(value) == _date_range_parsed(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "13",
        "2013-13",
        "2013-02-30",
        "2013-01-15T25:00:00Z",
        "2013-01-15T10:61Z",
        "yesterday",
        "2013-01-15 10:00:00",
    ],
)
def test_invalid_dates_raise(value):
    with pytest.raises(ValueError):
        date_range(value)


def test_periods_have_open_ends():
    assert period_range("2013-01", None) == (us(2013, 1, 1), MAX_US)
    assert period_range(None, "2013") == (MIN_US, us(2014, 1, 1) - 1)
    assert MIN_US == -(2**62) and MAX_US == 2**62


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", (100.0, 99.5, 100.5)),
        ("1.50", (1.5, 1.495, 1.505)),
        ("1e2", (100.0, 50.0, 150.0)),
        ("-2.5", (-2.5, -2.55, -2.45)),
        ("0.0001", (0.0001, 0.00005, 0.00015)),
        (Decimal("1.50"), (1.5, 1.495, 1.505)),
        (1.5, (1.5, 1.45, 1.55)),  # a float: its shortest repr gives the digits
        (100, (100.0, 100.0, 100.0)),  # a JSON integer is exact
        (0, (0.0, 0.0, 0.0)),
    ],
)
def test_number_range(value, expected):
    got = number_range(value)
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("value", ["", "abc", "1,5", "NaN", "Infinity", True, None])
def test_number_range_rejects_non_numbers(value):
    with pytest.raises(ValueError):
        number_range(value)


# ------------------------------------------------------------------ hashed keys


def test_hashes_are_hash64_of_the_documented_parts():
    assert hash_param("Observation", "code") == hash64("Observation", "code")
    hv, hsv, hs = token_hashes("Observation", "code", "http://loinc.org", "8480-6")
    assert hv == hash64("Observation", "code", "8480-6")
    assert hsv == hash64("Observation", "code", "http://loinc.org", "8480-6")
    assert hs == hash64("Observation", "code", "http://loinc.org")
    # no system: "" (what a |code search looks for)
    hv, hsv, hs = token_hashes("Patient", "gender", None, "male")
    assert hsv == hash64("Patient", "gender", "", "male") and hs == hash64("Patient", "gender", "")
    assert quantity_hashes(
        "Observation", "value-quantity", "http://unitsofmeasure.org", "mg", "x"
    ) == (
        hash64("Observation", "value-quantity", "http://unitsofmeasure.org", "mg"),
        hash64("Observation", "value-quantity", "mg"),
    )
    # no code: the unit stands in; neither: 0
    assert quantity_hashes("Observation", "value-quantity", None, None, "mmHg") == (
        hash64("Observation", "value-quantity", "", "mmHg"),
        hash64("Observation", "value-quantity", "mmHg"),
    )
    assert quantity_hashes("Observation", "value-quantity", None, None, None) == (0, 0)
    assert composite_key("Observation", "p", "a", "b") == hash64("Observation", "p", "a", "b")


def test_token_variants():
    assert token_variants("http://loinc.org", "8480-6") == ["8480-6", "http://loinc.org|8480-6"]
    assert token_variants(None, "final") == ["final", "|final"]
