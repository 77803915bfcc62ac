"""SMART scopes: v1 and v2 syntax, granular constraints, narrowing, errors."""

from __future__ import annotations

import pytest

from ehr.identity.oauth.scopes import ScopeError, ScopeSet

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


def test_v2_letters():
    s = ScopeSet.parse("patient/Observation.rs")
    assert s.allows("patient", "Observation", "r")
    assert s.allows("patient", "Observation", "s")
    assert not s.allows("patient", "Observation", "c")
    assert not s.allows("user", "Observation", "r")
    assert not s.allows("patient", "Condition", "r")


@pytest.mark.parametrize(
    ("scope", "letters"),
    [("read", "rs"), ("write", "cud"), ("*", "cruds")],
)
def test_v1_words_map_to_letters(scope, letters):
    s = ScopeSet.parse(f"user/Patient.{scope}")
    assert [a for a in "cruds" if s.allows("user", "Patient", a)] == list(letters)
    assert str(s) == f"user/Patient.{scope}"


def test_wildcard_resource():
    s = ScopeSet.parse("user/*.cruds system/Patient.r")
    assert s.allows("user", "MedicationRequest", "d")
    assert s.allows("system", "Patient", "r")
    assert not s.allows("system", "Patient", "s")
    assert not s.allows("system", "Observation", "r")


def test_any_subset_in_order():
    for perm in ["c", "r", "u", "d", "s", "cu", "rs", "cruds", "crd", "us"]:
        assert ScopeSet.parse(f"patient/Condition.{perm}").allows("patient", "Condition", perm[0])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("patient/Observation.sr", "in that order"),
        ("patient/Observation.rr", "in that order"),
        ("patient/Observation.", "permissions"),
        ("patient/Observation.x", "permissions"),
        ("doctor/Observation.rs", "context"),
        ("patient/observation.rs", "not a resource type name"),
        ("patient/Observation", "not a SMART scope"),
        ("patient/Observation.read?category=x", "SMART v2"),
        ("patient/Observation.rs?", "empty"),
        ("patient/Observation.rs?category", "name=value"),
        ("launch/visit", "launch scopes"),
        ("email", "not a scope"),
    ],
)
def test_malformed_scopes_are_refused_with_a_reason(text, fragment):
    with pytest.raises(ScopeError) as err:
        ScopeSet.parse(text)
    assert fragment in str(err.value)


def test_unknown_resource_type_with_validator():
    with pytest.raises(ScopeError, match="not a FHIR R4 resource type"):
        ScopeSet.parse("patient/Foo.rs", is_resource_type=lambda t: t in {"Patient"})


def test_granular_constraints():
    s = ScopeSet.parse(f"patient/Observation.rs?category={LAB} patient/Observation.rs?code=1-8")
    assert s.allows("patient", "Observation", "s")
    assert s.constraints("Observation", "s") == [[("category", LAB)], [("code", "1-8")]]
    assert s.constraints("Observation", "c") == []  # not granted at all: allows() says so
    assert not s.allows("patient", "Observation", "c")


def test_unconstrained_scope_lifts_constraints():
    s = ScopeSet.parse(f"patient/Observation.rs?category={LAB} patient/*.r")
    assert s.constraints("Observation", "r") == []
    assert s.constraints("Observation", "s") == [[("category", LAB)]]
    assert s.constraints("Observation", "s", context="user") == []


def test_other_scopes():
    s = ScopeSet.parse("openid fhirUser profile launch launch/patient offline_access online_access")
    assert s.has("openid") and s.has("launch/patient")
    assert s.needs_patient
    assert not ScopeSet.parse("user/*.rs openid").needs_patient
    assert ScopeSet.parse("patient/*.rs").needs_patient


def test_round_trip():
    text = f"patient/Observation.rs?category={LAB} user/*.read launch/patient openid offline_access"
    s = ScopeSet.parse(text)
    assert ScopeSet.parse(str(s)) == s
    assert str(s) == text


def test_narrow_intersects_permissions_and_types():
    asked = ScopeSet.parse("patient/*.cruds user/Patient.rs openid offline_access")
    allowed = ScopeSet.parse("patient/Observation.rs patient/Condition.r openid")
    got = asked.narrow(allowed)
    assert str(got) == "patient/Observation.rs patient/Condition.r openid"
    assert not got.allows("user", "Patient", "r")


def test_narrow_keeps_v1_form_when_possible_and_adds_constraints():
    asked = ScopeSet.parse("patient/Observation.read")
    assert str(asked.narrow(ScopeSet.parse("patient/*.read"))) == "patient/Observation.read"
    assert str(asked.narrow(ScopeSet.parse("patient/*.r"))) == "patient/Observation.r"
    limited = ScopeSet.parse("patient/Observation.rs").narrow(
        ScopeSet.parse(f"patient/Observation.rs?category={LAB}")
    )
    assert limited.constraints("Observation", "r") == [[("category", LAB)]]


def test_narrow_never_crosses_contexts():
    assert not ScopeSet.parse("patient/*.rs").narrow(ScopeSet.parse("user/*.rs"))


def test_only_and_subset():
    s = ScopeSet.parse("patient/Observation.rs patient/Condition.rs openid")
    kept = s.only(["patient/Condition.rs", "openid"])
    assert str(kept) == "patient/Condition.rs openid"
    assert kept.issubset(s)
    assert not s.issubset(kept)
    assert ScopeSet.parse("patient/Observation.r").issubset(ScopeSet.parse("patient/*.rs"))
    assert not ScopeSet.parse("patient/Observation.rs").issubset(
        ScopeSet.parse(f"patient/Observation.rs?category={LAB}")
    )


def test_empty_and_duplicates():
    assert not ScopeSet.parse("")
    assert not ScopeSet.parse(None)
    assert str(ScopeSet.parse("user/*.rs user/*.rs")) == "user/*.rs"
