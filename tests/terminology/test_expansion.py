"""The compose engine on small made-up code systems, and against the official R4 expansions."""

from __future__ import annotations

import json

from ehr.terminology.codesystems import CodeSystem, from_resource
from ehr.terminology.expansion import ANY, Expansion, expand_compose
from ehr.terminology.paths import report_path

SYS = "http://example.org/cs"
# A small hierarchy, part nested, part by subsumedBy (as HL7 Terminology writes v3):
#   _Abstract (notSelectable) -> A -> A1, A2 ; B (status=retired) ; C -> C1 (subsumedBy)
CS = {
    "resourceType": "CodeSystem",
    "url": SYS,
    "version": "1",
    "content": "complete",
    "caseSensitive": True,
    "property": [{"code": "status", "type": "code"}, {"code": "notSelectable"}],
    "concept": [
        {
            "code": "_Abstract",
            "property": [{"code": "notSelectable", "valueBoolean": True}],
            "concept": [{"code": "A", "concept": [{"code": "A1"}, {"code": "A2"}]}],
        },
        {"code": "B", "display": "Bee", "property": [{"code": "status", "valueCode": "retired"}]},
        {"code": "C"},
        {"code": "C1", "property": [{"code": "subsumedBy", "valueCode": "C"}]},
    ],
}


class Ctx:
    def __init__(self, valuesets: dict[str, Expansion] | None = None) -> None:
        self.cs = from_resource(CS, "test")
        self.valuesets = valuesets or {}

    def codesystem(self, url: str, version: str | None) -> CodeSystem | None:
        return self.cs if url == SYS else None

    def valueset(self, url: str) -> Expansion | None:
        return self.valuesets.get(url)


def members(compose: dict, ctx: Ctx | None = None) -> set[str]:
    exp = expand_compose(compose, ctx or Ctx())
    assert not exp.problems, exp.problems
    return exp.members.get(SYS, set())


def inc(*filters: tuple[str, str, str], **kw) -> dict:
    return {
        "include": [
            {
                "system": SYS,
                **kw,
                "filter": [dict(zip(("property", "op", "value"), f, strict=True)) for f in filters],
            }
        ]
    }


def test_whole_system_includes_every_code():
    assert members({"include": [{"system": SYS}]}) == {"_Abstract", "A", "A1", "A2", "B", "C", "C1"}


def test_listed_concepts():
    assert members({"include": [{"system": SYS, "concept": [{"code": "A1"}, {"code": "B"}]}]}) == {
        "A1",
        "B",
    }


def test_is_a_includes_self_and_descendants_but_not_abstract_heads():
    assert members(inc(("concept", "is-a", "A"))) == {"A", "A1", "A2"}
    assert members(inc(("concept", "is-a", "_Abstract"))) == {"A", "A1", "A2"}
    assert members(inc(("concept", "is-a", "C"))) == {"C", "C1"}  # hierarchy via subsumedBy


def test_descendent_of_and_is_not_a():
    assert members(inc(("concept", "descendent-of", "A"))) == {"A1", "A2"}
    assert members(inc(("concept", "is-not-a", "A"))) == {"B", "C", "C1"}


def test_property_equals_in_and_regex():
    assert members(inc(("status", "=", "retired"))) == {"B"}
    assert members(inc(("concept", "in", "A1,C,nope"))) == {"A1", "C"}
    assert members(inc(("code", "regex", "[AC][0-9]"))) == {"A1", "A2", "C1"}


def test_filters_combine_as_and():
    assert members(inc(("concept", "is-a", "A"), ("code", "regex", ".*2"))) == {"A2"}


def test_exclude():
    compose = {
        "include": [{"system": SYS}],
        "exclude": [{"system": SYS, "concept": [{"code": "B"}]}],
    }
    assert "B" not in members(compose)
    compose["exclude"] = inc(("concept", "is-a", "A"))["include"]
    assert members(compose) == {"_Abstract", "B", "C", "C1"}


def test_include_value_sets_intersects_them():
    ctx = Ctx(
        {
            "vs:a": Expansion(members={SYS: {"A", "A1", "B"}}),
            "vs:b": Expansion(members={SYS: {"A1", "B", "C"}}),
        }
    )
    assert members({"include": [{"valueSet": ["vs:a", "vs:b"]}]}, ctx) == {"A1", "B"}
    assert members({"include": [{"valueSet": ["vs:a"]}, {"valueSet": ["vs:b"]}]}, ctx) == {
        "A",
        "A1",
        "B",
        "C",
    }
    # valueSet and system in one include: the value set's codes that the system part selects.
    both = {
        "include": [
            {
                "valueSet": ["vs:a"],
                "system": SYS,
                "filter": [{"property": "concept", "op": "is-a", "value": "A"}],
            }
        ]
    }
    assert members(both, ctx) == {"A", "A1"}


def test_unknown_included_value_set_is_a_problem():
    exp = expand_compose({"include": [{"valueSet": ["vs:missing"]}]}, Ctx())
    assert exp.problems == ["included value set vs:missing is not available"]


def test_system_we_do_not_hold_is_open_and_keeps_code_regexes():
    exp = expand_compose({"include": [{"system": "http://snomed.info/sct"}]}, Ctx())
    assert exp.members == {} and exp.open == {"http://snomed.info/sct": [ANY]}
    iso = "urn:iso:std:iso:3166"
    f = [{"property": "code", "op": "regex", "value": "[A-Z]{3}"}]
    exp = expand_compose({"include": [{"system": iso, "filter": f}]}, Ctx())
    assert exp.open == {iso: [("[A-Z]{3}",)]}
    # An exclude of listed codes from an open system is remembered.
    compose = {
        "include": [{"system": "http://snomed.info/sct"}],
        "exclude": [{"system": "http://snomed.info/sct", "concept": [{"code": "22298006"}]}],
    }
    assert expand_compose(compose, Ctx()).excluded == {"http://snomed.info/sct": {"22298006"}}


def test_code_system_versions_in_url_are_split():
    cs = from_resource({**CS, "url": SYS + "|2.4", "version": None}, "test")
    assert (cs.url, cs.version) == (SYS, "2.4")


DEPRECATED = "the 2019 publisher left deprecated codes out; compose keeps them"
ABSTRACT = "the 2019 publisher left some notSelectable codes out of whole-system includes"
# The index adds these to the official list, as the code system says they are usable.
POLY = "v3 concepts with several parents: the 2019 publisher followed only the first"
# Value sets whose official R4 expansion differs from our computation of their compose against
# the same code systems, and why. Any other difference is a bug in the engine.
EXPLAINED_DIFFERENCES = {
    "http://hl7.org/fhir/ValueSet/detectedissue-category|4.0.1": POLY,
    "http://hl7.org/fhir/ValueSet/diagnostic-service-sections|4.0.1": DEPRECATED,
    "http://hl7.org/fhir/ValueSet/example-hierarchical|4.0.1": "example: contained code system",
    "http://hl7.org/fhir/ValueSet/inactive|4.0.1": "example of an expansion without inactive codes",
    "http://hl7.org/fhir/ValueSet/item-type|4.0.1": ABSTRACT,
    "http://hl7.org/fhir/ValueSet/observation-interpretation|4.0.1": DEPRECATED,
    "http://hl7.org/fhir/ValueSet/patient-contactrelationship|4.0.1": DEPRECATED,
    "http://hl7.org/fhir/ValueSet/provenance-activity-type|4.0.1": ABSTRACT,
    "http://hl7.org/fhir/ValueSet/relatedperson-relationshiptype|4.0.1": DEPRECATED,
    "http://hl7.org/fhir/ValueSet/security-labels|4.0.1": DEPRECATED,
    "http://terminology.hl7.org/ValueSet/v2-0487|2.9": DEPRECATED,
    "http://terminology.hl7.org/ValueSet/v2-0916|2.9": DEPRECATED,
    "http://terminology.hl7.org/ValueSet/v2-2.7-0360|0360": "table 0360 edition 2.7 not held",
    "http://terminology.hl7.org/ValueSet/v3-ActCode|2018-08-12": ABSTRACT,
    "http://terminology.hl7.org/ValueSet/v3-ActPharmacySupplyType|2014-03-26": POLY,
    "http://terminology.hl7.org/ValueSet/v3-ActReason|2018-08-12": ABSTRACT,
}


def test_computed_expansions_agree_with_the_official_ones():
    """Where R4 publishes an expansion and we can compute the same value set from compose
    against the same code systems, the two agree but for a short list of explained cases."""
    report = json.loads(report_path().read_text(encoding="utf-8"))
    differing = {m["valueset"] for m in report["official_vs_computed_mismatches"]}
    print(f"official expansions {report['by_category']['expansion']}, differing: {len(differing)}")
    assert sorted(differing - set(EXPLAINED_DIFFERENCES)) == []
