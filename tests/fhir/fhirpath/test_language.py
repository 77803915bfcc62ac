"""Unit tests of the FHIRPath language as the engine implements it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ehr.fhir import fhirpath as fp
from ehr.fhir.fhirpath import FhirPathEvaluationError, FhirPathSyntaxError

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "active": True,
    "name": [
        {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
        {"use": "usual", "given": ["Jim"]},
    ],
    "birthDate": "1974-12-25",
    "_birthDate": {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "1974-12-25T14:35:45-05:00",
            }
        ]
    },
    "deceasedBoolean": False,
    "contact": [
        {
            "name": {
                "family": "du Marché",
                "_family": {"extension": [{"url": "x", "valueString": "v"}]},
            }
        },
        {"organization": {"reference": "Organization/1"}},
    ],
    "managingOrganization": {"reference": "#org"},
    "contained": [{"resourceType": "Organization", "id": "org", "name": "Acme"}],
}

OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
    "valueQuantity": {
        "value": 120.5,
        "unit": "mmHg",
        "system": "http://unitsofmeasure.org",
        "code": "mm[Hg]",
    },
    "effectiveDateTime": "2020-01-15T10:00:00Z",
    "component": [
        {"code": {"text": "a"}, "valueString": "x"},
        {"code": {"text": "b"}, "valueCodeableConcept": {"text": "y"}},
        {"code": {"text": "c"}, "_valueString": {"extension": [{"url": "u", "valueCode": "z"}]}},
    ],
}


def ev(expr: str, resource: dict | None = None, **kw: object) -> list:
    return fp.compile(expr).evaluate(PATIENT if resource is None else resource, **kw)


# ------------------------------------------------------------------ syntax and precedence


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2 * 3", [7]),
        ("(1 + 2) * 3", [9]),
        ("10 - 4 - 3", [3]),
        ("7 div 2", [3]),
        ("-7 div 2", [-3]),
        ("7 mod 3", [1]),
        ("7 / 2", [Decimal("3.5")]),
        ("-(3 + 4)", [-7]),
        ("2 + 3 = 5", [True]),
        ("1 < 2 = true", [True]),
        ("'a' & 'b' + 'c'", ["abc"]),
        ("true or false and false", [True]),
        ("false and true or true", [True]),
        ("true implies false or true", [True]),
        ("1 | 2 | 1 = (1 | 2)", [True]),
        ("(1 | 2).count()", [2]),
        ("5 is Integer", [True]),
        ("5 is Integer and true", [True]),
        ("1 in (1 | 2)", [True]),
        ("(1 | 2) contains 3", [False]),
        ("'abc'.length() + 1", [4]),
        ("{}.empty()", [True]),
        ("1.0 = 1", [True]),
        ("'a' != 'b'", [True]),
        ("2 >= 2 and 3 > 2 and 1 <= 1 and 0 < 1", [True]),
        ("(1 | 2 | 3)[1]", [2]),
        ("(1 | 2 | 3)[5]", []),
        ("// comment\n 1 /* block */ + 1", [2]),
    ],
)
def test_precedence_and_operators(expr: str, expected: list) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize(
    "expr", ["1 +", "name.", "name.where(", "'unterminated", "1 2", "@20x", "foo(1)", "a ! b"]
)
def test_syntax_errors_carry_position(expr: str) -> None:
    with pytest.raises(FhirPathSyntaxError) as info:
        fp.compile(expr)
    assert "position" in str(info.value)


def test_arity_is_checked_at_compile_time() -> None:
    with pytest.raises(FhirPathSyntaxError, match="argument"):
        fp.compile("name.where()")


def test_compile_is_cached_by_text() -> None:
    assert fp.compile("name.given") is fp.compile("name.given")


# ------------------------------------------------------------------ three-valued logic


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("true and {}", []),
        ("false and {}", [False]),
        ("{} and false", [False]),
        ("true or {}", [True]),
        ("false or {}", []),
        ("{} or true", [True]),
        ("true xor {}", []),
        ("true xor false", [True]),
        ("true xor true", [False]),
        ("false implies {}", [True]),
        ("{} implies true", [True]),
        ("{} implies false", []),
        ("true implies {}", []),
        ("{}.not()", []),
        ("true.not()", [False]),
        ("'x'.not()", [False]),
        ("{} = 1", []),
        ("1 != {}", []),
        ("{} ~ {}", [True]),
        ("{} + 1", []),
    ],
)
def test_three_valued_logic_and_empty_propagation(expr: str, expected: list) -> None:
    assert ev(expr) == expected


def test_multi_item_collection_as_boolean_is_an_error() -> None:
    with pytest.raises(FhirPathEvaluationError):
        ev("name.given and true")


# ------------------------------------------------------------------ collections


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("name.given", ["Peter", "James", "Jim"]),
        ("name.given.count()", [3]),
        ("name.given.first()", ["Peter"]),
        ("name.given.last()", ["Jim"]),
        ("name.given.tail()", ["James", "Jim"]),
        ("name.given.skip(1).take(1)", ["James"]),
        ("name.where(use = 'usual').given", ["Jim"]),
        ("name.select(given.first())", ["Peter", "Jim"]),
        ("name.given.where($this.startsWith('J'))", ["James", "Jim"]),
        ("name.given.select($index)", [0, 1, 2]),
        ("name.all(given.exists())", [True]),
        ("name.all(family.exists())", [False]),
        ("name.exists(family = 'Chalmers')", [True]),
        ("(1 | 2 | 2).count()", [2]),
        ("(1).combine(1).count()", [2]),
        ("(1).union(2).count()", [2]),
        ("(1 | 2 | 3).intersect(2 | 3 | 4)", [2, 3]),
        ("(1 | 2 | 3).exclude(2)", [1, 3]),
        ("(1 | 2).subsetOf(1 | 2 | 3)", [True]),
        ("(1 | 2).supersetOf(3)", [False]),
        ("(1).combine(1).isDistinct()", [False]),
        ("(1).combine(1).distinct()", [1]),
        ("(true | false).anyTrue()", [True]),
        ("(true | false).allTrue()", [False]),
        ("(false).allFalse()", [True]),
        ("(1 | 2 | 3).aggregate($this + $total, 0)", [6]),
        ("name.given.single()", None),
        ("Patient.name.family", ["Chalmers"]),
        ("Resource.id", ["p1"]),
        ("DomainResource.id", ["p1"]),
        ("Observation.id", []),
        ("contact.repeat(name).family", ["du Marché"]),
        ("iif(active, 'yes', 'no')", ["yes"]),
        ("managingOrganization.resolve().iif(empty(), true, name)", ["Acme"]),
    ],
)
def test_collections_and_functions(expr: str, expected: list | None) -> None:
    if expected is None:
        with pytest.raises(FhirPathEvaluationError):
            ev(expr)
    else:
        assert ev(expr) == expected


def test_children_and_descendants() -> None:
    assert ev("contact[0].children().count()") == [1]
    assert "Acme" in ev("descendants()")
    assert ev("name[1].descendants()") == ["usual", "Jim"]


def test_variables() -> None:
    assert ev("%ucum") == ["http://unitsofmeasure.org"]
    assert ev("%sct") == ["http://snomed.info/sct"]
    assert ev("%loinc") == ["http://loinc.org"]
    assert ev("%`vs-administrative-gender`") == [
        "http://hl7.org/fhir/ValueSet/administrative-gender"
    ]
    assert ev("%'ext-patient-birthTime'") == [
        "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
    ]
    assert ev('%"vs-x"') == ["http://hl7.org/fhir/ValueSet/x"]
    assert ev("%resource.id") == ["p1"]
    assert ev("%rootResource.id") == ["p1"]
    assert ev("%limit + 1", variables={"limit": 2}) == [3]
    contact = PATIENT["contact"][0]
    assert fp.compile("%context.name.family").evaluate(
        PATIENT, contact, focus_type="Patient", focus_path="Patient.contact"
    ) == ["du Marché"]
    with pytest.raises(FhirPathEvaluationError):
        ev("%undefined")


# ------------------------------------------------------------------ dates and times


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("@2020-01 = @2020-01", [True]),
        ("@2020-01 = @2020-01-01", []),
        ("@2020-01 = @2020-02-01", [False]),
        ("@2020-01 < @2020-02-15", [True]),
        ("@2020-01 < @2020-01-15", []),
        ("@2020-01-01 ~ @2020-01", [False]),
        ("@2020-01-01T10:00:00Z = @2020-01-01T11:00:00+01:00", [True]),
        ("@2020-01-01T10:00:00.0 = @2020-01-01T10:00:00", [True]),
        ("@2020-01-01T10:00 < @2020-01-01T10:00:30", []),
        ("@T12:00 > @T11:59:59", [True]),
        ("@T12:00 = @T12:00:00", []),
        ("@2020-01-31 + 1 month", ["2020-02-29"]),
        ("@2020-01-01 - 1 day", ["2019-12-31"]),
        ("@2020-01-01T10:00:00Z + 90 minutes", ["2020-01-01T11:30:00Z"]),
        ("@2019 + 1 year", ["2020"]),
        ("birthDate < @1975", [True]),
        ("birthDate = @1974-12-25", [True]),
        ("birthDate > @1974-12-25T10:00:00Z", []),
        ("'2020-01-01'.toDateTime() = @2020-01-01", [True]),
        ("'10:00'.toTime() = @T10:00", [True]),
        ("now() > @2020-01-01", [True]),
        ("today() >= @2020-01-01", [True]),
        ("birthDate.toString()", ["1974-12-25"]),
    ],
)
def test_dates_with_partial_precision(expr: str, expected: list) -> None:
    assert ev(expr) == expected


def test_date_compared_with_a_string_is_read_as_a_date() -> None:
    assert ev("birthDate >= '1974-01-01'") == [True]


# ------------------------------------------------------------------ quantities


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("4 'mg' = 4 'mg'", [True]),
        ("4 'g' = 4000 'mg'", [True]),
        ("1 'L' > 900 'mL'", [True]),
        ("5 'mg/dL' = 50 'mg/L'", [True]),
        ("4 'mg' = 4 'mL'", []),
        ("3 days = 3 'd'", [True]),
        ("1 week = 7 days", [True]),
        ("1 year = 12 months", []),
        (
            "2 'mg' + 3 'mg'",
            [
                {
                    "value": Decimal(5),
                    "unit": "mg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg",
                }
            ],
        ),
        ("'4 mg'.toQuantity()", []),
        ("'4 \\'mg\\''.toQuantity() = 4 'mg'", [True]),
        ("'2 days'.convertsToQuantity()", [True]),
        ("-4 'mg' < 0 'mg'", [True]),
    ],
)
def test_quantities(expr: str, expected: list) -> None:
    assert ev(expr) == expected


def test_quantity_node_compares_with_ucum() -> None:
    assert ev("value > 100 'mm[Hg]'", OBSERVATION) == [True]
    assert ev("value < 1 'bar'", OBSERVATION) == [True]
    assert ev("value = 120.5 'mm[Hg]'", OBSERVATION) == [True]


# ------------------------------------------------------------------ strings and conversions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("'abcdef'.indexOf('cd')", [2]),
        ("'abcdef'.indexOf('x')", [-1]),
        ("'abcdef'.substring(2)", ["cdef"]),
        ("'abcdef'.substring(2, 2)", ["cd"]),
        ("'abcdef'.substring(10)", []),
        ("'abc'.startsWith('ab')", [True]),
        ("'abc'.endsWith('bc')", [True]),
        ("'abc'.contains('x')", [False]),
        ("'abc'.upper()", ["ABC"]),
        ("'ABC'.lower()", ["abc"]),
        ("'a.b.c'.replace('.', '/')", ["a/b/c"]),
        ("'abc123'.matches('[0-9]+')", [True]),
        ("'abc'.matches('^[0-9]+$')", [False]),
        ("'Obs.code'.replaceMatches('\\\\..*', '')", ["Obs"]),
        ("'2020-12'.replaceMatches('(\\\\d+)-(\\\\d+)', '$2/$1')", ["12/2020"]),
        ("'abc'.length()", [3]),
        ("'abc'.toChars()", ["a", "b", "c"]),
        ("'A  b' ~ 'a b'", [True]),
        ("'12'.toInteger() + 1", [13]),
        ("'1.5'.toDecimal()", [Decimal("1.5")]),
        ("'x'.toInteger()", []),
        ("'x'.convertsToInteger()", [False]),
        ("'true'.toBoolean()", [True]),
        ("'no'.toBoolean()", [False]),
        ("1.toString()", ["1"]),
        ("true.toString()", ["true"]),
        ("(1.0 ~ 1.04)", [True]),
        ("'\\u00e9'", ["é"]),
        ("{}.upper()", []),
    ],
)
def test_strings_and_conversions(expr: str, expected: list) -> None:
    assert ev(expr) == expected


def test_string_functions_on_string_nodes() -> None:
    assert ev("name.family.upper()") == ["CHALMERS"]
    assert ev("name.given.where(length() > 3)") == ["Peter", "James"]


# ------------------------------------------------------------------ choice elements and types


def test_choice_navigation_finds_every_json_name() -> None:
    assert ev("value.value", OBSERVATION) == [120.5]
    assert ev("value is Quantity", OBSERVATION) == [True]
    assert ev("(value as Quantity).unit", OBSERVATION) == ["mmHg"]
    assert ev("value.as(CodeableConcept)", OBSERVATION) == []
    assert ev("effective > @2020-01-01", OBSERVATION) == [True]
    assert ev("component.value.ofType(string)", OBSERVATION) == ["x", None]
    assert ev("component.value.ofType(CodeableConcept).text", OBSERVATION) == ["y"]
    assert ev("Observation.component.value.count()", OBSERVATION) == [3]
    assert ev("deceased = false") == [True]
    assert ev("deceased is boolean") == [True]
    assert ev("deceased is Boolean") == [True]
    assert ev("deceased is System.Boolean") == [True]
    assert ev("deceased is FHIR.boolean") == [True]
    assert ev("deceased is dateTime") == [False]


def test_type_hierarchy() -> None:
    assert ev("gender is code", {"resourceType": "Patient", "gender": "male"}) == [True]
    assert ev("gender is string", {"resourceType": "Patient", "gender": "male"}) == [True]
    assert ev("gender is uri", {"resourceType": "Patient", "gender": "male"}) == [False]
    assert ev("is(Patient) and is(DomainResource) and is(Resource)") == [True]
    assert ev("name.first() is HumanName and name.first() is Element") == [True]
    assert ev("'a' is String and 1 is Integer and 1.5 is Decimal and @2020 is Date") == [True]
    assert ev("contact.first() is BackboneElement") == [True]


def test_backbone_and_content_reference_focus() -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [
            {
                "linkId": "1",
                "type": "group",
                "item": [{"linkId": "1.1", "type": "string", "item": [{"linkId": "1.1.1"}]}],
            }
        ],
    }
    assert ev("item.item.item.linkId", questionnaire) == ["1.1.1"]
    assert ev("descendants().linkId.isDistinct()", questionnaire) == [True]
    inner = questionnaire["item"][0]["item"][0]
    assert fp.compile("type = 'string' and item.linkId = '1.1.1'").evaluate(
        questionnaire, inner, focus_type="Questionnaire", focus_path="Questionnaire.item.item"
    ) == [True]
    assert fp.compile("name.family").evaluate(
        PATIENT, PATIENT["contact"][0], focus_type="Patient", focus_path="Patient.contact"
    ) == ["du Marché"]
    assert fp.compile("given.count()").evaluate(
        PATIENT, PATIENT["name"][0], focus_type="HumanName", focus_path="HumanName"
    ) == [2]


# ------------------------------------------------------------------ primitive extensions


def test_primitive_extensions() -> None:
    assert ev("birthDate.extension.url") == [
        "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
    ]
    url = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
    assert ev(f"birthDate.extension('{url}').value") == ["1974-12-25T14:35:45-05:00"]
    assert ev("birthDate.hasValue()") == [True]
    assert ev("contact.name.family.extension.value") == ["v"]


def test_primitive_arrays_pair_with_nulls() -> None:
    resource = {
        "resourceType": "Patient",
        "name": [
            {
                "given": ["a", None, "c"],
                "_given": [
                    None,
                    {"extension": [{"url": "u", "valueString": "only-ext"}]},
                    {"id": "g3"},
                ],
            }
        ],
    }
    assert ev("name.given.count()", resource) == [3]
    assert ev("name.given", resource) == ["a", None, "c"]
    assert ev("name.given[1].hasValue()", resource) == [False]
    assert ev("name.given[1].extension.value", resource) == ["only-ext"]
    assert ev("name.given[2].id", resource) == ["g3"]
    assert ev("name.given.where(hasValue()).count()", resource) == [2]
    assert ev("name.given[1].hasValue() or (children().count() > id.count())", resource) == [True]


def test_value_only_in_extension_of_choice() -> None:
    assert ev("component[2].value.exists()", OBSERVATION) == [True]
    assert ev("component[2].value.hasValue()", OBSERVATION) == [False]
    assert ev("component[2].value.extension.value", OBSERVATION) == ["z"]


# ------------------------------------------------------------------ resolve()


def test_resolve_contained() -> None:
    assert ev("managingOrganization.resolve().name") == ["Acme"]
    assert ev("managingOrganization.resolve() is Organization") == [True]


def test_resolve_stub_has_the_reference_type() -> None:
    assert ev("contact.organization.resolve() is Organization") == [True]
    assert ev("contact.organization.where(resolve() is Patient)") == []
    abs_ref = {
        "resourceType": "Observation",
        "subject": {"reference": "http://example.org/fhir/Patient/9/_history/2"},
    }
    assert ev("subject.where(resolve() is Patient).exists()", abs_ref) == [True]


def test_resolve_in_bundle() -> None:
    patient = {"resourceType": "Patient", "id": "a", "name": [{"family": "Bundled"}]}
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "urn:uuid:1111"},
        "performer": [{"reference": "Patient/a"}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1111", "resource": patient},
            {"fullUrl": "http://x.org/fhir/Observation/o", "resource": obs},
        ],
    }
    expr = fp.compile("subject.resolve().name.family | performer.resolve().name.family")
    assert expr.evaluate(obs, root_resource=bundle) == ["Bundled"]
    assert fp.compile("entry[1].resource.subject.resolve().name.family").evaluate(bundle) == [
        "Bundled"
    ]
    assert fp.compile("type = 'document' implies entry.first().resource.is(Composition)").evaluate(
        bundle
    ) == [True]


# ------------------------------------------------------------------ FHIR functions


def test_html_checks() -> None:
    ok = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Hello <b>there</b></p></div>'
    script = '<div xmlns="http://www.w3.org/1999/xhtml"><script>x()</script>hi</div>'
    event = '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">hi</p></div>'
    empty = '<div xmlns="http://www.w3.org/1999/xhtml">  <p/> </div>'
    image = '<div xmlns="http://www.w3.org/1999/xhtml"><img src="a.png"/></div>'
    no_ns = "<div><p>hi</p></div>"
    for div, expected in (
        (ok, True),
        (script, False),
        (event, False),
        (empty, False),
        (image, True),
        (no_ns, False),
        ("<div", False),
    ):
        res = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
        assert ev("text.div.htmlChecks()", res) == [expected], div


def test_terminology_and_profile_checks_are_unknown() -> None:
    assert ev("gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')") == []
    assert ev("conformsTo('http://hl7.org/fhir/StructureDefinition/Patient')") == []


def test_trace_and_has_value_and_get_value() -> None:
    assert ev("name.given.trace('g').count()") == [3]
    assert ev("active.hasValue()") == [True]
    assert ev("name.hasValue()") == [False]
    assert ev("active.getValue()") == [True]


def test_check_and_truthy() -> None:
    assert fp.compile("name.exists()").check(PATIENT) is True
    assert fp.compile("name.where(use = 'old').family").check(PATIENT) is None
    assert fp.compile("name.given").check(PATIENT) is True
    assert fp.truthy([False]) is False


def test_iter_elements_gives_constraint_paths() -> None:
    paths = {(owner, path) for owner, path, _ in fp.iter_elements(PATIENT)}
    assert ("Patient", "Patient.contact") in paths
    assert ("Patient", "Patient.contact.name") in paths
    assert ("HumanName", "HumanName.given") in paths
    assert ("date", "date.extension") in paths
    assert ("Patient", "Patient.deceased[x]") in paths
    assert not any(p.startswith("Organization") for _, p in paths)  # contained not entered
