"""Deliberately broken resources: one problem each, with the exact place and kind of the error.

Every case starts from a minimal valid resource (the builders below; ``test_base_is_valid``
checks that they are) and breaks exactly one thing. The validator must report the expected
issue at the exact FHIRPath ``expression`` and no error anywhere else.

Case ids read ``<check>/<what is broken>``. The checks of the value-set bindings
(``binding-*``) exercise the terminology layer (``ehr.terminology``) and those of the
invariants (``invariant/*``) the FHIRPath engine (``ehr.fhir.fhirpath``); the others need
neither.
"""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest

from ehr.fhir.validation.validator import validate
from tests.conftest import row_counts

DROP = object()  # a builder keyword set to DROP removes the element

XHTML = "http://www.w3.org/1999/xhtml"
EXT_URL = "http://example.org/fhir/StructureDefinition/note"
BP = "http://hl7.org/fhir/StructureDefinition/bp"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
THO = "http://terminology.hl7.org/CodeSystem"
HEART_RATE = {"coding": [{"system": LOINC, "code": "8867-4"}]}
CONFIDENTIAL = {"system": f"{THO}/v3-Confidentiality", "code": "R"}


# ---------------------------------------------------------------------- minimal valid resources


def _build(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(value)
    return out


def div(text: str = "Ada Okafor") -> str:
    return f'<div xmlns="{XHTML}">{text}</div>'


def ext(**value) -> dict:
    return {"url": EXT_URL, **(value or {"valueString": "note"})}


def patient(**changes) -> dict:
    return _build(
        {"resourceType": "Patient", "name": [{"family": "Okafor", "given": ["Ada"]}]}, changes
    )


def observation(**changes) -> dict:
    return _build(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": HEART_RATE,
            "subject": {"reference": "Patient/p1"},
        },
        changes,
    )


def qty(value, code: str = "/min") -> dict:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def organization(**changes) -> dict:
    return _build({"resourceType": "Organization", "id": "org1", "name": "Clinic"}, changes)


def with_contained(*resources, **changes) -> dict:
    """A Patient holding ``resources`` (the first one referenced as #org1)."""
    return patient(
        contained=list(resources), managingOrganization={"reference": "#org1"}, **changes
    )


def condition(**changes) -> dict:
    return _build({"resourceType": "Condition", "subject": {"reference": "Patient/p1"}}, changes)


def clinical(code: str) -> dict:
    system = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    return {"coding": [{"system": system, "code": code}]}


def condition_verification(code: str) -> dict:
    system = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    return {"coding": [{"system": system, "code": code}]}


def allergy(**changes) -> dict:
    system = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
    return _build(
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"system": system, "code": "active"}]},
            "patient": {"reference": "Patient/p1"},
        },
        changes,
    )


def allergy_verification(code: str) -> dict:
    system = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
    return {"coding": [{"system": system, "code": code}]}


def bundle(type_: str = "collection", *resources, **changes) -> dict:
    entries = [
        {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", "resource": r}
        for i, r in enumerate(resources)
    ]
    base = {"resourceType": "Bundle", "type": type_}
    if entries:
        base["entry"] = entries
    return _build(base, changes)


def composition() -> dict:
    return {
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "11488-4"}]},
        "date": "2020-01-01",
        "author": [{"reference": "Practitioner/pr1"}],
        "title": "Consult note",
    }


DOC_ID = {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:5b8c1a26-1d1e-4a2b-9d65-0f0f0f0f0f0f"}


def document(**changes) -> dict:
    return bundle(
        "document",
        composition(),
        **{"identifier": DOC_ID, "timestamp": "2020-01-01T10:00:00Z", **changes},
    )


def transaction(*entries) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def post_entry(resource: dict, n: int = 0) -> dict:
    return {
        "fullUrl": f"urn:uuid:7a3f1c2e-0b8d-4d53-9a61-2f6c1e0d9b1{n}",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def questionnaire(*items, **changes) -> dict:
    items = items or ({"linkId": "1", "text": "Name?", "type": "string"},)
    return _build(
        {"resourceType": "Questionnaire", "status": "draft", "item": list(items)}, changes
    )


def medication_request(**changes) -> dict:
    return _build(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "aspirin 81 mg"},
            "subject": {"reference": "Patient/p1"},
        },
        changes,
    )


def encounter(**changes) -> dict:
    return _build(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        },
        changes,
    )


def appointment(**changes) -> dict:
    return _build(
        {
            "resourceType": "Appointment",
            "status": "proposed",
            "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
        },
        changes,
    )


def group(**changes) -> dict:
    return _build(
        {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": "Patient/p1"}}],
        },
        changes,
    )


def bp_component(code: str, value: float, unit: str = "mm[Hg]") -> dict:
    return {
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": unit},
    }


SYSTOLIC = bp_component("8480-6", 120)
DIASTOLIC = bp_component("8462-4", 80)


def blood_pressure(**changes) -> dict:
    """An Observation that conforms to the R4 blood-pressure profile it claims."""
    return _build(
        {
            "resourceType": "Observation",
            "meta": {"profile": [BP]},
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
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2020-01-01",
            "component": [SYSTOLIC, DIASTOLIC],
        },
        changes,
    )


BASES = {
    "patient": patient(),
    "patient-with-contained": with_contained(organization()),
    "patient-with-everything-used-below": patient(
        id="p1",
        meta={"versionId": "1"},
        text={"status": "generated", "div": div()},
        identifier=[{"use": "usual", "system": "urn:oid:1.2.3", "value": "1"}],
        telecom=[{"system": "phone", "value": "555", "use": "home"}],
        address=[{"use": "home", "city": "Lagos"}],
        gender="female",
        birthDate="2000-02-29",
        active=True,
        maritalStatus={"coding": [{"system": f"{THO}/v3-MaritalStatus", "code": "M"}]},
        photo=[{"contentType": "image/png", "data": "aGVsbG8="}],
        contact=[{"name": {"family": "Okafor"}}],
        link=[{"other": {"reference": "Patient/p2"}, "type": "seealso"}],
        extension=[
            ext(valueOid="urn:oid:1.2.3"),
            ext(valueUuid="urn:uuid:" + "0" * 8 + "-0000-4000-8000-" + "0" * 12),
        ],
    ),
    "null-given-with-extension": patient(
        name=[{"given": ["Ada", None], "_given": [None, {"extension": [ext()]}]}]
    ),
    "extension-only-primitive": patient(_birthDate={"extension": [ext()]}),
    "observation": observation(),
    "observation-with-component": observation(
        valueQuantity=qty(72),
        component=[{"code": {"text": "rhythm"}, "valueString": "regular"}],
        referenceRange=[{"low": qty(60), "high": qty(100)}],
        note=[{"text": "resting"}],
        effectiveDateTime="2020-01-01T10:00:00+01:00",
        issued="2020-01-01T10:00:00.123Z",
    ),
    "observation-contained-patient": observation(
        contained=[{"resourceType": "Patient", "id": "p", "name": [{"family": "Okafor"}]}],
        subject={"reference": "#p"},
    ),
    "condition": condition(clinicalStatus=clinical("active")),
    "allergy": allergy(),
    "bundle-collection": bundle("collection", patient()),
    "bundle-entry-with-contained": bundle("collection", with_contained(organization())),
    "bundle-searchset": bundle("searchset", total=0),
    "document": document(),
    "message": bundle(
        "message",
        {
            "resourceType": "MessageHeader",
            "eventCoding": {"system": "http://example.org/events", "code": "admit"},
            "source": {"endpoint": "http://example.org/endpoint"},
        },
    ),
    "transaction": transaction(post_entry(patient())),
    "organization": organization(),
    "questionnaire": questionnaire(
        {"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string"}]}
    ),
    "medication-request": medication_request(
        dosageInstruction=[{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}]
    ),
    "encounter": encounter(diagnosis=[{"condition": {"reference": "Condition/c1"}, "rank": 1}]),
    "appointment": appointment(minutesDuration=15),
    "group": group(),
    "blood-pressure": blood_pressure(),
}


@pytest.mark.parametrize("name", list(BASES))
def test_base_is_valid(name):
    errors = [i for i in validate(BASES[name]) if i.severity in ("error", "fatal")]
    assert errors == []


# ---------------------------------------------------------------------- the broken resources

CASES: list = []


def case(check: str, what: str, resource: dict, expression: str, code: str, severity="error"):
    CASES.append(pytest.param(resource, expression, code, severity, id=f"{check}/{what}"))


# -- unknown elements
case("unknown-element", "top-level", patient(fooBar=1), "Patient.fooBar", "structure")
case(
    "unknown-element",
    "wrong-case",
    patient(BirthDate="2000-01-01"),
    "Patient.BirthDate",
    "structure",
)
case(
    "unknown-element", "in-datatype-HumanName",
    patient(name=[{"family": "Okafor", "nickname": "Ada"}]), "Patient.name[0].nickname",
    "structure",
)  # fmt: skip
case(
    "unknown-element", "in-datatype-Quantity",
    observation(valueQuantity={"value": 1, "units": "mg"}), "Observation.valueQuantity.units",
    "structure",
)  # fmt: skip
case(
    "unknown-element", "in-nested-datatype-Period",
    patient(name=[{"family": "Okafor", "period": {"begin": "2020"}}]),
    "Patient.name[0].period.begin", "structure",
)  # fmt: skip
case(
    "unknown-element", "in-backbone",
    patient(contact=[{"name": {"family": "Okafor"}, "phone": "555"}]),
    "Patient.contact[0].phone", "structure",
)  # fmt: skip
case(
    "unknown-element", "in-content-reference",
    questionnaire(
        {"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "url", "label": "x"}]}
    ),
    "Questionnaire.item[0].item[0].label", "structure",
)  # fmt: skip
case(
    "unknown-element", "in-contained",
    with_contained(organization(nickname="The clinic")), "Patient.contained[0].nickname",
    "structure",
)  # fmt: skip
case(
    "unknown-element", "in-bundle-entry",
    bundle("collection", patient(fooBar=1)), "Bundle.entry[0].resource.fooBar", "structure",
)  # fmt: skip
case(
    "unknown-element", "in-extension",
    patient(extension=[ext(valueString="x", note="y")]), "Patient.extension[0].note", "structure",
)  # fmt: skip
case(
    "unknown-element", "companion-of-complex",
    patient(_name=[{"id": "n1"}]), "Patient._name", "structure",
)  # fmt: skip
case(
    "unknown-element", "companion-of-unknown",
    patient(_fooBar={"id": "f1"}), "Patient._fooBar", "structure",
)  # fmt: skip
case(
    "unknown-element", "resourceType-in-datatype",
    patient(name=[{"resourceType": "HumanName", "family": "Okafor"}]),
    "Patient.name[0].resourceType", "structure",
)  # fmt: skip
case("unknown-element", "bare-choice-name", observation(value=72), "Observation.value", "structure")

case(
    "unknown-element", "modifierExtension-on-datatype",
    patient(name=[{"family": "Okafor", "modifierExtension": [ext()]}]),
    "Patient.name[0].modifierExtension", "structure",
)  # fmt: skip

# -- cardinality: minimum
case("required", "Observation.status", observation(status=DROP), "Observation.status", "required")
case("required", "Observation.code", observation(code=DROP), "Observation.code", "required")
case(
    "required", "Patient.link.other",
    patient(link=[{"type": "seealso"}]), "Patient.link[0].other", "required",
)  # fmt: skip
case(
    "required", "Patient.link.type",
    patient(link=[{"other": {"reference": "Patient/p2"}}]), "Patient.link[0].type", "required",
)  # fmt: skip
case("required", "Bundle.type", bundle("collection", type=DROP), "Bundle.type", "required")
case(
    "required", "Extension.url",
    patient(extension=[{"valueString": "x"}]), "Patient.extension[0].url", "required",
)  # fmt: skip
case(
    "required", "Narrative.status",
    patient(text={"div": div()}), "Patient.text.status", "required",
)  # fmt: skip
case(
    "required", "Narrative.div",
    patient(text={"status": "generated"}), "Patient.text.div", "required",
)  # fmt: skip
case("required", "Condition.subject", condition(subject=DROP), "Condition.subject", "required")
case(
    "required", "choice-MedicationRequest.medication",
    medication_request(medicationCodeableConcept=DROP), "MedicationRequest.medication", "required",
)  # fmt: skip
case(
    "required", "Observation.component.code",
    observation(component=[{"valueQuantity": qty(1)}]), "Observation.component[0].code",
    "required",
)  # fmt: skip
case(
    "required", "Bundle.entry.request.method",
    transaction({"resource": patient(), "request": {"url": "Patient"}}),
    "Bundle.entry[0].request.method", "required",
)  # fmt: skip
case(
    "required", "in-content-reference-Questionnaire.item.item.linkId",
    questionnaire({"linkId": "1", "type": "group", "item": [{"type": "string"}]}),
    "Questionnaire.item[0].item[0].linkId", "required",
)  # fmt: skip
case(
    "required", "in-contained",
    observation(
        contained=[{"resourceType": "Observation", "id": "o2", "code": HEART_RATE}],
        hasMember=[{"reference": "#o2"}],
    ),
    "Observation.contained[0].status", "required",
)  # fmt: skip

# -- cardinality: maximum, arrays against single values
case(
    "max", "two-values-in-0..1-code", patient(gender=["male", "female"]), "Patient.gender",
    "structure",
)  # fmt: skip
case(
    "max", "two-values-in-0..1-datatype",
    patient(maritalStatus=[{"text": "married"}, {"text": "divorced"}]), "Patient.maritalStatus",
    "structure",
)  # fmt: skip
case(
    "max", "two-values-in-0..1-backbone",
    transaction(
        {
            "resource": patient(),
            "request": [
                {"method": "POST", "url": "Patient"},
                {"method": "PUT", "url": "Patient/1"},
            ],
        }
    ),
    "Bundle.entry[0].request", "structure",
)  # fmt: skip
case(
    "max", "profile-slice-max-1-two-systolic",
    blood_pressure(component=[SYSTOLIC, SYSTOLIC, DIASTOLIC]), "Observation.component",
    "structure",
)  # fmt: skip
case(
    "array",
    "repeating-given-as-object",
    patient(name={"family": "Okafor"}),
    "Patient.name",
    "structure",
)
case(
    "array", "repeating-primitive-given-as-single",
    patient(name=[{"family": "Okafor", "given": "Ada"}]), "Patient.name[0].given", "structure",
)  # fmt: skip
case(
    "array", "repeating-backbone-given-as-object",
    patient(contact={"name": {"family": "Okafor"}}), "Patient.contact", "structure",
)  # fmt: skip
case(
    "array", "content-reference-given-as-object",
    observation(
        component=[{"code": {"text": "x"}, "valueString": "y", "referenceRange": {"text": "any"}}]
    ),
    "Observation.component[0].referenceRange", "structure",
)  # fmt: skip
case(
    "array", "non-repeating-datatype-given-as-array",
    observation(code=[HEART_RATE]), "Observation.code", "structure",
)  # fmt: skip
case(
    "array", "non-repeating-primitive-given-as-array",
    patient(birthDate=["2000-01-01"]), "Patient.birthDate", "structure",
)  # fmt: skip
case(
    "array", "array-inside-array",
    patient(name=[{"family": "Okafor", "given": [["Ada"]]}]), "Patient.name[0].given[0]", "value",
)  # fmt: skip

# -- empty values
case("empty", "empty-string", patient(name=[{"family": ""}]), "Patient.name[0].family", "value")
case(
    "empty", "empty-string-in-array",
    patient(name=[{"family": "Okafor", "given": ["Ada", ""]}]), "Patient.name[0].given[1]", "value",
)  # fmt: skip
case("empty", "empty-object", patient(maritalStatus={}), "Patient.maritalStatus", "structure")
case("empty", "empty-object-in-array", patient(name=[{}]), "Patient.name[0]", "structure")
case("empty", "empty-array", patient(name=[]), "Patient.name", "structure")
case(
    "empty",
    "empty-primitive-array",
    patient(name=[{"family": "Okafor", "given": []}]),
    "Patient.name[0].given",
    "structure",
)
case(
    "empty", "datatype-with-only-id",
    patient(maritalStatus={"id": "m1"}), "Patient.maritalStatus", "structure",
)  # fmt: skip
case("empty", "empty-companion", patient(_birthDate={}), "Patient._birthDate", "structure")
case(
    "empty", "companion-with-only-id", patient(_birthDate={"id": "b1"}), "Patient._birthDate",
    "structure",
)  # fmt: skip
case(
    "empty", "empty-extension-value",
    patient(extension=[ext(valueString="")]), "Patient.extension[0].valueString", "value",
)  # fmt: skip

# -- data types
case(
    "type", "string-for-decimal",
    observation(valueQuantity={"value": "72", "unit": "/min"}), "Observation.valueQuantity.value",
    "value",
)  # fmt: skip
case("type", "number-for-string", patient(name=[{"family": 42}]), "Patient.name[0].family", "value")
case("type", "string-true-for-boolean", patient(active="true"), "Patient.active", "value")
case("type", "number-for-boolean", patient(active=1), "Patient.active", "value")
case(
    "type",
    "string-for-integer",
    patient(multipleBirthInteger="2"),
    "Patient.multipleBirthInteger",
    "value",
)
case("type", "boolean-for-string", patient(name=[{"text": True}]), "Patient.name[0].text", "value")
case(
    "type", "object-for-primitive",
    patient(birthDate={"value": "2000-01-01"}), "Patient.birthDate", "value",
)  # fmt: skip
case(
    "type",
    "primitive-for-datatype",
    patient(maritalStatus="M"),
    "Patient.maritalStatus",
    "structure",
)
case(
    "type",
    "primitive-for-datatype-in-array",
    patient(name=["Ada Okafor"]),
    "Patient.name[0]",
    "structure",
)
case(
    "type", "string-for-Reference",
    observation(subject="Patient/p1"), "Observation.subject", "structure",
)  # fmt: skip
case(
    "type",
    "string-for-resource",
    patient(contained=["Organization/1"]),
    "Patient.contained[0]",
    "structure",
)
case(
    "type", "number-for-xhtml",
    patient(text={"status": "generated", "div": 5}), "Patient.text.div", "value",
)  # fmt: skip
case(
    "type", "xhtml-not-a-div",
    patient(text={"status": "generated", "div": "Ada Okafor"}), "Patient.text.div", "value",
)  # fmt: skip

# -- choice elements
case(
    "choice", "two-value[x]",
    observation(valueQuantity=qty(72), valueString="72"), "Observation.value", "structure",
)  # fmt: skip
case(
    "choice", "two-deceased[x]",
    patient(deceasedBoolean=True, deceasedDateTime="2020-01-01"), "Patient.deceased", "structure",
)  # fmt: skip
case(
    "choice", "type-not-allowed-valueHumanName",
    observation(valueHumanName={"family": "Okafor"}), "Observation.valueHumanName", "structure",
)  # fmt: skip
case(
    "choice", "type-not-allowed-deceasedString",
    patient(deceasedString="yes"), "Patient.deceasedString", "structure",
)  # fmt: skip
case(
    "choice", "type-not-allowed-effectiveDate",
    observation(effectiveDate="2020-01-01"), "Observation.effectiveDate", "structure",
)  # fmt: skip
case(
    "choice", "lowercase-type-suffix",
    observation(valuequantity=qty(72)), "Observation.valuequantity", "structure",
)  # fmt: skip
case(
    "choice", "unknown-type-in-extension",
    patient(extension=[ext(valueFoo="x")]), "Patient.extension[0].valueFoo", "structure",
)  # fmt: skip
case(
    "choice", "right-name-wrong-shape",
    observation(valueQuantity=72), "Observation.valueQuantity", "structure",
)  # fmt: skip

# -- contained resources
case(
    "contained", "unknown-resourceType",
    with_contained({"resourceType": "Unicorn", "id": "org1"}), "Patient.contained[0]",
    "not-supported",
)  # fmt: skip
case(
    "contained", "no-resourceType",
    with_contained({"id": "org1", "name": "Clinic"}), "Patient.contained[0]", "required",
)  # fmt: skip
case(
    "contained", "broken-content",
    with_contained(organization(name=5)), "Patient.contained[0].name", "value",
)  # fmt: skip
case(
    "contained", "broken-datatype-inside",
    with_contained(organization(telecom=[{"system": "phone", "value": "555", "rank": 0}])),
    "Patient.contained[0].telecom[0].rank", "value",
)  # fmt: skip
case(
    "contained", "unknown-resourceType-in-bundle-entry",
    bundle("collection", {"resourceType": "Unicorn"}), "Bundle.entry[0].resource",
    "not-supported",
)  # fmt: skip

# -- primitive formats
case("date", "month-13", patient(birthDate="2020-13-01"), "Patient.birthDate", "value")
case("date", "february-30", patient(birthDate="2021-02-30"), "Patient.birthDate", "value")
case("date", "february-29-not-leap", patient(birthDate="2019-02-29"), "Patient.birthDate", "value")
case("date", "no-dashes", patient(birthDate="20200101"), "Patient.birthDate", "value")
case("date", "one-digit-month-and-day", patient(birthDate="2020-1-1"), "Patient.birthDate", "value")
case("date", "with-time", patient(birthDate="2020-01-01T10:00:00Z"), "Patient.birthDate", "value")
case("date", "year-zero", patient(birthDate="0000"), "Patient.birthDate", "value")
case(
    "dateTime", "time-without-timezone",
    observation(effectiveDateTime="2020-01-01T10:00:00"), "Observation.effectiveDateTime", "value",
)  # fmt: skip
case(
    "dateTime", "hour-25",
    observation(effectiveDateTime="2020-01-01T25:00:00Z"), "Observation.effectiveDateTime",
    "value",
)  # fmt: skip
case(
    "dateTime", "no-seconds",
    observation(effectiveDateTime="2020-01-01T10:00Z"), "Observation.effectiveDateTime", "value",
)  # fmt: skip
case(
    "dateTime", "february-30",
    observation(effectiveDateTime="2021-02-30T10:00:00Z"), "Observation.effectiveDateTime",
    "value",
)  # fmt: skip
case(
    "dateTime", "space-instead-of-T",
    observation(effectiveDateTime="2020-01-01 10:00:00Z"), "Observation.effectiveDateTime",
    "value",
)  # fmt: skip
case(
    "instant", "without-timezone",
    observation(issued="2020-01-01T10:00:00"), "Observation.issued", "value",
)  # fmt: skip
case(
    "instant",
    "without-seconds",
    observation(issued="2020-01-01T10:00Z"),
    "Observation.issued",
    "value",
)
case("instant", "date-only", observation(issued="2020-01-01"), "Observation.issued", "value")
case("time", "24:00:00", observation(valueTime="24:00:00"), "Observation.valueTime", "value")
case("time", "without-seconds", observation(valueTime="10:00"), "Observation.valueTime", "value")
case("id", "resource-id-too-long", patient(id="a" * 65), "Patient.id", "value")
case("id", "resource-id-with-underscore", patient(id="a_b"), "Patient.id", "value")
case(
    "id", "id-typed-element-with-underscore",
    patient(meta={"versionId": "v_1"}), "Patient.meta.versionId", "value",
)  # fmt: skip
case(
    "id", "id-typed-element-too-long",
    patient(extension=[ext(valueId="a" * 65)]), "Patient.extension[0].valueId", "value",
)  # fmt: skip
case(
    "uri", "with-space",
    patient(identifier=[{"system": "urn:example: mrn", "value": "1"}]),
    "Patient.identifier[0].system", "value",
)  # fmt: skip
case(
    "url", "with-space",
    patient(extension=[ext(valueUrl="http://example.org/a b")]), "Patient.extension[0].valueUrl",
    "value",
)  # fmt: skip
case(
    "canonical", "with-space",
    questionnaire(derivedFrom=["http://example.org/Questionnaire/a b"]),
    "Questionnaire.derivedFrom[0]", "value",
)  # fmt: skip
case(
    "code", "leading-space",
    observation(code={"coding": [{"system": LOINC, "code": " 8867-4"}]}),
    "Observation.code.coding[0].code", "value",
)  # fmt: skip
case(
    "code", "double-inner-space",
    observation(code={"coding": [{"system": "http://example.org/codes", "code": "heart  rate"}]}),
    "Observation.code.coding[0].code", "value",
)  # fmt: skip
case(
    "code", "trailing-space",
    observation(code={"coding": [{"system": LOINC, "code": "8867-4 "}]}),
    "Observation.code.coding[0].code", "value",
)  # fmt: skip
case(
    "decimal", "as-string", observation(valueQuantity=qty("72.0")),
    "Observation.valueQuantity.value", "value",
)  # fmt: skip
case(
    "decimal", "as-boolean", observation(valueQuantity=qty(True)),
    "Observation.valueQuantity.value", "value",
)  # fmt: skip
case(
    "decimal", "NaN", observation(valueQuantity=qty(float("nan"))),
    "Observation.valueQuantity.value", "value",
)  # fmt: skip
case(
    "decimal", "infinity", observation(valueQuantity=qty(float("inf"))),
    "Observation.valueQuantity.value", "value",
)  # fmt: skip
case(
    "integer", "above-32-bit", observation(valueInteger=2**31), "Observation.valueInteger", "value"
)
case(
    "integer",
    "below-32-bit",
    observation(valueInteger=-(2**31) - 1),
    "Observation.valueInteger",
    "value",
)
case("integer", "fraction-1.5", observation(valueInteger=1.5), "Observation.valueInteger", "value")
case("positiveInt", "zero", appointment(minutesDuration=0), "Appointment.minutesDuration", "value")
case(
    "positiveInt",
    "negative",
    encounter(diagnosis=[{"condition": {"reference": "Condition/c1"}, "rank": -1}]),
    "Encounter.diagnosis[0].rank",
    "value",
)
case("unsignedInt", "minus-one", bundle("searchset", total=-1), "Bundle.total", "value")
case(
    "base64Binary", "not-base64",
    patient(photo=[{"contentType": "image/png", "data": "not base64!"}]), "Patient.photo[0].data",
    "value",
)  # fmt: skip
case(
    "oid", "without-urn-prefix",
    patient(extension=[ext(valueOid="1.2.3")]), "Patient.extension[0].valueOid", "value",
)  # fmt: skip
case(
    "oid", "leading-zero-arc",
    patient(extension=[ext(valueOid="urn:oid:1.02.3")]), "Patient.extension[0].valueOid", "value",
)  # fmt: skip
case(
    "uuid", "not-hex",
    patient(extension=[ext(valueUuid="urn:uuid:zzzzzzzz-0000-4000-8000-000000000000")]),
    "Patient.extension[0].valueUuid", "value",
)  # fmt: skip
case(
    "uuid", "without-urn-prefix",
    patient(extension=[ext(valueUuid="3f2504e0-4f89-11d3-9a0c-0305e82c3301")]),
    "Patient.extension[0].valueUuid", "value",
)  # fmt: skip
case("markdown", "empty", observation(note=[{"text": ""}]), "Observation.note[0].text", "value")
case("boolean", "yes", patient(active="yes"), "Patient.active", "value")
case(
    "string", "longer-than-1MB",
    patient(name=[{"text": "x" * (1024 * 1024 + 1)}]), "Patient.name[0].text", "value",
)  # fmt: skip

# -- nulls and the _name companions of primitives
case(
    "null", "in-array-without-companion",
    patient(name=[{"family": "Okafor", "given": ["Ada", None]}]), "Patient.name[0].given[1]",
    "value",
)  # fmt: skip
case(
    "null", "in-array-with-null-companion",
    patient(name=[{"given": ["Ada", None], "_given": [None, None]}]), "Patient.name[0].given[1]",
    "value",
)  # fmt: skip
case("null", "single-value", patient(gender=None), "Patient.gender", "value")
case(
    "null", "single-value-even-with-companion",
    patient(gender=None, _gender={"extension": [ext()]}), "Patient.gender", "value",
)  # fmt: skip
case(
    "null", "in-array-with-id-only-companion",
    patient(name=[{"given": ["Ada", None], "_given": [None, {"id": "g2"}]}]),
    "Patient.name[0]._given[1]", "structure",
)  # fmt: skip
case(
    "companion", "array-shorter-than-values",
    patient(name=[{"given": ["Ada", "Ngozi"], "_given": [{"extension": [ext()]}]}]),
    "Patient.name[0]._given", "structure",
)  # fmt: skip
case(
    "companion", "object-for-repeating",
    patient(name=[{"given": ["Ada"], "_given": {"extension": [ext()]}}]),
    "Patient.name[0]._given", "structure",
)  # fmt: skip
case(
    "companion", "array-for-single",
    patient(birthDate="2000-01-01", _birthDate=[{"extension": [ext()]}]), "Patient._birthDate",
    "structure",
)  # fmt: skip
case(
    "companion", "string-item",
    patient(name=[{"given": ["Ada"], "_given": ["x"]}]), "Patient.name[0]._given[0]", "structure",
)  # fmt: skip
case(
    "companion", "unknown-element-inside",
    patient(gender="female", _gender={"foo": 1}), "Patient._gender.foo", "structure",
)  # fmt: skip

# -- extensions
case(
    "extension", "value-and-extensions",
    patient(extension=[{"url": EXT_URL, "valueString": "x", "extension": [ext()]}]),
    "Patient.extension[0]", "invariant",
)  # fmt: skip
case(
    "extension", "neither-value-nor-extensions",
    patient(extension=[{"url": EXT_URL}]), "Patient.extension[0]", "invariant",
)  # fmt: skip
case(
    "extension", "nested-with-neither",
    patient(extension=[{"url": EXT_URL, "extension": [{"url": "part"}]}]),
    "Patient.extension[0].extension[0]", "invariant",
)  # fmt: skip
case(
    "extension", "modifier-extension-value-and-extensions",
    patient(modifierExtension=[{"url": EXT_URL, "valueBoolean": True, "extension": [ext()]}]),
    "Patient.modifierExtension[0]", "invariant",
)  # fmt: skip
case(
    "extension", "on-datatype-with-neither",
    patient(name=[{"family": "Okafor", "extension": [{"url": EXT_URL}]}]),
    "Patient.name[0].extension[0]", "invariant",
)  # fmt: skip
case(
    "extension", "url-with-space",
    patient(extension=[{"url": "http://example.org/my ext", "valueString": "x"}]),
    "Patient.extension[0].url", "value",
)  # fmt: skip

# -- references
case(
    "reference", "type-without-id",
    observation(subject={"reference": "Patient/"}), "Observation.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "double-slash",
    observation(subject={"reference": "Patient//1"}), "Observation.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "lowercase-type",
    observation(subject={"reference": "patient/1"}), "Observation.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "space-in-id",
    observation(subject={"reference": "Patient/p 1"}), "Observation.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "unknown-type",
    observation(subject={"reference": "Unicorn/1"}), "Observation.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "target-not-allowed-Observation.subject-Medication",
    observation(subject={"reference": "Medication/1"}), "Observation.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "target-not-allowed-absolute-url",
    observation(subject={"reference": "http://example.org/fhir/Medication/1"}),
    "Observation.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "target-not-allowed-in-array",
    observation(performer=[{"reference": "Practitioner/1"}, {"reference": "Medication/1"}]),
    "Observation.performer[1].reference", "value",
)  # fmt: skip
case(
    "reference", "target-not-allowed-Patient.generalPractitioner-Patient",
    patient(generalPractitioner=[{"reference": "Patient/p2"}]),
    "Patient.generalPractitioner[0].reference", "value",
)  # fmt: skip
case(
    "reference", "target-not-allowed-Condition.subject-Practitioner",
    condition(subject={"reference": "Practitioner/1"}), "Condition.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "contained-target-not-allowed",
    observation(contained=[organization()], subject={"reference": "#org1"}),
    "Observation.subject.reference", "value",
)  # fmt: skip
case(
    "reference", "malformed-urn-uuid",
    observation(subject={"reference": "urn:uuid:not-a-uuid"}), "Observation.subject.reference",
    "value",
)  # fmt: skip
case(
    "reference", "number-for-reference",
    observation(subject={"reference": 1}), "Observation.subject.reference", "value",
)  # fmt: skip

# -- required bindings (need the terminology layer)
case(
    "binding-required",
    "Patient.gender-banana",
    patient(gender="banana"),
    "Patient.gender",
    "code-invalid",
)
case(
    "binding-required",
    "Observation.status-done",
    observation(status="done"),
    "Observation.status",
    "code-invalid",
)
case(
    "binding-required",
    "Observation.status-wrong-case",
    observation(status="Final"),
    "Observation.status",
    "code-invalid",
)
case(
    "binding-required", "Condition.clinicalStatus-not-in-value-set",
    condition(clinicalStatus=clinical("cured")), "Condition.clinicalStatus", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "Condition.clinicalStatus-text-only",
    condition(clinicalStatus={"text": "active"}), "Condition.clinicalStatus", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "Condition.verificationStatus-not-in-value-set",
    condition(verificationStatus=condition_verification("maybe")),
    "Condition.verificationStatus", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "AllergyIntolerance.clinicalStatus-wrong-system",
    allergy(clinicalStatus=clinical("active")), "AllergyIntolerance.clinicalStatus",
    "code-invalid",
)  # fmt: skip
case(
    "binding-required", "AllergyIntolerance.criticality-extreme",
    allergy(criticality="extreme"), "AllergyIntolerance.criticality", "code-invalid",
)  # fmt: skip
case("binding-required", "Bundle.type-pile", bundle("pile"), "Bundle.type", "code-invalid")
case(
    "binding-required", "HumanName.use-nickname2",
    patient(name=[{"use": "nickname2", "family": "Okafor"}]), "Patient.name[0].use", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "ContactPoint.system-fax2",
    patient(telecom=[{"system": "fax2", "value": "555"}]), "Patient.telecom[0].system",
    "code-invalid",
)  # fmt: skip
case(
    "binding-required", "Quantity.comparator-==",
    observation(valueQuantity={**qty(72), "comparator": "=="}),
    "Observation.valueQuantity.comparator", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "Address.use-summer",
    patient(address=[{"use": "summer", "city": "Lagos"}]), "Patient.address[0].use",
    "code-invalid",
)  # fmt: skip
case(
    "binding-required", "Identifier.use-primary",
    patient(identifier=[{"use": "primary", "value": "1"}]), "Patient.identifier[0].use",
    "code-invalid",
)  # fmt: skip
case(
    "binding-required", "Narrative.status-draft",
    patient(text={"status": "draft", "div": div()}), "Patient.text.status", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "Patient.link.type-same",
    patient(link=[{"other": {"reference": "Patient/p2"}, "type": "same"}]),
    "Patient.link[0].type", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "Encounter.status-done", encounter(status="done"), "Encounter.status",
    "code-invalid",
)  # fmt: skip
case(
    "binding-required", "MedicationRequest.intent-wish",
    medication_request(intent="wish"), "MedicationRequest.intent", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "in-contained",
    with_contained(organization(telecom=[{"system": "pager2", "value": "555"}])),
    "Patient.contained[0].telecom[0].system", "code-invalid",
)  # fmt: skip
case(
    "binding-required", "in-bundle-entry",
    bundle("collection", patient(gender="banana")), "Bundle.entry[0].resource.gender",
    "code-invalid",
)  # fmt: skip

# -- extensible and preferred bindings: warnings only (need the terminology layer)
case(
    "binding-extensible", "Patient.maritalStatus-unknown-code",
    patient(maritalStatus={"coding": [{"system": f"{THO}/v3-MaritalStatus", "code": "ZZ"}]}),
    "Patient.maritalStatus", "code-invalid", "warning",
)  # fmt: skip
case(
    "binding-extensible", "Observation.interpretation-unknown-code",
    observation(
        interpretation=[
            {"coding": [{"system": f"{THO}/v3-ObservationInterpretation", "code": "ZZZ"}]}
        ]
    ),
    "Observation.interpretation[0]", "code-invalid", "warning",
)  # fmt: skip
case(
    "binding-preferred", "Observation.category-unknown-code",
    observation(category=[{"coding": [{"system": f"{THO}/observation-category", "code": "zz"}]}]),
    "Observation.category[0]", "code-invalid", "warning",
)  # fmt: skip
case(
    "binding-preferred", "SNOMED-bad-check-digit",
    encounter(reasonCode=[{"coding": [{"system": SNOMED, "code": "386661005"}]}]),
    "Encounter.reasonCode[0]", "code-invalid", "warning",
)  # fmt: skip
# A well-formed SNOMED CT code cannot be looked up: an information issue says it was checked
# for form only (once per code system, on the resource).
case(
    "binding-form-only", "SNOMED-code",
    encounter(reasonCode=[{"coding": [{"system": SNOMED, "code": "386661006"}]}]),
    "Encounter", "informational", "information",
)  # fmt: skip

# -- invariants (need ehr.fhir.fhirpath)
case(
    "invariant", "dom-2-contained-inside-contained",
    with_contained(
        organization(
            contained=[organization(id="org2", name="Ward")],
            extension=[{"url": EXT_URL, "valueUri": "#org2"}],
        )
    ),
    "Patient", "invariant",
)  # fmt: skip
case(
    "invariant", "dom-3-contained-not-referenced",
    patient(contained=[organization()]), "Patient", "invariant",
)  # fmt: skip
case(
    "invariant", "dom-3-contained-without-id",
    patient(contained=[organization(id=DROP)]), "Patient.contained[0]", "invariant",
)  # fmt: skip
case(
    "invariant", "dom-4-contained-with-versionId",
    with_contained(organization(meta={"versionId": "1"})), "Patient", "invariant",
)  # fmt: skip
case(
    "invariant", "dom-4-contained-with-lastUpdated",
    with_contained(organization(meta={"lastUpdated": "2020-01-01T00:00:00Z"})), "Patient",
    "invariant",
)  # fmt: skip
case(
    "invariant", "dom-5-contained-with-security",
    with_contained(organization(meta={"security": [CONFIDENTIAL]})), "Patient", "invariant",
)  # fmt: skip
case(
    "invariant", "obs-6-dataAbsentReason-with-value",
    observation(
        valueQuantity=qty(72),
        dataAbsentReason={"coding": [{"system": f"{THO}/data-absent-reason", "code": "unknown"}]},
    ),
    "Observation", "invariant",
)  # fmt: skip
case(
    "invariant", "obs-7-component-code-equals-code-with-value",
    observation(valueQuantity=qty(72), component=[{"code": HEART_RATE, "valueQuantity": qty(70)}]),
    "Observation", "invariant",
)  # fmt: skip
case(
    "invariant", "obs-3-referenceRange-without-low-high-text",
    observation(valueQuantity=qty(72), referenceRange=[{"appliesTo": [{"text": "adults"}]}]),
    "Observation.referenceRange[0]", "invariant",
)  # fmt: skip
case(
    "invariant", "per-1-end-before-start",
    patient(name=[{"family": "Okafor", "period": {"start": "2020-02-01", "end": "2020-01-01"}}]),
    "Patient.name[0].period", "invariant",
)  # fmt: skip
case(
    "invariant", "qty-3-code-without-system",
    observation(valueQuantity={"value": 72, "code": "/min"}), "Observation.valueQuantity",
    "invariant",
)  # fmt: skip
case(
    "invariant", "rng-2-low-above-high",
    observation(valueRange={"low": qty(5, "mg"), "high": qty(1, "mg")}), "Observation.valueRange",
    "invariant",
)  # fmt: skip
case(
    "invariant", "rat-1-numerator-without-denominator",
    observation(valueRatio={"numerator": qty(1, "mg")}), "Observation.valueRatio", "invariant",
)  # fmt: skip
case(
    "invariant", "pat-1-contact-without-details",
    patient(contact=[{"gender": "female"}]), "Patient.contact[0]", "invariant",
)  # fmt: skip
case(
    "invariant", "ref-1-local-reference-without-contained",
    observation(subject={"reference": "#p"}), "Observation.subject", "invariant",
)  # fmt: skip
case(
    "invariant", "txt-1-script-in-narrative",
    patient(text={"status": "generated", "div": div("<script>alert(1)</script>Ada")}),
    "Patient.text.div", "invariant",
)  # fmt: skip
case(
    "invariant", "txt-2-empty-narrative",
    patient(text={"status": "generated", "div": div("   ")}), "Patient.text.div", "invariant",
)  # fmt: skip
case(
    "invariant", "cpt-2-value-without-system",
    patient(telecom=[{"value": "555"}]), "Patient.telecom[0]", "invariant",
)  # fmt: skip
case(
    "invariant", "att-1-data-without-contentType",
    patient(photo=[{"data": "aGVsbG8="}]), "Patient.photo[0]", "invariant",
)  # fmt: skip
case(
    "invariant", "tim-2-period-without-periodUnit",
    medication_request(dosageInstruction=[{"timing": {"repeat": {"frequency": 1, "period": 1}}}]),
    "MedicationRequest.dosageInstruction[0].timing.repeat", "invariant",
)  # fmt: skip
case(
    "invariant", "org-1-no-name-no-identifier", organization(name=DROP), "Organization", "invariant"
)
case(
    "invariant", "org-3-telecom-use-home",
    organization(telecom=[{"system": "phone", "value": "555", "use": "home"}]),
    "Organization.telecom[0]", "invariant",
)  # fmt: skip
case(
    "invariant", "con-4-abated-but-active",
    condition(clinicalStatus=clinical("active"), abatementDateTime="2020-01-01"), "Condition",
    "invariant",
)  # fmt: skip
case(
    "invariant", "con-5-entered-in-error-with-clinicalStatus",
    condition(
        clinicalStatus=clinical("active"),
        verificationStatus=condition_verification("entered-in-error"),
    ),
    "Condition", "invariant",
)  # fmt: skip
case(
    "invariant", "ait-1-no-clinicalStatus",
    allergy(clinicalStatus=DROP, verificationStatus=allergy_verification("confirmed")),
    "AllergyIntolerance", "invariant",
)  # fmt: skip
case(
    "invariant", "ait-2-entered-in-error-with-clinicalStatus",
    allergy(verificationStatus=allergy_verification("entered-in-error")), "AllergyIntolerance",
    "invariant",
)  # fmt: skip
case("invariant", "bdl-1-total-in-collection", bundle("collection", total=1), "Bundle", "invariant")
case(
    "invariant", "bdl-3-transaction-entry-without-request",
    bundle("transaction", patient()), "Bundle", "invariant",
)  # fmt: skip
case(
    "invariant", "bdl-7-duplicate-fullUrl",
    {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "http://example.org/fhir/Patient/1", "resource": patient(id="1")},
            {"fullUrl": "http://example.org/fhir/Patient/1", "resource": patient(id="1")},
        ],
    },
    "Bundle", "invariant",
)  # fmt: skip
case(
    "invariant", "bdl-8-versioned-fullUrl",
    {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "http://example.org/fhir/Patient/1/_history/2", "resource": patient(id="1")}
        ],
    },
    "Bundle.entry[0]", "invariant",
)  # fmt: skip
case(
    "invariant",
    "bdl-9-document-without-identifier",
    document(identifier=DROP),
    "Bundle",
    "invariant",
)
case(
    "invariant",
    "bdl-10-document-without-timestamp",
    document(timestamp=DROP),
    "Bundle",
    "invariant",
)
case(
    "invariant", "bdl-11-document-not-starting-with-Composition",
    bundle(
        "document", patient(), composition(),
        identifier=DOC_ID,
        timestamp="2020-01-01T10:00:00Z",
    ),
    "Bundle", "invariant",
)  # fmt: skip
case(
    "invariant", "bdl-12-message-not-starting-with-MessageHeader",
    bundle("message", patient()), "Bundle", "invariant",
)  # fmt: skip
case(
    "invariant", "que-1-group-without-items",
    questionnaire({"linkId": "1", "type": "group", "text": "Section"}), "Questionnaire.item[0]",
    "invariant",
)  # fmt: skip
case(
    "invariant", "que-2-duplicate-linkId",
    questionnaire(
        {"linkId": "1", "type": "string", "text": "a"},
        {"linkId": "1", "type": "string", "text": "b"},
    ),
    "Questionnaire", "invariant",
)  # fmt: skip
case(
    "invariant", "que-6-required-display-item",
    questionnaire({"linkId": "1", "type": "display", "text": "Hello", "required": True}),
    "Questionnaire.item[0]", "invariant",
)  # fmt: skip
case(
    "invariant", "app-3-booked-without-start",
    appointment(status="booked"), "Appointment", "invariant",
)  # fmt: skip
case(
    "invariant", "grp-1-members-of-a-definitional-group", group(actual=False), "Group", "invariant"
)

# -- profiles (the R4 blood-pressure profile the server holds; an unknown one only warns)
case(
    "profile", "bp-without-diastolic", blood_pressure(component=[SYSTOLIC]),
    "Observation.component", "required",
)  # fmt: skip
case(
    "profile", "bp-valueString", blood_pressure(valueString="120/80"), "Observation.valueString",
    "structure",
)  # fmt: skip
case(
    "profile", "bp-valueQuantity-in-a-slice-of-max-0",
    blood_pressure(valueQuantity=bp_component("8480-6", 120)["valueQuantity"]),
    "Observation.value", "structure",
)  # fmt: skip
case(
    "profile", "bp-wrong-code", blood_pressure(code=HEART_RATE), "Observation.code.coding",
    "required",
)  # fmt: skip
case(
    "profile", "bp-without-category", blood_pressure(category=DROP), "Observation.category",
    "required",
)  # fmt: skip
case(
    "profile", "bp-without-effective", blood_pressure(effectiveDateTime=DROP),
    "Observation.effective", "required",
)  # fmt: skip
case(
    "profile", "bp-systolic-unit-not-fixed-value",
    blood_pressure(component=[bp_component("8480-6", 120, "mmHg"), DIASTOLIC]),
    "Observation.component[0].valueQuantity.code", "value",
)  # fmt: skip
case(
    "profile", "profile-for-another-type", patient(meta={"profile": [BP]}), "Patient", "structure"
)  # fmt: skip
case(
    "profile", "unknown-profile-warns",
    observation(meta={"profile": ["http://example.org/fhir/StructureDefinition/unknown"]}),
    "Observation.meta.profile[0]", "not-supported", "warning",
)  # fmt: skip


def test_there_are_enough_cases():
    checks = Counter(p.id.split("/")[0] for p in CASES)
    invariants = {
        "-".join(p.id.split("/")[1].split("-")[:2]) for p in CASES if p.id.startswith("invariant/")
    }
    assert len(CASES) >= 110, checks
    assert len(invariants) >= 15, invariants
    assert len({p.id for p in CASES}) == len(CASES), "case ids must be unique"


def _show(issues) -> str:
    return "\n".join(f"  {i.severity} {i.code} {i.expression}: {i.message}" for i in issues)


@pytest.mark.parametrize(("resource", "expression", "code", "severity"), CASES)
def test_broken_resource(resource, expression, code, severity):
    issues = validate(resource)
    found = [
        i for i in issues
        if i.expression == expression and i.code == code and i.severity == severity
    ]  # fmt: skip
    assert found, f"expected {severity} {code} at {expression}; got:\n{_show(issues)}"
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if severity in ("error", "fatal"):
        others = [i for i in errors if i.expression != expression]
    else:
        others = errors
    assert not others, f"one problem each, but also:\n{_show(others)}"


def test_every_issue_has_a_usable_location():
    """Every issue names where it is: an OperationOutcome expression is never ''."""
    for param in CASES:
        for issue in validate(param.values[0]):
            assert issue.expression, (param.id, issue)


def test_profiles_named_by_the_caller():
    obs = blood_pressure(meta=DROP, component=[SYSTOLIC])
    assert [i for i in validate(obs) if i.severity == "error"] == []
    issues = validate(obs, profiles=(BP,))
    assert any(i.severity == "error" and i.expression == "Observation.component" for i in issues), (
        _show(issues)
    )
    unknown = validate(observation(), profiles=("http://example.org/fhir/StructureDefinition/x",))
    assert [(i.severity, i.code) for i in unknown] == [("warning", "not-supported")]


# ---------------------------------------------------------------------- through the HTTP API

_BY_ID = {p.id: p.values for p in CASES}
API_SAMPLE = [
    "unknown-element/top-level",
    "unknown-element/in-contained",
    "required/Patient.link.other",
    "max/two-values-in-0..1-code",
    "array/repeating-given-as-object",
    "empty/empty-string-in-array",
    "type/string-true-for-boolean",
    "choice/type-not-allowed-deceasedString",
    "date/february-30",
    "null/in-array-without-companion",
    "extension/value-and-extensions",
    "reference/target-not-allowed-Patient.generalPractitioner-Patient",
    "binding-required/Patient.gender-banana",
    "invariant/pat-1-contact-without-details",
]


def _patients(fhir) -> int:
    return fhir.get("Patient?_count=0").json()["total"]


@pytest.mark.parametrize("case_id", API_SAMPLE)
def test_api_rejects_the_broken_resource_and_stores_nothing(fhir, case_id):
    resource, expression, code, _ = _BY_ID[case_id]
    assert resource["resourceType"] == "Patient"
    assert fhir.post("Patient", patient()).status == 201
    before, rows = _patients(fhir), row_counts()
    resp = fhir.post("Patient", resource)
    assert resp.status == 400, resp.body[:500]
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    listed = {(i["code"], i["expression"][0]) for i in outcome["issue"] if i["severity"] == "error"}
    assert (code, expression) in listed, outcome
    assert _patients(fhir) == before
    assert row_counts() == rows
    # an update is refused the same way
    put = fhir.put("Patient/broken-1", {**resource, "id": "broken-1"})
    assert put.status == 400, put.body[:500]
    assert fhir.get("Patient/broken-1").status == 404


def test_api_lists_every_problem(fhir):
    body = patient(gender=["male"], birthDate="2021-02-30", fooBar=1)
    resp = fhir.post("Patient", body)
    assert resp.status == 400
    where = {i["expression"][0] for i in resp.json()["issue"]}
    assert {"Patient.gender", "Patient.birthDate", "Patient.fooBar"} <= where


def test_transaction_with_one_invalid_entry_is_rejected_and_changes_nothing(fhir):
    assert fhir.post("", transaction(post_entry(patient()))).status == 200
    before, rows = _patients(fhir), row_counts()
    bad = patient(birthDate="2021-02-30")
    resp = fhir.post("", transaction(post_entry(patient(), 0), post_entry(bad, 1)))
    assert resp.status == 400, resp.body[:500]
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    where = [i["expression"][0] for i in outcome["issue"] if i["severity"] == "error"]
    assert where == ["Bundle.entry[1].resource.birthDate"], outcome
    assert _patients(fhir) == before
    assert row_counts() == rows


def test_transaction_entry_with_a_nested_problem_names_the_entry(fhir):
    rows = row_counts()
    bad = observation(valueQuantity={"value": "72"})
    resp = fhir.post("", transaction(post_entry(patient(), 0), post_entry(bad, 1)))
    assert resp.status == 400, resp.body[:500]
    where = [i["expression"][0] for i in resp.json()["issue"] if i["severity"] == "error"]
    assert where == ["Bundle.entry[1].resource.valueQuantity.value"], resp.json()
    assert row_counts() == rows


def test_validate_operation_reports_without_storing(fhir):
    before = _patients(fhir)
    broken = patient(birthDate="2020-13-01", fooBar=1)
    resp = fhir.post("Patient/$validate", broken)
    assert resp.status == 200, resp.body[:500]
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    found = {(i["severity"], i["code"], i["expression"][0]) for i in outcome["issue"]}
    assert ("error", "value", "Patient.birthDate") in found
    assert ("error", "structure", "Patient.fooBar") in found
    assert _patients(fhir) == before
    # the answer is itself a valid resource
    assert [i for i in validate(outcome) if i.severity == "error"] == []


def test_validate_operation_on_a_valid_resource(fhir):
    resp = fhir.post("Patient/$validate", patient())
    assert resp.status == 200
    issues = resp.json()["issue"]
    assert [(i["severity"], i["code"]) for i in issues] == [("information", "informational")]
    assert issues[0]["diagnostics"] == "No problems found"
    assert _patients(fhir) == 0


def test_validate_operation_with_parameters_and_profile(fhir):
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": blood_pressure(meta=DROP, component=[SYSTOLIC])},
            {"name": "profile", "valueUri": BP},
        ],
    }
    resp = fhir.post("Observation/$validate", params)
    assert resp.status == 200, resp.body[:500]
    found = {(i["severity"], i["expression"][0]) for i in resp.json()["issue"]}
    assert ("error", "Observation.component") in found


def test_validate_operation_outcome_with_form_only_codes_is_valid(fhir):
    """The information issue about form-only code systems must still be a valid OperationOutcome."""
    resource = _BY_ID["binding-form-only/SNOMED-code"][0]
    resp = fhir.post("Encounter/$validate", json.loads(json.dumps(resource)))
    assert resp.status == 200
    outcome = resp.json()
    assert any(
        i["severity"] == "information" and SNOMED in i["diagnostics"] for i in outcome["issue"]
    ), outcome
    assert [i for i in validate(outcome) if i.severity == "error"] == []
