"""Search expressions compiled into JSON walks (``ehr.fhir.search.compiled_paths``)."""

from __future__ import annotations

import pytest

from ehr.fhir.fhirpath import Evaluation
from ehr.fhir.fhirpath import compile as fhirpath_compile
from ehr.fhir.fhirpath.model import type_struct
from ehr.fhir.search import compiled_paths as cp


def paths(expression: str, start: str) -> list[tuple]:
    c = cp.compile_expression(expression, type_struct(start))
    assert not c.engine, c.reasons
    return [(p.first, p.ops, p.type) for p in c.paths]


def test_choice_elements_expand_to_their_json_names():
    got = paths("Observation.effective", "Observation")
    assert ("effectiveDateTime", (), "dateTime") in got
    assert ("effectivePeriod", (), "Period") in got
    assert ("effectiveTiming", (), "Timing") in got
    assert paths("(Observation.value as Quantity)", "Observation") == [
        ("valueQuantity", (), "Quantity")
    ]
    # the engine's type test: as(DateTime) is the System type, met by dateTime and instant
    assert paths("Observation.value.as(DateTime)", "Observation") == [
        ("valueDateTime", (), "dateTime")
    ]
    assert paths("Condition.onset.as(Age)", "Condition") == [("onsetAge", (), "Age")]
    assert paths("(Observation.value as CodeableConcept).text", "Observation") == [
        ("valueCodeableConcept", ((cp.GET, "text"),), "string")
    ]


def test_filters_and_types_at_the_end():
    assert paths("Patient.telecom.where(system='phone')", "Patient") == [
        ("telecom", ((cp.WHERE_EQ, "system", "phone"),), "ContactPoint")
    ]
    assert paths("Account.subject.where(resolve() is Patient)", "Account") == [
        ("subject", ((cp.WHERE_REF, "Patient"),), "Reference")
    ]
    ext = "http://example.org/x"
    assert paths(f"Device.extension('{ext}')", "Device") == [(None, ((cp.EXT, ext),), "Extension")]
    assert paths("Bundle.entry[0].resource", "Bundle") == [
        ("entry", ((cp.INDEX, 0), (cp.GET, "resource")), "Resource")
    ]
    # content references: Questionnaire.item.item is a Questionnaire.item again
    assert paths("Questionnaire.item.item.linkId", "Questionnaire") == [
        ("item", ((cp.GET, "item"), (cp.GET, "linkId")), "string")
    ]
    # an element that does not exist: nothing (the engine finds nothing either)
    assert paths("Patient.nosuch", "Patient") == []
    # an impossible type filter: nothing
    assert paths("(Observation.code as Quantity)", "Observation") == []


def test_required_bindings_are_recorded():
    (path,) = cp.compile_expression("Observation.status", type_struct("Observation")).paths
    assert path.binding == "http://hl7.org/fhir/ValueSet/observation-status|4.0.1"


def test_unsupported_branches_go_to_the_engine():
    c = cp.compile_expression(
        "Patient.deceased.exists() and Patient.deceased != false", type_struct("Patient")
    )
    assert c.paths == () and c.engine == (
        "Patient.deceased.exists() and Patient.deceased != false",
    )
    c = cp.compile_expression(
        "Patient.name | Patient.name.where(given.exists())", type_struct("Patient")
    )
    assert len(c.paths) == 1 and c.engine == ("Patient.name.where(given.exists())",)


@pytest.mark.parametrize(
    "reference",
    [
        {"reference": "Patient/1"},
        {"reference": "http://x.org/fhir/Patient/1/_history/2"},
        {"reference": "#c1"},
        {"reference": "#nope"},
        {"reference": "#"},
        {"reference": "urn:uuid:1234"},
        {"reference": "urn:uuid:1234", "type": "Patient"},
        {"type": "Group"},
        {"type": "Nonsense"},
        {"reference": "Nonsense/1"},
        {"reference": "Patient?identifier=x"},
        {"display": "x"},
    ],
)
def test_resolved_type_is_the_engines(reference):
    resource = {
        "resourceType": "Observation",
        "contained": [{"resourceType": "Group", "id": "c1"}],
        "subject": reference,
    }
    found = Evaluation(resource).run(fhirpath_compile("Observation.subject.resolve()"))
    want = found[0].type_name if found else None
    assert cp.resolved_type(reference, resource) == want
