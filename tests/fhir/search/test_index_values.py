"""Index rows extracted from small hand-written resources, one kind of value at a time."""

from __future__ import annotations

from ehr.fhir.search.extract import hash64
from ehr.fhir.search.index_values import IndexRows, coverage, extract, extract_with_engine
from ehr.fhir.search.normalize import (
    INF,
    MAX_US,
    MIN_US,
    STRING_MAX,
    TEXT_MAX,
    composite_key,
    date_range,
)

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


def rows_of(rows: list[tuple], hp: int) -> list[tuple]:
    """Rows (without hash_param) of one parameter in a table whose first column is it."""
    return [r[1:] for r in rows if r[0] == hp]


def tokens(rows: IndexRows, param: str) -> list[tuple]:
    """(system, code, text) of the token rows of ``param``."""
    return [(t[5], t[6], t[7]) for t in rows.tokens if t[0] == param]


def both(rtype: str, resource: dict) -> IndexRows:
    """Extract, and check the FHIRPath engine gives the same rows."""
    rows = extract(rtype, resource)
    ref = extract_with_engine(rtype, resource)
    for field in IndexRows.__slots__:
        a, b = getattr(rows, field), getattr(ref, field)
        if isinstance(a, list):
            assert sorted(map(repr, a)) == sorted(map(repr, b)), field
        else:
            assert a == b, field
    return rows


# ------------------------------------------------------------------ tokens

BP = {
    "resourceType": "Observation",
    "id": "bp",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ],
    "code": {
        "coding": [
            {"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"},
            {"system": "http://snomed.info/sct", "code": "75367002", "display": "Blood pressure"},
        ],
        "text": "Blood pressure",
    },
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2020-05-01T10:00:00+02:00",
    "component": [
        {
            "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
            "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        },
        {
            "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
            "valueQuantity": {"value": 80.5, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        },
    ],
}


def test_codeable_concept_tokens_hashes_and_text():
    rows = both("Observation", BP)
    assert tokens(rows, "code") == [
        (LOINC, "85354-9", "blood pressure"),
        (LOINC, "85354-9", "blood pressure panel"),  # the display differs from the text
        ("http://snomed.info/sct", "75367002", "blood pressure"),
    ]
    row = next(t for t in rows.tokens if t[0] == "code")
    assert row[1:5] == (
        hash64("Observation", "code"),
        hash64("Observation", "code", "85354-9"),
        hash64("Observation", "code", LOINC, "85354-9"),
        hash64("Observation", "code", LOINC),
    )
    # combo-code takes the components' codes too
    assert (LOINC, "8480-6", None) in tokens(rows, "combo-code")
    assert (LOINC, "8480-6", None) in tokens(rows, "component-code")


def test_code_with_a_required_binding_gets_the_value_set_system():
    rows = both("Observation", BP)
    assert tokens(rows, "status") == [("http://hl7.org/fhir/observation-status", "final", None)]
    patient = {"resourceType": "Patient", "gender": "female", "active": True}
    rows = both("Patient", patient)
    assert tokens(rows, "gender") == [("http://hl7.org/fhir/administrative-gender", "female", None)]
    assert tokens(rows, "active") == [(None, "true", None)]  # boolean: no system


def test_text_only_concept_gives_a_row_without_code():
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "Weird  Stuff"}}
    rows = both("Observation", obs)
    assert [t for t in rows.tokens if t[0] == "code"] == [
        ("code", hash64("Observation", "code"), 0, 0, 0, None, None, "weird stuff")
    ]


def test_identifier_with_of_type_rows_and_dedupe():
    mr = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
    ident = {"system": "urn:oid:1.2.3", "value": "12345", "type": {**mr, "text": "Medical Record"}}
    patient = {"resourceType": "Patient", "identifier": [ident, ident, {"system": "x"}]}
    rows = both("Patient", patient)
    assert tokens(rows, "identifier") == [("urn:oid:1.2.3", "12345", "medical record")]
    of_type = [t for t in rows.tokens if t[0] == "identifier:of-type"]
    assert [(t[5], t[6]) for t in of_type] == [
        ("http://terminology.hl7.org/CodeSystem/v2-0203", "MR|12345")
    ]
    assert of_type[0][1] == hash64("Patient", "identifier:of-type")
    assert of_type[0][3] == hash64(
        "Patient", "identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203", "MR|12345"
    )


def test_contact_points_have_no_system_and_where_filters_apply():
    patient = {
        "resourceType": "Patient",
        "telecom": [
            {"system": "phone", "value": "555-1234", "use": "home"},
            {"system": "email", "value": "a@b.org"},
        ],
    }
    rows = both("Patient", patient)
    assert tokens(rows, "telecom") == [(None, "555-1234", None), (None, "a@b.org", None)]
    assert tokens(rows, "phone") == [(None, "555-1234", None)]
    assert tokens(rows, "email") == [(None, "a@b.org", None)]


def test_meta_tags_security_profile_and_source():
    obs = {
        "resourceType": "Observation",
        "meta": {
            "tag": [{"system": "http://t", "code": "t1", "display": "Tag One"}],
            "security": [{"system": "http://s", "code": "R"}],
            "profile": ["http://p/StructureDefinition/x|1.0"],
            "source": "http://src#a",
        },
    }
    rows = both("Observation", obs)
    assert tokens(rows, "_tag") == [("http://t", "t1", "tag one")]
    assert tokens(rows, "_security") == [("http://s", "R", None)]
    assert rows_of(rows.uris, hash64("Observation", "_profile")) == [
        ("http://p/StructureDefinition/x|1.0",),
        ("http://p/StructureDefinition/x",),
    ]
    assert rows_of(rows.uris, hash64("Observation", "_source")) == [("http://src#a",)]


# ------------------------------------------------------------------ strings

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [
        {"family": "Dupont-Léger", "given": ["Ève", "Marie"], "prefix": ["Mme"]},
        {"text": "Eve D."},
    ],
    "address": [
        {
            "line": ["12 Rue de la Paix", "Apt 3"],
            "city": "Paris",
            "postalCode": "75002",
            "country": "FR",
        }
    ],
    "birthDate": "1974-12",
    "deceasedBoolean": False,
}


def test_human_names_and_addresses():
    rows = both("Patient", PATIENT)
    name = rows_of(rows.strings, hash64("Patient", "name"))
    assert name == [
        ("mme", "Mme"),
        ("eve", "Ève"),
        ("marie", "Marie"),
        ("dupont-leger", "Dupont-Léger"),
        ("mme eve marie dupont-leger", "Mme Ève Marie Dupont-Léger"),  # the whole name
        ("eve d.", "Eve D."),
    ]
    assert rows_of(rows.strings, hash64("Patient", "family")) == [("dupont-leger", "Dupont-Léger")]
    assert rows_of(rows.strings, hash64("Patient", "address")) == [
        ("12 rue de la paix", "12 Rue de la Paix"),
        ("apt 3", "Apt 3"),
        ("paris", "Paris"),
        ("75002", "75002"),
        ("fr", "FR"),
    ]
    assert rows_of(rows.strings, hash64("Patient", "address-city")) == [("paris", "Paris")]


def test_long_strings_are_truncated_in_value_norm_only():
    long = "A" * 500
    rows = both("Patient", {"resourceType": "Patient", "name": [{"family": long}]})
    (norm, exact) = rows_of(rows.strings, hash64("Patient", "family"))[0]
    assert norm == "a" * STRING_MAX and exact == long


# ------------------------------------------------------------------ dates


def test_partial_dates_periods_and_timings():
    rows = both("Patient", PATIENT)
    assert rows_of(rows.dates, hash64("Patient", "birthdate")) == [date_range("1974-12")]
    obs = {"resourceType": "Observation", "effectivePeriod": {"start": "2020-01-01"}}
    rows = both("Observation", obs)
    assert rows_of(rows.dates, hash64("Observation", "date")) == [
        (date_range("2020-01-01")[0], MAX_US)
    ]
    obs = {"resourceType": "Observation", "effectivePeriod": {"end": "2020-01"}}
    assert rows_of(both("Observation", obs).dates, hash64("Observation", "date")) == [
        (MIN_US, date_range("2020-01")[1])
    ]
    timing = {
        "event": ["2020-03-05T10:00:00Z", "2020-03-01"],
        "repeat": {"boundsPeriod": {"start": "2020-02-15", "end": "2020-02-20"}},
    }
    sr = {"resourceType": "ServiceRequest", "occurrenceTiming": timing}
    assert rows_of(both("ServiceRequest", sr).dates, hash64("ServiceRequest", "occurrence")) == [
        (date_range("2020-02-15")[0], date_range("2020-03-05T10:00:00Z")[1])
    ]
    # a string where a date parameter looks is not a date
    proc = {"resourceType": "Procedure", "performedString": "last spring"}
    assert both("Procedure", proc).dates == []


def test_instants_with_zones():
    rows = both("Observation", BP)
    low, high = rows_of(rows.dates, hash64("Observation", "date"))[0]
    assert low == date_range("2020-05-01T08:00:00Z")[0] and high - low == 999_999


# ------------------------------------------------------------------ numbers and quantities


def test_numbers_keep_their_precision():
    ra = {
        "resourceType": "RiskAssessment",
        "prediction": [
            {"probabilityDecimal": 0.25},
            {"probabilityRange": {"low": {"value": 1}, "high": {"value": 2.5}}},
        ],
    }
    rows = both("RiskAssessment", ra)
    got = rows_of(rows.numbers, hash64("RiskAssessment", "probability"))
    assert got == [(0.25, 0.245, 0.255), (1.0, 1.0, 2.55)]
    ms = {"resourceType": "MolecularSequence", "variant": [{"start": 10, "end": 20}]}
    rows = both("MolecularSequence", ms)
    assert rows_of(rows.numbers, hash64("MolecularSequence", "variant-start")) == [
        (10.0, 10.0, 10.0)
    ]


def test_quantities_units_codes_comparators_money_ranges_and_ages():
    obs = {
        "resourceType": "Observation",
        "valueQuantity": {
            "value": 5.40,
            "comparator": "<",
            "unit": "mmHg",
            "system": UCUM,
            "code": "mm[Hg]",
        },
    }
    rows = both("Observation", obs)
    hp = hash64("Observation", "value-quantity")
    assert rows_of(rows.quantities, hp) == [
        (
            hash64("Observation", "value-quantity", UCUM, "mm[Hg]"),
            hash64("Observation", "value-quantity", "mm[Hg]"),
            5.4,
            -INF,  # "<5.4": anything below
            5.45,
        ),
        (0, hash64("Observation", "value-quantity", "mmHg"), 5.4, -INF, 5.45),  # the unit alone
    ]
    item = {"resourceType": "ChargeItem", "priceOverride": {"value": 12, "currency": "EUR"}}
    rows = both("ChargeItem", item)
    assert rows_of(rows.quantities, hash64("ChargeItem", "price-override")) == [
        (
            hash64("ChargeItem", "price-override", "urn:iso:std:iso:4217", "EUR"),
            hash64("ChargeItem", "price-override", "EUR"),
            12.0,
            12.0,
            12.0,
        )
    ]
    cond = {"resourceType": "Condition", "onsetAge": {"value": 52, "system": UCUM, "code": "a"}}
    rows = both("Condition", cond)
    assert rows_of(rows.quantities, hash64("Condition", "onset-age"))[0][2:] == (52.0, 52.0, 52.0)
    cond = {"resourceType": "Condition", "onsetRange": {"low": {"value": 10, "code": "a"}}}
    rows = both("Condition", cond)
    assert rows_of(rows.quantities, hash64("Condition", "onset-age")) == [
        (
            hash64("Condition", "onset-age", "", "a"),
            hash64("Condition", "onset-age", "a"),
            10.0,
            10.0,
            INF,
        )
    ]


def test_quantity_without_value_or_units():
    obs = {"resourceType": "Observation", "valueQuantity": {"unit": "mg"}}
    assert both("Observation", obs).quantities == []
    obs = {"resourceType": "Observation", "valueQuantity": {"value": 3}}
    hp = hash64("Observation", "value-quantity")
    assert rows_of(both("Observation", obs).quantities, hp) == [(0, 0, 3.0, 3.0, 3.0)]


# ------------------------------------------------------------------ references and uris


def test_references_of_every_form():
    obs = {
        "resourceType": "Observation",
        "contained": [{"resourceType": "Patient", "id": "c1"}],
        "subject": {"reference": "Patient/p1/_history/3"},
        "performer": [
            {"reference": "https://other.org/fhir/Practitioner/dr-1/_history/2"},
            {"reference": "urn:uuid:0b4f2a36-4a3e-4c52-9d0b-2a4e0b1d9c11"},
            {"reference": "#c1"},
            {"identifier": {"system": "http://npi", "value": "999"}, "display": "Dr X"},
            {"display": "nobody"},
        ],
        "focus": [{"reference": "Group/g1"}],
    }
    rows = both("Observation", obs)
    assert rows_of(rows.references, hash64("Observation", "subject")) == [("Patient", "p1", None)]
    assert rows_of(rows.references, hash64("Observation", "patient")) == [("Patient", "p1", None)]
    assert rows_of(rows.references, hash64("Observation", "performer")) == [
        ("Practitioner", "dr-1", "https://other.org/fhir/Practitioner/dr-1"),
        (None, None, "urn:uuid:0b4f2a36-4a3e-4c52-9d0b-2a4e0b1d9c11"),
    ]  # "#c1" (contained) gives no row
    assert tokens(rows, "performer:identifier") == [("http://npi", "999", None)]
    ident_row = next(t for t in rows.tokens if t[0] == "performer:identifier")
    assert ident_row[1] == hash64("Observation", "performer:identifier")
    # resolve() is Patient keeps Patient references only
    obs = {"resourceType": "Observation", "subject": {"reference": "Group/g1"}}
    rows = both("Observation", obs)
    assert rows_of(rows.references, hash64("Observation", "patient")) == []
    assert rows_of(rows.references, hash64("Observation", "subject")) == [("Group", "g1", None)]


def test_canonical_references_and_uris():
    qr = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://example.org/Questionnaire/q1|2.0",
    }
    rows = both("QuestionnaireResponse", qr)
    assert rows_of(rows.references, hash64("QuestionnaireResponse", "questionnaire")) == [
        (None, None, "http://example.org/Questionnaire/q1|2.0"),
        (None, None, "http://example.org/Questionnaire/q1"),
    ]
    vs = {"resourceType": "ValueSet", "url": "http://example.org/ValueSet/v", "status": "draft"}
    rows = both("ValueSet", vs)
    assert rows_of(rows.uris, hash64("ValueSet", "url")) == [("http://example.org/ValueSet/v",)]


# ------------------------------------------------------------------ composites


def test_observation_code_value_quantity():
    obs = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
        "valueQuantity": {"value": 185, "unit": "lbs", "system": UCUM, "code": "[lb_av]"},
    }
    rows = both("Observation", obs)
    hp = hash64("Observation", "code-value-quantity")
    assert rows_of(rows.composites, hp) == [
        (composite_key("Observation", "code-value-quantity", "29463-7"), 185.0, 185.0),
        (composite_key("Observation", "code-value-quantity", f"{LOINC}|29463-7"), 185.0, 185.0),
    ]
    # the combo parameter takes the observation itself as one of its roots
    assert len(rows_of(rows.composites, hash64("Observation", "combo-code-value-quantity"))) == 2
    # no value of another type: nothing for the concept, date and string composites
    for p in ("code-value-concept", "code-value-date", "code-value-string"):
        assert rows_of(rows.composites, hash64("Observation", p)) == []


def test_component_code_value_quantity_keeps_pairs_together():
    rows = both("Observation", BP)
    hp = hash64("Observation", "component-code-value-quantity")
    got = rows_of(rows.composites, hp)
    key = composite_key("Observation", "component-code-value-quantity", f"{LOINC}|8480-6")
    assert (key, 120.0, 120.0) in got
    key = composite_key("Observation", "component-code-value-quantity", "8462-4")
    assert (key, 80.5 - 0.05, 80.5 + 0.05) in [(k, round(lo, 9), round(hi, 9)) for k, lo, hi in got]
    assert len(got) == 4  # 2 components x (code, system|code); no 8480-6 with 80.5
    assert not any(k == key and lo == 120.0 for k, lo, _hi in got)


def test_code_value_concept_date_and_string():
    obs = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
        "valueCodeableConcept": {
            "coding": [{"system": "http://snomed.info/sct", "code": "266919005"}]
        },
    }
    rows = both("Observation", obs)
    hp = hash64("Observation", "code-value-concept")
    keys = {k for k, lo, hi in rows_of(rows.composites, hp)}
    assert keys == {
        composite_key("Observation", "code-value-concept", v1, v2)
        for v1 in ("72166-2", f"{LOINC}|72166-2")
        for v2 in ("266919005", "http://snomed.info/sct|266919005")
    }
    obs = {
        "resourceType": "Observation",
        "code": {"coding": [{"code": "x"}]},
        "valuePeriod": {"start": "2020-01-01"},
    }
    rows = both("Observation", obs)
    got = rows_of(rows.composites, hash64("Observation", "code-value-date"))
    assert got == [
        (
            composite_key("Observation", "code-value-date", v),
            float(date_range("2020-01-01")[0]),
            float(MAX_US),
        )
        for v in ("x", "|x")
    ]
    obs = {
        "resourceType": "Observation",
        "code": {"coding": [{"code": "x"}]},
        "valueString": "Positive  Result",
    }
    rows = both("Observation", obs)
    got = rows_of(rows.composites, hash64("Observation", "code-value-string"))
    assert got == [
        (composite_key("Observation", "code-value-string", v, "positive result"), None, None)
        for v in ("x", "|x")
    ]


def test_use_context_composites():
    vs = {
        "resourceType": "ValueSet",
        "status": "draft",
        "useContext": [
            {
                "code": {
                    "system": "http://terminology.hl7.org/CodeSystem/usage-context-type",
                    "code": "age",
                },
                "valueRange": {
                    "low": {"value": 18, "code": "a"},
                    "high": {"value": 65, "code": "a"},
                },
            }
        ],
    }
    rows = both("ValueSet", vs)
    got = rows_of(rows.composites, hash64("ValueSet", "context-type-quantity"))
    assert got == [
        (composite_key("ValueSet", "context-type-quantity", "age"), 18.0, 65.0),
        (
            composite_key(
                "ValueSet",
                "context-type-quantity",
                "http://terminology.hl7.org/CodeSystem/usage-context-type|age",
            ),
            18.0,
            65.0,
        ),
    ]


# ------------------------------------------------------------------ engine branches, extensions


def test_deceased_and_extension_parameters():
    rows = both("Patient", PATIENT)
    assert tokens(rows, "deceased") == [(None, "false", None)]
    alive = both("Patient", {"resourceType": "Patient"})
    assert tokens(alive, "deceased") == [(None, "false", None)]  # the expression says so
    dead = both("Patient", {"resourceType": "Patient", "deceasedDateTime": "2020-01-01"})
    assert tokens(dead, "deceased") == [(None, "true", None)]
    assert rows_of(dead.dates, hash64("Patient", "death-date")) == [date_range("2020-01-01")]
    ext = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
    patient = {"resourceType": "Patient", "extension": [{"url": ext, "valueString": "Smith"}]}
    rows = both("Patient", patient)
    # R4's expression names another URL than the extension's own: the definition decides
    assert rows_of(rows.strings, hash64("Patient", "mothersMaidenName")) == []
    url = "http://hl7.org/fhir/StructureDefinition/patient-extensions-Patient-mothersMaidenName"
    patient = {"resourceType": "Patient", "extension": [{"url": url, "valueString": "Smith"}]}
    rows = both("Patient", patient)
    assert rows_of(rows.strings, hash64("Patient", "mothersMaidenName")) == [("smith", "Smith")]


def test_bundle_composition_is_the_first_entry():
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c1", "status": "final"}}],
    }
    rows = both("Bundle", bundle)
    assert rows_of(rows.references, hash64("Bundle", "composition")) == [
        ("Composition", "c1", None)
    ]


def test_item_subject_runs_on_the_engine():
    assert coverage("QuestionnaireResponse")["item-subject"][0] == "engine"
    flag = "http://hl7.org/fhir/StructureDefinition/questionnaireresponse-isSubject"
    qr = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {
                "linkId": "1",
                "extension": [{"url": flag, "valueBoolean": True}],
                "answer": [{"valueReference": {"reference": "Patient/p9"}}],
            },
            {"linkId": "2", "answer": [{"valueReference": {"reference": "Patient/p8"}}]},
        ],
    }
    rows = both("QuestionnaireResponse", qr)
    assert rows_of(rows.references, hash64("QuestionnaireResponse", "item-subject")) == [
        ("Patient", "p9", None)
    ]


# ------------------------------------------------------------------ _text and _content


def test_narrative_and_content():
    obs = {
        "resourceType": "Observation",
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Blood&nbsp;<b>Préssure</b>'
            "</p><p>120 &amp; 80</p></div>",
        },
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "BP Panel"}]},
        "valueString": "Hello\n World",
    }
    rows = both("Observation", obs)
    assert rows.narrative == "blood pressure 120 & 80"
    words = rows.content.split()
    assert "85354-9" in words and "bp" in words and "hello" in words and "final" in words
    assert LOINC not in rows.content and "xhtml" not in rows.content and "<" not in rows.content
    assert both("Observation", {"resourceType": "Observation"}).narrative is None
    big = {"resourceType": "Basic", "extension": [{"url": "u", "valueString": "word " * 20000}]}
    rows = extract("Basic", big)
    assert len(rows.content) == TEXT_MAX


def test_malformed_values_give_no_rows_and_no_error():
    """Extraction runs after validation, but must not fail on odd data either."""
    obs = {
        "resourceType": "Observation",
        "status": None,
        "code": {"coding": [None, {"system": 5, "code": "x"}, {"code": 7}], "text": None},
        "subject": {"reference": 12},
        "performer": [None, {"reference": ""}, {"identifier": {"system": 1, "value": "v"}}],
        "effectiveDateTime": "not a date",
        "valueQuantity": {"value": "abc", "code": 3},
        "component": [None, {"code": None, "valueQuantity": None}],
        "category": "not a list",
    }
    rows = both("Observation", obs)
    assert tokens(rows, "code") == [(None, "x", None)]
    assert tokens(rows, "performer:identifier") == [(None, "v", None)]
    assert rows.dates == [] and rows.quantities == []
