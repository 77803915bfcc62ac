"""Searches over the Synthea bundles and the official R4 examples, checked against an oracle.

Every expected result is computed here, independently of the engine: the parameter's FHIRPath
expression (from the official definitions) is evaluated with the external ``fhirpathpy``
library over the loaded resources, and the FHIR matching rules are applied in plain Python
(``oracle.py``). Parameter values are sampled from the data with a fixed seed per search.

The corpus is loaded once per module (committed, not rolled back per test) and wiped at the end.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.test import Client

from ehr.fhir import definitions
from tests.conftest import Fhir, mint_token
from tests.fhir.search_api import corpus as C
from tests.fhir.search_api import oracle as O
from tests.fhir.search_api.samples import (
    both,
    chain,
    composite,
    dat,
    date_range_gen,
    fixed,
    has,
    ids,
    last_updated,
    missing,
    num,
    of_type,
    qty,
    ref,
    same_patient,
    strg,
    text_words,
    tok,
    tok_multi,
    tok_text,
    uri,
)

# ------------------------------------------------------------------ the corpus, once per module


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), C.test_database():
        C.wipe()
        fhir = Fhir(Client(), mint_token())
        stable = C.load(fhir)
        data = C.Corpus(C.snapshot(), stable)
        try:
            yield data
        finally:
            C.wipe()


@pytest.fixture
def fhir(corpus, django_db_blocker):
    """The API over Django's test client, on the committed corpus (no per-test transaction)."""
    with django_db_blocker.unblock():
        yield Fhir(Client(), mint_token())


# ------------------------------------------------------------------ the sampled searches

SLOTS: dict[str, tuple[str, object]] = {}


def add(rtype: str, label: str, gen, n: int = 1) -> None:
    for i in range(n):
        key = f"{rtype}?{label}" + (f"#{i}" if n > 1 else "")
        assert key not in SLOTS, key
        SLOTS[key] = (rtype, gen)


# token
add("Observation", "code=code", tok("code", "code"), 3)
add("Observation", "code=sys|code", tok("code", "sys|code"), 3)
add("Observation", "code=sys|", tok("code", "sys|"))
add("Observation", "code:not", tok("code", "sys|code", "not"), 2)
add("Observation", "code:text", tok_text("code"), 3)
add("Observation", "code=a,b", tok("code", "or"), 2)
add("Observation", "category", tok("category", "sys|code"), 2)
add("Observation", "category=code", tok("category", "code"))
add("Observation", "category:not", tok("category", "code", "not"))
add("Observation", "value-concept", tok("value-concept", "sys|code"), 2)
add("Observation", "value-concept:text", tok_text("value-concept"))
add("Observation", "component-code", tok("component-code", "sys|code"), 2)
add("Observation", "combo-code", tok("combo-code", "code"))
add("Observation", "status", tok("status", "code"))
add("Observation", "status:not", tok("status", "code", "not"))
add("Observation", "_tag", tok("_tag", "sys|code"))
add("Observation", "identifier=|value", tok("identifier", "|code"))
add("Condition", "code", tok("code", "sys|code"), 2)
add("Condition", "code=code", tok("code", "code"))
add("Condition", "code:text", tok_text("code"), 2)
add("Condition", "code:not", tok("code", "code", "not"))
add("Condition", "clinical-status", tok("clinical-status", "code"))
add("Condition", "clinical-status=sys|code", tok("clinical-status", "sys|code"))
add("Condition", "verification-status", tok("verification-status", "code"))
add("Condition", "category", tok("category", "sys|code"))
add("Condition", "_security", tok("_security", "sys|code"))
add("Condition", "severity", tok("severity", "sys|code"))
add("Encounter", "class", tok("class", "code"), 2)
add("Encounter", "class=sys|code", tok("class", "sys|code"))
add("Encounter", "type", tok("type", "sys|code"), 2)
add("Encounter", "type:text", tok_text("type"))
add("Encounter", "status", tok("status", "code"))
add("Encounter", "reason-code", tok("reason-code", "sys|code"))
add("Encounter", "identifier=|value", tok("identifier", "|code"))
add("Procedure", "code", tok("code", "sys|code"), 2)
add("Procedure", "code:text", tok_text("code"))
add("Procedure", "status", tok("status", "code"))
add("Procedure", "identifier=|value", tok("identifier", "|code"))
add("Immunization", "vaccine-code", tok("vaccine-code", "sys|code"), 2)
add("Immunization", "vaccine-code=code", tok("vaccine-code", "code"))
add("Immunization", "vaccine-code:text", tok_text("vaccine-code"))
add("Immunization", "status", tok("status", "code"))
add("MedicationRequest", "code", tok("code", "sys|code"), 2)
add("MedicationRequest", "code:text", tok_text("code"))
add("MedicationRequest", "intent", tok("intent", "code"))
add("MedicationRequest", "status", tok("status", "code"))
add("MedicationRequest", "status:not", tok("status", "code", "not"))
add("DiagnosticReport", "code", tok("code", "sys|code"), 2)
add("DiagnosticReport", "category", tok("category", "sys|code"))
add("DiagnosticReport", "status", tok("status", "code"))
add("AllergyIntolerance", "code", tok("code", "code"))
add("AllergyIntolerance", "clinical-status", tok("clinical-status", "sys|code"))
add("AllergyIntolerance", "criticality", tok("criticality", "code"))
add("AllergyIntolerance", "category", tok("category", "code"))
add("AllergyIntolerance", "type", tok("type", "code"))
add("CarePlan", "category", tok("category", "sys|code"))
add("CarePlan", "activity-code", tok("activity-code", "sys|code"))
add("CarePlan", "activity-code&activity-code", tok_multi("activity-code"))
add("CarePlan", "status", tok("status", "code"))
add("CarePlan", "intent", tok("intent", "code"))
add("Goal", "lifecycle-status", tok("lifecycle-status", "code"))
add("Goal", "achievement-status", tok("achievement-status", "sys|code"))
add("Claim", "use", tok("use", "code"))
add("Claim", "priority", tok("priority", "sys|code"))
add("ExplanationOfBenefit", "identifier", tok("identifier", "sys|code"), 2)
add("ExplanationOfBenefit", "status", tok("status", "code"))
add("Patient", "identifier", tok("identifier", "sys|code"), 3)
add("Patient", "identifier=sys|", tok("identifier", "sys|"))
add("Patient", "identifier=value", tok("identifier", "code"))
add("Patient", "identifier&identifier", tok_multi("identifier"), 2)
add("Patient", "identifier:of-type", of_type(), 2)
add("Patient", "identifier:text", tok_text("identifier"))
add("Patient", "gender", tok("gender", "code"))
add("Patient", "gender:not", tok("gender", "code", "not"))
add("Patient", "gender=MALE (codes are case-sensitive)", fixed(("gender", "MALE")))
add("Patient", "gender=a,b", tok("gender", "or-code"))
add("Patient", "deceased", tok("deceased", "code"))
add("Patient", "active", tok("active", "code"))
add("Patient", "language", tok("language", "sys|code"))
add("Patient", "telecom", tok("telecom", "code"), 2)
add("Patient", "phone", tok("phone", "code"))
add("Patient", "email", tok("email", "code"))
add("Practitioner", "identifier", tok("identifier", "sys|code"))
add("Practitioner", "gender", tok("gender", "code"))
add("Practitioner", "communication", tok("communication", "sys|code"))
add("Practitioner", "telecom", tok("telecom", "code"))
add("Organization", "identifier", tok("identifier", "sys|code"))
add("Organization", "type", tok("type", "sys|code"))
add("Organization", "active", tok("active", "code"))
add("ImagingStudy", "modality", tok("modality", "sys|code"))
add("ImagingStudy", "dicom-class", tok("dicom-class", "code"))
add("Goal", "identifier=|value", tok("identifier", "|code"))
add("Patient", "active:missing=true", missing("active", "true"))
add("Patient", "active:missing=false", missing("active", "false"))
add("Observation", "value-concept:missing=true", missing("value-concept", "true"))
add("Encounter", "reason-code:missing=false", missing("reason-code", "false"))
add(
    "Observation",
    "category:in",
    fixed(("category:in", "http://hl7.org/fhir/ValueSet/observation-category")),
)
add(
    "Condition",
    "clinical-status:in",
    fixed(("clinical-status:in", "http://hl7.org/fhir/ValueSet/condition-clinical")),
)
add(
    "Condition",
    "verification-status:not-in",
    fixed(("verification-status:not-in", "http://hl7.org/fhir/ValueSet/condition-ver-status")),
)
# a value set that takes all of LOINC: any LOINC code is in it
add("Observation", "code:in", fixed(("code:in", "http://hl7.org/fhir/ValueSet/observation-codes")))
add(
    "Observation",
    "code:not-in",
    fixed(("code:not-in", "http://hl7.org/fhir/ValueSet/observation-codes")),
)
add(
    "AllergyIntolerance",
    "clinical-status:in",
    fixed(("clinical-status:in", "http://hl7.org/fhir/ValueSet/allergyintolerance-clinical")),
)

# string
add("Patient", "name", strg("name"), 4)
add("Patient", "name:exact", strg("name", "exact"), 2)
add("Patient", "name:contains", strg("name", "contains"), 2)
add("Patient", "name=a,b", strg("name", "or"))
add("Patient", "family", strg("family"), 2)
add("Patient", "family:exact", strg("family", "exact"))
add("Patient", "given", strg("given"), 2)
add("Patient", "address", strg("address"), 2)
add("Patient", "address:contains", strg("address", "contains"))
add("Patient", "address-city", strg("address-city"), 2)
add("Patient", "address-state", strg("address-state"))
add("Patient", "address-postalcode", strg("address-postalcode"), 2)
add("Patient", "address-country", strg("address-country"))
add("Patient", "given=benedicte (accents)", fixed(("given", "benedicte")))
add("Patient", "family=ALCANTAR (accents)", fixed(("family", "ALCANTAR")))
add("Patient", "address-city:exact", strg("address-city", "exact"))
add("Patient", "family:missing=true", missing("family", "true"))
add("Practitioner", "name", strg("name"), 2)
add("Practitioner", "family", strg("family"))
add("Practitioner", "given:contains", strg("given", "contains"))
add("Practitioner", "address-city", strg("address-city"))
add("Organization", "name", strg("name"), 3)
add("Organization", "name:exact", strg("name", "exact"))
add("Organization", "name:contains", strg("name", "contains"))
add("Organization", "address-city", strg("address-city"))
add("Organization", "address", strg("address"))
add("Observation", "value-string", strg("value-string"), 2)
add("Observation", "value-string:contains", strg("value-string", "contains"))
add("Immunization", "lot-number", strg("lot-number"))
add("Location", "name", strg("name"))
add("Location", "address", strg("address"))

# date
for prefix, precision, n in [
    ("", "day", 2),
    ("", "year", 1),
    ("", "month", 1),
    ("ne", "day", 1),
    ("gt", "day", 1),
    ("lt", "day", 1),
    ("ge", "day", 1),
    ("le", "day", 1),
    ("sa", "year", 1),
    ("eb", "year", 1),
    ("ap", "year", 1),
]:
    add("Patient", f"birthdate={prefix}{precision}", dat("birthdate", prefix, precision), n)
for prefix, precision, tz, n in [
    ("", "day", 0, 2),
    ("", "second", -5, 1),
    ("", "minute", 0, 1),
    ("gt", "day", 0, 1),
    ("lt", "day", 0, 1),
    ("ge", "day", 0, 1),
    ("le", "day", 0, 1),
    ("ne", "month", 0, 1),
    ("sa", "month", 0, 1),
    ("eb", "month", 0, 1),
    ("ap", "year", 0, 1),
    ("ge", "second", 3, 1),
]:
    label = f"date={prefix}{precision}" + (f"{tz:+d}h" if tz else "")
    add("Observation", label, dat("date", prefix, precision, tz), n)
add("Observation", "date=ge&date=le", date_range_gen("date"), 2)
for prefix, precision in [
    ("", "day"),
    ("", "year"),
    ("", "month"),
    ("ge", "day"),
    ("le", "day"),
    ("gt", "day"),
    ("lt", "day"),
    ("sa", "day"),
    ("eb", "day"),
    ("ne", "day"),
]:
    add("Encounter", f"date={prefix}{precision}", dat("date", prefix, precision))
add("Encounter", "date=eq second", dat("date", "", "second"))
add("Condition", "onset-date", dat("onset-date", "", "day"))
add("Condition", "onset-date=ge", dat("onset-date", "ge", "month"))
add("Condition", "recorded-date", dat("recorded-date", "", "day"))
add("Condition", "abatement-date=lt", dat("abatement-date", "lt", "year"))
add("Condition", "abatement-date:missing=true", missing("abatement-date", "true"))
add("Procedure", "date", dat("date", "", "day"), 2)
add("Procedure", "date=ge", dat("date", "ge", "month"))
add("Immunization", "date", dat("date", "", "day"))
add("Immunization", "date=lt", dat("date", "lt", "year"))
add("MedicationRequest", "authoredon", dat("authoredon", "", "day"))
add("MedicationRequest", "authoredon=gt", dat("authoredon", "gt", "month"))
add("DiagnosticReport", "issued=second", dat("issued", "", "second"))
add("DiagnosticReport", "date", dat("date", "", "day"))
add("Claim", "created", dat("created", "", "day"))
add("ExplanationOfBenefit", "created=le", dat("created", "le", "day"))
add("CarePlan", "date=ge", dat("date", "ge", "day"))
add("CarePlan", "date=le", dat("date", "le", "day"))
add("AllergyIntolerance", "date", dat("date", "", "month"))
add("Goal", "start-date", dat("start-date", "", "day"))
add("Observation", "_lastUpdated=ge", last_updated("ge"))
add("Observation", "_lastUpdated=lt", last_updated("lt"))
add("Patient", "_lastUpdated=day", last_updated("", "day"))

# number
for prefix in ["", "gt", "lt", "ge", "le", "ne"]:
    add("MolecularSequence", f"variant-start={prefix}", num("variant-start", prefix))
for prefix in ["", "sa", "eb"]:
    add("MolecularSequence", f"window-end={prefix}", num("window-end", prefix))
for prefix in ["", "gt", "le", "ap"]:
    add("RiskAssessment", f"probability={prefix}", num("probability", prefix))
add("RiskAssessment", "probability=eq#1", num("probability", "eq"))
add("ChargeItem", "factor-override", num("factor-override"))

# quantity (Synthea writes values with 16-17 significant digits: "exact" slots use them as
# they are, the others round them, which widens the implicit range of the search value)
add("Observation", "value-quantity=n exact", qty("value-quantity", "", "none"))
add("Observation", "value-quantity=n 3 digits", qty("value-quantity", "", "none", 3))
add("Observation", "value-quantity=n|sys|code exact", qty("value-quantity", "", "sys|code"))
add("Observation", "value-quantity=n|sys|code", qty("value-quantity", "", "sys|code", 4), 2)
add("Observation", "value-quantity=n||code", qty("value-quantity", "", "|code", 3), 2)
for prefix in ["gt", "lt", "ge", "le", "ne", "ap"]:
    add("Observation", f"value-quantity={prefix}", qty("value-quantity", prefix, "sys|code", 3))
add(
    "Observation",
    "value-quantity=gt&lt",
    both(qty("value-quantity", "gt", "sys|code", 2), qty("value-quantity", "lt", "none", 2)),
)
add("Encounter", "length", qty("length", "", "|code"))
add("Condition", "onset-age", qty("onset-age", "", "sys|code"))
add("ChargeItem", "price-override (Money)", qty("price-override", "", "sys|code"))
add("Invoice", "totalgross (Money)", qty("totalgross", "ge", "sys|code"))
add("Substance", "quantity", qty("quantity", "", "none"))

# reference
add("Observation", "subject=Type/id", ref("subject", "Type/id"), 3)
add("Observation", "subject=id", ref("subject", "id"), 2)
add("Observation", "subject:Patient=id", ref("subject", "typemod"))
add("Observation", "patient", ref("patient", "Type/id"), 2)
add("Observation", "encounter", ref("encounter", "Type/id"), 2)
add("Observation", "performer", ref("performer", "Type/id"))
add("Observation", "subject=a,b", ref("subject", "or"))
add("Observation", "subject=this server's URL", ref("subject", "own-url"))
add("Observation", "subject=another server's URL", ref("subject", "foreign-url"))
add("Observation", "has-member", ref("has-member", "Type/id"))
add("Observation", "derived-from", ref("derived-from", "id"))
add("Observation", "encounter:missing=true", missing("encounter", "true"))
add("Encounter", "subject", ref("subject", "Type/id"))
add("Encounter", "patient", ref("patient", "id"))
add("Encounter", "participant", ref("participant", "Type/id"), 2)
add("Encounter", "service-provider", ref("service-provider", "Type/id"))
add("Condition", "subject", ref("subject", "Type/id"))
add("Condition", "encounter", ref("encounter", "Type/id"))
add("Condition", "asserter", ref("asserter", "typemod"))
add("Claim", "patient", ref("patient", "Type/id"))
add("Claim", "provider", ref("provider", "Type/id"))
add("Claim", "encounter", ref("encounter", "id"))
add("Claim", "provider:identifier", ref("provider", "identifier"))
add("Claim", "insurer:identifier", ref("insurer", "identifier"))
add("ExplanationOfBenefit", "patient", ref("patient", "Type/id"))
add("ExplanationOfBenefit", "claim", ref("claim", "Type/id"))
add("DiagnosticReport", "result", ref("result", "Type/id"), 2)
add("DiagnosticReport", "subject", ref("subject", "id"))
add("MedicationRequest", "requester", ref("requester", "Type/id"))
add("MedicationRequest", "subject", ref("subject", "Type/id"))
add("MedicationRequest", "medication", ref("medication", "Type/id"))
add("Procedure", "subject", ref("subject", "Type/id"))
add("Procedure", "reason-reference", ref("reason-reference", "Type/id"))
add("CarePlan", "subject", ref("subject", "Type/id"))
add("CarePlan", "condition", ref("condition", "Type/id"))
add("CarePlan", "goal", ref("goal", "id"))
add("Immunization", "patient", ref("patient", "Type/id"), 2)
add("AllergyIntolerance", "patient", ref("patient", "Type/id"))
add("ServiceRequest", "subject=absolute url", ref("subject", "url"))
add(
    "OrganizationAffiliation",
    "primary-organization=absolute url",
    ref("primary-organization", "url"),
)
add("QuestionnaireResponse", "subject=absolute url", ref("subject", "url"))
add("Task", "owner:identifier", ref("owner", "identifier"))
add("Coverage", "payor:identifier", ref("payor", "identifier"))
add("Patient", "general-practitioner:missing=false", missing("general-practitioner", "false"))
add("Procedure", "instantiates-canonical", ref("instantiates-canonical", "url"))

# uri
add("PlanDefinition", "url", uri("url"), 2)
add("PlanDefinition", "url:below", uri("url", "below"))
add("PlanDefinition", "url:above", uri("url", "above"))
add("Library", "url", uri("url"))
add("Measure", "url:below", uri("url", "below"))
add("Questionnaire", "url", uri("url"))
add("CapabilityStatement", "url:below", uri("url", "below"))
add("ActivityDefinition", "url", uri("url"))
add("ActivityDefinition", "url:above", uri("url", "above"))
add("Observation", "_profile", uri("_profile"), 2)
add("Observation", "_profile:below", uri("_profile", "below"))

# composite
add("Observation", "code-value-quantity exact", composite("code-value-quantity"))
add("Observation", "code-value-quantity", composite("code-value-quantity", "", 4))
add("Observation", "code-value-quantity=gt", composite("code-value-quantity", "gt", 3))
add(
    "Observation",
    "component-code-value-quantity",
    composite("component-code-value-quantity", "", 3),
)
add(
    "Observation",
    "component-code-value-quantity=lt",
    composite("component-code-value-quantity", "lt", 3),
)
add("Observation", "code-value-concept", composite("code-value-concept"), 2)
add("Observation", "combo-code-value-quantity", composite("combo-code-value-quantity", "", 3))
add("PlanDefinition", "context-type-value", composite("context-type-value"))
add(
    "MolecularSequence",
    "chromosome-window-coordinate (3 components)",
    composite("chromosome-window-coordinate"),
)

# special
add("Observation", "_id", ids(1))
add("Patient", "_id=a,b", ids(2))
add("Condition", "_id=a,b,c", ids(3))
add("Patient", "_tag", tok("_tag", "sys|code"))
add("Condition", "_tag=code", tok("_tag", "code"))
add("Patient", "_tag:not", tok("_tag", "sys|code", "not"))
add("Patient", "_text", text_words("_text"))
add("Condition", "_text", text_words("_text", 2))
add("Medication", "_content", text_words("_content"))
add("Organization", "_content", text_words("_content", 2))
add("Condition", "_list", fixed(("_list", "example")))
add("Patient", "_list", fixed(("_list", "long")))

# chains and reverse chains
add("Observation", "subject:Patient.name", chain("subject:Patient.name", "name", "Patient"), 2)
add("Observation", "subject.family", chain("subject.family", "family", "Patient"))
add("Observation", "patient.birthdate", chain("patient.birthdate", "birthdate", "Patient"))
add("Condition", "subject.family", chain("subject.family", "family", "Patient"))
add("Observation", "patient.gender", chain("patient.gender", "gender", "Patient"))
add("Encounter", "service-provider.name", chain("service-provider.name", "name", "Organization"))
add("Observation", "encounter.class", chain("encounter.class", "class", "Encounter"))
add(
    "MedicationRequest",
    "requester:Practitioner.family",
    chain("requester:Practitioner.family", "family", "Practitioner"),
)
add("DiagnosticReport", "result.code", chain("result.code", "code", "Observation"))
add(
    "Observation",
    "encounter.subject:Patient.name (2 levels)",
    chain("encounter.subject:Patient.name", "name", "Patient"),
)
add(
    "Observation",
    "encounter.service-provider.name (2 levels)",
    chain("encounter.service-provider.name", "name", "Organization"),
)
add(
    "Claim",
    "encounter.patient.birthdate (2 levels)",
    chain("encounter.patient.birthdate", "birthdate", "Patient"),
)
add(
    "Patient",
    "_has:Observation:patient:code",
    has("_has:Observation:patient:code", "Observation", "code"),
    2,
)
add(
    "Patient",
    "_has:Condition:subject:code",
    has("_has:Condition:subject:code", "Condition", "code"),
)
add(
    "Encounter",
    "_has:Observation:encounter:code",
    has("_has:Observation:encounter:code", "Observation", "code"),
)
add(
    "Practitioner",
    "_has:Encounter:participant:class",
    has("_has:Encounter:participant:class", "Encounter", "class"),
)
add(
    "Patient",
    "_has:Encounter:patient:_has:Condition:encounter:code (nested)",
    has("_has:Encounter:patient:_has:Condition:encounter:code", "Condition", "code"),
)

# several parameters (the US Core combinations)
add("Observation", "patient&category", same_patient(("category", tok("category"))), 2)
add("Observation", "patient&code", same_patient(("code", tok("code"))), 2)
add(
    "Observation",
    "patient&category&date",
    same_patient(("category", tok("category")), ("date", dat("date", "ge", "year"))),
    2,
)
add("Condition", "patient&category", same_patient(("category", tok("category"))))
add("Condition", "patient&clinical-status", same_patient(("cs", tok("clinical-status", "code"))))
add(
    "MedicationRequest",
    "patient&intent&status",
    same_patient(("intent", tok("intent", "code")), ("status", tok("status", "code"))),
)
add("Encounter", "patient&date", same_patient(("date", dat("date", "ge", "month"))), 2)
add("DiagnosticReport", "patient&category", same_patient(("category", tok("category"))))
add("DiagnosticReport", "patient&code", same_patient(("code", tok("code"))))
add("Procedure", "patient&date", same_patient(("date", dat("date", "le", "year"))))
add("CarePlan", "patient&category", same_patient(("category", tok("category"))))
add("Immunization", "patient&date", same_patient(("date", dat("date", "ge", "year"))))
add("Patient", "family&birthdate", both(strg("family", "exact"), dat("birthdate", "", "year")))
add("Patient", "name&gender", both(strg("name"), tok("gender", "code")))


def _case(corpus: C.Corpus, key: str) -> tuple[str, list[tuple[str, str]]]:
    rtype, gen = SLOTS[key]
    rng = random.Random(f"42/{key}")
    return rtype, gen(corpus, rng, rtype)


@pytest.mark.parametrize("key", list(SLOTS))
def test_search_agrees_with_the_oracle(corpus, fhir, key):
    rtype, params = _case(corpus, key)
    expected = corpus.expected(rtype, params)
    got, pages = C.search(fhir, rtype, params)
    ids = [i for t, i in got]
    assert all(t == rtype for t, _ in got)
    assert len(ids) == len(set(ids)), f"duplicates in {params}"
    missing_ = expected - set(ids)
    extra = set(ids) - expected
    assert not missing_ and not extra, (
        f"{rtype}?{urlencode(params)}\n expected {len(expected)}, got {len(ids)}\n"
        f" missing {sorted(missing_)[:5]}\n extra {sorted(extra)[:5]}"
    )
    _assert_default_total(fhir, rtype, params, pages[0], len(expected), whole=len(pages) == 1)


def _assert_default_total(
    fhir, rtype: str, params, first: dict, expected: int, *, whole: bool
) -> None:
    """A total nobody asked for is the first page's size when it holds every match (``whole``)
    and is left out otherwise; the count asked for is exact either way, also beside a page."""
    if whole:
        assert first.get("total") == expected
    else:
        assert "total" not in first
    query = urlencode([*params, ("_count", "1"), ("_total", "accurate")])
    counted = fhir.get(f"{rtype}?{query}").json()
    assert counted["total"] == expected


def test_the_plan_has_at_least_300_searches_over_every_parameter_type():
    assert len(SLOTS) >= 300
    kinds = Counter()
    for key, (rtype, _gen) in SLOTS.items():
        name = key.split("?", 1)[1].split("=")[0].split(":")[0].split("&")[0].split(" ")[0]
        name = name.split("#")[0].split(".")[0]
        if name.startswith("_has"):
            kinds["_has"] += 1
        elif name in definitions.search_params(rtype):
            kinds[definitions.search_params(rtype)[name]["type"]] += 1
    for kind in ("token", "string", "date", "number", "quantity", "reference", "uri", "composite"):
        assert kinds[kind] >= 5, (kind, kinds)


def test_the_sampled_searches_mostly_find_something(corpus):
    """The samples come from the data, so nearly every search has matches (those that have
    none on purpose: far-off sa/eb/gt/lt values, another server's URL, a wrong-case code)."""
    empty = [k for k in SLOTS if not corpus.expected(*_case(corpus, k))]
    assert len(empty) <= len(SLOTS) // 20, empty


# ------------------------------------------------------------------ helpers for the other tests


def _entries(pages: list[dict], mode: str | None = None) -> list[tuple[str, str]]:
    return [
        (e["resource"]["resourceType"], e["resource"]["id"])
        for b in pages
        for e in b.get("entry", [])
        if mode is None or e.get("search", {}).get("mode") == mode
    ]


def _first(corpus: C.Corpus, rtype: str, pred=None) -> str:
    for rid in corpus.order(rtype, corpus.ids(rtype)):
        if pred is None or pred(rid):
            return rid
    raise AssertionError(f"no {rtype}")


def _synthea_patient(corpus: C.Corpus, n: int = 0) -> str:
    pats = [
        i
        for i in corpus.order("Patient", corpus.ids("Patient"))
        if corpus.stable.get(("Patient", i), "").startswith("synthea:")
    ]
    return pats[n]


def _referenced(corpus: C.Corpus, rtype: str, rid: str, params=None, target=None) -> set:
    """(type, id) of the stored resources that ``rtype/rid`` refers to through ``params``."""
    params = params or [
        n
        for n, d in definitions.search_params(rtype).items()
        if d["type"] == "reference" and d.get("expression")
    ]
    out = set()
    for p in params:
        try:
            refs = corpus.refs(rtype, p, rid)
        except Exception:  # expressions fhirpathpy cannot evaluate (see oracle.py)
            continue
        for r in refs:
            if r.type and r.id in corpus.res.get(r.type, {}) and target in (None, r.type):
                out.add((r.type, r.id))
    return out


def _include_closure(corpus, page: set, includes, revincludes) -> set:
    """Resources that _include / _revinclude (with :iterate) add to a page."""
    seen, frontier, out, depth = set(page), set(page), set(), 0
    while frontier:
        new = set()
        for src, param, target, iterate in includes:
            if depth and not iterate:
                continue
            for t, i in frontier:
                if t == src:
                    new |= _referenced(corpus, t, i, [param], target)
        for src, param, _target, iterate in revincludes:
            if depth and not iterate:
                continue
            for sid in corpus.values(src, param):
                if any((r.type, r.id) in frontier for r in corpus.refs(src, param, sid)):
                    new.add((src, sid))
        new -= seen
        seen |= new
        out |= new
        frontier = new
        depth += 1
    return out


# ------------------------------------------------------------------ _include and _revinclude


def test_include_subject_and_encounter(corpus, fhir):
    enc = _first(
        corpus,
        "Encounter",
        lambda e: len(corpus.match("Observation", "encounter", f"Encounter/{e}")) > 3,
    )
    params = [
        ("encounter", f"Encounter/{enc}"),
        ("_include", "Observation:subject"),
        ("_include", "Observation:encounter"),
    ]
    _, pages = C.search(fhir, "Observation", params)
    matched = {("Observation", i) for i in corpus.expected("Observation", params)}
    assert set(_entries(pages, "match")) == matched
    expected = _include_closure(
        corpus,
        matched,
        [("Observation", "subject", None, False), ("Observation", "encounter", None, False)],
        [],
    )
    assert set(_entries(pages, "include")) == expected
    assert ("Encounter", enc) in expected and len(expected) == 2


def test_include_with_a_target_type_and_from_the_examples(corpus, fhir):
    params = [("_include", "MedicationRequest:medication:Medication")]
    _, pages = C.search(fhir, "MedicationRequest", params)
    matched = set(_entries(pages, "match"))
    expected = _include_closure(
        corpus, matched, [("MedicationRequest", "medication", "Medication", False)], []
    )
    assert expected and set(_entries(pages, "include")) == expected


def test_revinclude_and_revinclude_iterate(corpus, fhir):
    pid = _synthea_patient(corpus, 1)
    params = [
        ("_id", pid),
        ("_revinclude", "Encounter:patient"),
        ("_revinclude:iterate", "Observation:encounter"),
    ]
    _, pages = C.search(fhir, "Patient", params)
    assert _entries(pages, "match") == [("Patient", pid)]
    expected = _include_closure(
        corpus,
        {("Patient", pid)},
        [],
        [("Encounter", "patient", None, False), ("Observation", "encounter", None, True)],
    )
    got = _entries(pages, "include")
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert {t for t, _ in expected} == {"Encounter", "Observation"}


def test_include_iterate_follows_included_resources(corpus, fhir):
    obs = _first(
        corpus,
        "Observation",
        lambda o: (
            corpus.stable[("Observation", o)].startswith("synthea:")
            and bool(corpus.refs("Observation", "encounter", o))
        ),
    )
    params = [
        ("_id", obs),
        ("_include", "Observation:encounter"),
        ("_include:iterate", "Encounter:service-provider"),
        ("_include:iterate", "Encounter:participant"),
    ]
    _, pages = C.search(fhir, "Observation", params)
    expected = _include_closure(
        corpus,
        {("Observation", obs)},
        [
            ("Observation", "encounter", None, False),
            ("Encounter", "service-provider", None, True),
            ("Encounter", "participant", None, True),
        ],
        [],
    )
    assert {t for t, _ in expected} == {"Encounter", "Organization", "Practitioner"}
    assert set(_entries(pages, "include")) == expected


# ------------------------------------------------------------------ _sort


def _sort_key(corpus, rtype, rid, key, desc):
    if key == "_id":
        return rid
    if key == "_lastUpdated":
        return O.date_range(corpus.res[rtype][rid]["meta"]["lastUpdated"])[0]
    kind = corpus.ptype(rtype, key)
    items = corpus.values(rtype, key).get(rid, [])
    if kind == "date":
        vals = [r[1] if desc else r[0] for k, d in items for r in O.date_ranges(k, d)]
    elif kind == "string":
        vals = [O.fold(p) for k, d in items for p in O.string_parts(k, d)]
    elif kind == "token":
        vals = [t.code for k, d in items for t in O.token_items(k, d) if t.code]
    else:
        raise AssertionError(kind)
    if not vals:
        return None
    return max(vals) if desc else min(vals)


def _assert_sorted(corpus, rtype, ids, keys):
    """Sorted by each key in turn (lowest value ascending, highest descending); resources
    without a value for a key come after those with one, in either direction."""
    rows = []
    for rid in ids:
        row = []
        for key in keys:
            desc = key.startswith("-")
            v = _sort_key(corpus, rtype, rid, key.lstrip("-"), desc)
            row.append((v is None, v))
        rows.append(row)
    for a, b, ia, ib in zip(rows, rows[1:], ids, ids[1:], strict=False):
        for (amiss, av), (bmiss, bv), key in zip(a, b, keys, strict=True):
            if amiss != bmiss:
                assert not amiss, (key, ia, ib)
                break
            if amiss or av == bv:
                continue
            assert (av > bv) if key.startswith("-") else (av < bv), (key, ia, av, ib, bv)
            break


@pytest.mark.parametrize(
    "rtype,params,keys",
    [
        ("Patient", [], ["birthdate"]),
        ("Patient", [], ["-birthdate"]),
        ("Patient", [], ["gender", "-birthdate"]),
        ("Patient", [], ["family", "given", "_id"]),
        ("Practitioner", [], ["-family", "_id"]),
        ("Observation", [("category", "vital-signs")], ["-date", "code", "_id"]),
        ("Encounter", [("class", "AMB")], ["-date", "-_id"]),
        ("Condition", [], ["-_lastUpdated", "_id"]),
        ("Immunization", [], ["vaccine-code", "-date"]),
    ],
)
def test_sort(corpus, fhir, rtype, params, keys):
    full = [*params, ("_sort", ",".join(keys))]
    got, _ = C.search(fhir, rtype, full)
    ids = [i for _, i in got]
    assert set(ids) == corpus.expected(rtype, params)
    assert len(ids) == len(set(ids))
    _assert_sorted(corpus, rtype, ids, keys)


def test_sorted_results_page_by_offset_without_gaps(corpus, fhir):
    pid = _synthea_patient(corpus)
    params = [("patient", f"Patient/{pid}"), ("category", "vital-signs"), ("_sort", "-date,_id")]
    whole, _ = C.search(fhir, "Observation", params)
    paged, pages = C.search(fhir, "Observation", params, count=7)
    assert paged == whole
    assert len(pages) > 3
    assert all("_offset" in (_link(b, "next") or "_offset") for b in pages)


# ------------------------------------------------------------------ paging, totals, subsetting


def _link(bundle: dict, rel: str) -> str | None:
    urls = [link["url"] for link in bundle["link"] if link["relation"] == rel]
    return C.path_of(urls[0]) if urls else None


def test_paging_links_next_previous_self(corpus, fhir):
    params = [("category", "laboratory")]
    expected = corpus.expected("Observation", params)
    assert len(expected) > 150
    first = fhir.get("Observation?" + urlencode([*params, ("_count", "50")])).json()
    assert _link(first, "self") and _link(first, "next") and not _link(first, "previous")
    _assert_default_total(fhir, "Observation", params, first, len(expected), whole=False)
    pages, bundle = [first], first
    while _link(bundle, "next"):
        bundle = fhir.get(_link(bundle, "next")).json()
        pages.append(bundle)
        assert len(bundle["entry"]) <= 50
    ids = [i for _, i in _entries(pages, "match")]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert len(pages) == -(-len(expected) // 50)
    # previous from the third page gives the second page back
    third = pages[2]
    back = fhir.get(_link(third, "previous")).json()
    assert _entries([back]) == _entries([pages[1]])
    assert _link(back, "next")
    # self reproduces the page
    again = fhir.get(_link(pages[1], "self")).json()
    assert _entries([again]) == _entries([pages[1]])


def test_cursor_paging_is_stable_when_a_resource_is_created_between_pages(corpus, fhir):
    code = "http://loinc.org|8302-2"  # body height: many, one code
    params = [("code", code), ("_count", "10")]
    expected = corpus.expected("Observation", [("code", code)])
    assert len(expected) > 30
    first = fhir.get("Observation?" + urlencode(params)).json()
    seen = [i for _, i in _entries([first])]
    pid = _synthea_patient(corpus)
    created = fhir.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
            "subject": {"reference": f"Patient/{pid}"},
            "valueQuantity": {
                "value": 171,
                "unit": "cm",
                "system": "http://unitsofmeasure.org",
                "code": "cm",
            },
        },
    )
    assert created.status == 201
    new_id = created.json()["id"]
    try:
        bundle = first
        while _link(bundle, "next"):
            bundle = fhir.get(_link(bundle, "next")).json()
            seen += [i for _, i in _entries([bundle])]
        assert len(seen) == len(set(seen))
        assert set(seen) - {new_id} == expected
    finally:
        assert fhir.delete(f"Observation/{new_id}").status in (200, 204)


@pytest.mark.parametrize("total", ["none", "estimate", "accurate"])
def test_total(corpus, fhir, total):
    params = [("category", "vital-signs")]
    n = len(corpus.expected("Observation", params))
    b = fhir.get("Observation?" + urlencode([*params, ("_total", total), ("_count", "5")])).json()
    if total == "none":
        assert "total" not in b
    elif total == "estimate":
        assert b["total"] >= 5 and abs(b["total"] - n) <= n * 0.5
    else:
        assert b["total"] == n
    assert len(_entries([b])) == 5


def test_summary_count(corpus, fhir):
    params = [("clinical-status", "active")]
    b = fhir.get("Condition?" + urlencode([*params, ("_summary", "count")])).json()
    assert b["total"] == len(corpus.expected("Condition", params))
    assert not _entries([b])


def test_elements(corpus, fhir):
    params = [("category", "laboratory"), ("_elements", "status,subject"), ("_count", "20")]
    b = fhir.get("Observation?" + urlencode(params)).json()
    mandatory = {"resourceType", "id", "meta", "status", "code", "subject"}
    for e in b["entry"]:
        res = e["resource"]
        assert "subject" in res and "status" in res
        assert set(res) <= mandatory, set(res)
        assert "valueQuantity" not in res and "effectiveDateTime" not in res
        assert any(t.get("code") == "SUBSETTED" for t in res["meta"].get("tag", []))


def test_summary_true(corpus, fhir):
    b = fhir.get(
        "Patient?" + urlencode([("_id", _synthea_patient(corpus)), ("_summary", "true")])
    ).json()
    res = b["entry"][0]["resource"]
    assert "text" not in res and "name" in res and "birthDate" in res
    assert any(t.get("code") == "SUBSETTED" for t in res["meta"].get("tag", []))


# ------------------------------------------------------------------ compartments and system search


def _compartment_params(compartment: str) -> dict[str, list[str]]:
    from ehr.fhir.definitions.paths import package_dir

    d = json.loads(
        (package_dir() / f"CompartmentDefinition-{compartment.lower()}.json").read_bytes()
    )
    return {r["code"]: [p for p in r.get("param", []) if p != "{def}"] for r in d["resource"]}


def _members(corpus, compartment: str, cid: str, rtype: str) -> set[str]:
    out = set()
    for p in _compartment_params(compartment).get(rtype, []):
        out |= corpus.match(rtype, p, f"{compartment}/{cid}")
    return out


@pytest.mark.parametrize(
    "compartment,rtype,extra",
    [
        ("Patient", "Observation", []),
        ("Patient", "Observation", [("category", "vital-signs"), ("date", "ge2015")]),
        ("Patient", "Encounter", [("date", "ge2010")]),
        ("Patient", "Condition", []),
        ("Patient", "Claim", []),
        ("Patient", "ExplanationOfBenefit", []),
        ("Encounter", "Observation", []),
        ("Practitioner", "Encounter", []),
    ],
)
def test_compartment_search(corpus, fhir, compartment, rtype, extra):
    if compartment == "Patient":
        cid = _synthea_patient(corpus, 2)
    elif compartment == "Encounter":
        cid = _first(
            corpus,
            "Encounter",
            lambda e: len(corpus.match("Observation", "encounter", f"Encounter/{e}")) > 3,
        )
    else:
        cid = _first(
            corpus,
            "Practitioner",
            lambda p: len(corpus.match("Encounter", "participant", f"Practitioner/{p}")),
        )
    got, _ = C.search(fhir, f"{compartment}/{cid}/{rtype}", extra)
    expected = _members(corpus, compartment, cid, rtype) & corpus.expected(rtype, extra)
    assert expected
    assert {i for _, i in got} == expected and len(got) == len(expected)


def test_system_search_with_type(corpus, fhir):
    pid = _synthea_patient(corpus, 3)
    params = [("_type", "Condition,Observation,Encounter"), ("patient", f"Patient/{pid}")]
    got, _ = C.search(fhir, "", params)
    expected = corpus.expected(["Condition", "Observation", "Encounter"], params[1:])
    assert {t for t, _ in expected} == {"Condition", "Observation", "Encounter"}
    assert set(got) == expected and len(got) == len(expected)


def test_system_search_by_name_across_types(corpus, fhir):
    name = sorted(
        O.fold(p)
        for i, v in corpus.values("Practitioner", "family").items()
        for k, d in v
        for p in O.string_parts(k, d)
    )[0][:3]
    params = [("_type", "Patient,Practitioner"), ("name", name)]
    got, _ = C.search(fhir, "", params)
    assert set(got) == corpus.expected(["Patient", "Practitioner"], params[1:])


def test_system_search_by_id_without_type(corpus, fhir):
    got, _ = C.search(fhir, "", [("_id", "example")])
    expected = {(t, "example") for t, rs in corpus.res.items() if "example" in rs}
    assert len(expected) > 50
    assert set(got) == expected


# ------------------------------------------------------------------ Patient/$everything


def _everything_expected(corpus, pid: str, types=None) -> tuple[set, set]:
    params = _compartment_params("Patient")
    members = {("Patient", pid)}
    for rtype, plist in params.items():
        if rtype not in corpus.res or not plist:
            continue
        for p in plist:
            if p not in definitions.search_params(rtype):
                continue
            members |= {(rtype, i) for i in corpus.match(rtype, p, f"Patient/{pid}")}
    if types:
        members = {m for m in members if m[0] in types}
    referenced = set()
    for t, i in members:
        referenced |= _referenced(corpus, t, i)
    if types:
        referenced = {r for r in referenced if r[0] in types}
    return members, referenced - members


def _everything(fhir, path: str) -> list[dict]:
    pages, url = [], path
    while url:
        resp = fhir.get(url)
        assert resp.status == 200, resp.body[:500]
        pages.append(resp.json())
        url = _link(pages[-1], "next")
    return pages


@pytest.mark.parametrize("pid", ["synthea", "example"])
def test_everything(corpus, fhir, pid):
    pid = _synthea_patient(corpus, 4) if pid == "synthea" else pid
    members, referenced = _everything_expected(corpus, pid)
    pages = _everything(fhir, f"Patient/{pid}/$everything?_count=1000")
    matches = _entries(pages, "match")
    assert len(matches) == len(set(matches))
    assert set(matches) == members
    assert set(_entries(pages, "include")) == referenced


def test_everything_pages_and_types(corpus, fhir):
    pid = _synthea_patient(corpus, 5)
    members, _ = _everything_expected(corpus, pid)
    pages = _everything(fhir, f"Patient/{pid}/$everything?_count=25")
    assert len(pages) > 2
    matches = _entries(pages, "match")
    assert len(matches) == len(set(matches)) and set(matches) == members
    types = {"Observation", "Encounter"}
    members, referenced = _everything_expected(corpus, pid, types)
    pages = _everything(fhir, f"Patient/{pid}/$everything?_type=Observation,Encounter")
    assert set(_entries(pages, "match")) == members
    assert {t for t, _ in _entries(pages)} <= types


def test_everything_since(corpus, fhir):
    pid = _synthea_patient(corpus, 6)
    time.sleep(0.01)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(0.01)
    created = fhir.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "since check"},
            "subject": {"reference": f"Patient/{pid}"},
        },
    )
    assert created.status == 201
    oid = created.json()["id"]
    try:
        pages = _everything(fhir, f"Patient/{pid}/$everything?" + urlencode({"_since": stamp}))
        assert _entries(pages, "match") == [("Observation", oid)]
        assert ("Patient", pid) in set(_entries(pages, "include"))
    finally:
        fhir.delete(f"Observation/{oid}")


# ------------------------------------------------------------------ conditional interactions


@pytest.fixture
def scratch(fhir):
    """Resources a test creates; deleted afterwards so the corpus stays as loaded."""
    made: list[str] = []
    yield made
    for reference in made:
        fhir.delete(reference)


def test_conditional_create_with_any_criteria(corpus, fhir, scratch):
    pid = _synthea_patient(corpus, 7)
    p = corpus.res["Patient"][pid]
    family, birth = p["name"][0]["family"], p["birthDate"]
    body = {"resourceType": "Patient", "name": [{"family": family}], "birthDate": birth}
    crit = urlencode({"family": family, "birthdate": birth})
    resp = fhir.post("Patient", body, headers={"If-None-Exist": crit})
    assert resp.status == 200, resp.body[:300]
    assert corpus.expected("Patient", [("family", family), ("birthdate", birth)]) == {pid}
    # no match: created
    crit = urlencode({"family": "Zzyzx-cond", "birthdate": "1901-02-03", "gender": "other"})
    body = {
        "resourceType": "Patient",
        "name": [{"family": "Zzyzx-cond"}],
        "birthDate": "1901-02-03",
        "gender": "other",
    }
    resp = fhir.post("Patient", body, headers={"If-None-Exist": crit})
    assert resp.status == 201
    scratch.append(f"Patient/{resp.json()['id']}")
    again = fhir.post("Patient", body, headers={"If-None-Exist": crit})
    assert again.status == 200 and again.json()["id"] == resp.json()["id"]
    # several matches: 412
    resp = fhir.post("Patient", body, headers={"If-None-Exist": "gender=male&birthdate=lt2000"})
    assert resp.status == 412


def test_conditional_update_and_delete_with_any_criteria(corpus, fhir, scratch):
    body = {
        "resourceType": "Patient",
        "name": [{"family": "Zzyzx-upd", "given": ["Ann"]}],
        "birthDate": "1902-03-04",
        "gender": "female",
    }
    crit = urlencode({"family": "Zzyzx-upd", "birthdate": "1902-03-04", "given": "ann"})
    created = fhir.put(f"Patient?{crit}", body)
    assert created.status == 201
    pid = created.json()["id"]
    scratch.append(f"Patient/{pid}")
    body["active"] = True
    updated = fhir.put(f"Patient?{crit}", body)
    assert updated.status == 200 and updated.json()["id"] == pid
    assert updated.json()["meta"]["versionId"] == "2"
    found, _ = C.search(fhir, "Patient", [("family:exact", "Zzyzx-upd"), ("active", "true")])
    assert found == [("Patient", pid)]
    gone = fhir.delete(
        "Patient?"
        + urlencode({"family": "zzyzx-upd", "gender": "female", "birthdate": "ge1902-03"})
    )
    assert gone.status in (200, 204)
    assert fhir.get(f"Patient/{pid}").status == 410
    found, _ = C.search(fhir, "Patient", [("family", "Zzyzx-upd")])
    assert found == []


def test_conditional_update_with_several_matches_fails(fhir):
    body = {"resourceType": "Patient", "gender": "male"}
    resp = fhir.put("Patient?gender=male", body)
    assert resp.status == 412


# ------------------------------------------------------------------ unknown and malformed


def test_unknown_parameter_is_a_warning_by_default(corpus, fhir):
    got, pages = C.search(fhir, "Patient", [("gender", "female"), ("foo-bar", "x")])
    assert {i for _, i in got} == corpus.expected("Patient", [("gender", "female")])
    outcomes = [e for e in pages[0]["entry"] if e.get("search", {}).get("mode") == "outcome"]
    assert len(outcomes) == 1
    issue = outcomes[0]["resource"]["issue"][0]
    assert outcomes[0]["resource"]["resourceType"] == "OperationOutcome"
    assert issue["severity"] == "warning"
    assert "foo-bar" in json.dumps(issue)


def test_unknown_parameter_is_an_error_when_strict(fhir):
    resp = fhir.get("Patient?gender=female&foo-bar=x", headers={"Prefer": "handling=strict"})
    assert resp.status == 400
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "foo-bar" in json.dumps(body)


@pytest.mark.parametrize(
    "rtype,param,value",
    [
        ("Location", "near", "42.25|-83.69|10|km"),
        ("Patient", "_filter", "name eq smith"),
        ("Patient", "_query", "current-high-risk"),
    ],
)
def test_a_defined_parameter_the_server_does_not_answer_is_a_warning_or_strict_error(
    corpus, fhir, rtype, param, value
):
    query = urlencode([(param, value), ("_count", "1000")])
    lenient = fhir.get(f"{rtype}?{query}")
    assert lenient.status == 200, lenient.body[:300]
    entries = lenient.json()["entry"]
    matches = {e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"}
    assert matches and matches == corpus.expected(rtype, [])  # ignored: all of the type
    outcomes = [e["resource"] for e in entries if e["search"]["mode"] == "outcome"]
    assert [i["severity"] for o in outcomes for i in o["issue"]] == ["warning"]
    assert param in json.dumps(outcomes)
    strict = fhir.get(f"{rtype}?{query}", headers={"Prefer": "handling=strict"})
    assert strict.status == 400
    assert strict.json()["issue"][0]["code"] == "not-supported"
    assert param in json.dumps(strict.json())


@pytest.mark.parametrize(
    "query,param",
    [
        ("Patient?birthdate=2020-13-45", "birthdate"),
        ("Patient?birthdate=1990-02-30", "birthdate"),
        ("Patient?birthdate=xx1990", "birthdate"),
        ("Observation?date=gt2020-01-01T25:00Z", "date"),
        ("Patient?_lastUpdated=yesterday", "_lastUpdated"),
        ("RiskAssessment?probability=abc", "probability"),
        ("RiskAssessment?probability=zz0.5", "probability"),
        ("Observation?value-quantity=gtten|http://unitsofmeasure.org|mg", "value-quantity"),
        ("Patient?gender=a|b|c", "gender"),
        ("Observation?code=|", "code"),
        ("Patient?_count=many", "_count"),
        ("Patient?_count=-1", "_count"),
        # a type the reference cannot point to
        ("Observation?subject:Medication.code=x", "subject"),
        ("Observation?subject:Medication=123", "subject"),
        ("Observation?_has:Patient:link:name=x", "link"),
        ("Patient?_offset=-20&_sort=birthdate", "_offset"),
        ("Observation?subject=a/b/c/d", "subject"),
        ("Patient?active:missing=maybe", "active"),
        (
            "Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|",
            "identifier",
        ),
        ("Patient?identifier:of-type=MR|12345", "identifier"),
        # SNOMED CT descendants of a concept: members the server cannot list
        ("Condition?code:in=http://hl7.org/fhir/ValueSet/condition-code", "code"),
        ("Condition?code:not-in=http://hl7.org/fhir/ValueSet/clinical-findings", "code"),
        ("Condition?code:in=http://example.org/fhir/ValueSet/none-such", "code"),
    ],
)
def test_malformed_values_are_400_naming_the_parameter(fhir, query, param):
    resp = fhir.get(query)
    assert resp.status == 400, (query, resp.status, resp.body[:300])
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    text = json.dumps(body["issue"])
    assert param in text, text


def test_a_count_past_the_largest_page_is_cut_and_the_links_say_so(corpus, fhir):
    resp = fhir.get("Observation?_count=5000&_sort=date")
    assert resp.status == 200
    bundle = resp.json()
    assert len([e for e in bundle["entry"] if e["search"]["mode"] == "match"]) == 1000
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert "_count=1000" in links["self"] and "_count=5000" not in links["self"]
    assert "_count=1000" in links["next"] and "_offset=1000" in links["next"]


# ------------------------------------------------------------------ POST _search


@pytest.mark.parametrize("where", ["type", "system", "compartment"])
def test_post_search_with_a_form_body_equals_get(corpus, fhir, where):
    pid = _synthea_patient(corpus, 8)
    if where == "type":
        path, params = "Observation", [("patient", f"Patient/{pid}"), ("category", "laboratory")]
    elif where == "system":
        path, params = "", [("_type", "Observation,Condition"), ("patient", f"Patient/{pid}")]
    else:
        path, params = f"Patient/{pid}/Observation", [("code", "http://loinc.org|8302-2")]
    get, _ = C.search(fhir, path, params)
    form = urlencode([*params, ("_count", "1000")])
    resp = fhir(
        "POST",
        f"{path}/_search" if path else "_search",
        form,
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status == 200, resp.body[:300]
    posted = _entries([resp.json()], "match")
    assert posted == get and posted


def test_like_wildcards_in_values_are_literal(fhir, scratch):
    """``_`` and ``%`` in a :contains or :text value are characters, not SQL wildcards."""
    names = ["Zq Under_score Clinic", "Zq Underscore Clinic", "Zq Hundred% Care", "Zq Hundred Care"]
    for name in names:
        r = fhir.post(
            "Organization", {"resourceType": "Organization", "name": name, "type": [{"text": name}]}
        )
        assert r.status == 201
        scratch.append(f"Organization/{r.json()['id']}")

    def names_for(params):
        got, pages = C.search(fhir, "Organization", [("name", "zq"), *params])
        by_id = {e["resource"]["id"]: e["resource"]["name"] for b in pages for e in b["entry"]}
        return sorted(by_id[i] for _, i in got)

    assert names_for([("name:contains", "r_s")]) == ["Zq Under_score Clinic"]
    assert names_for([("name:contains", "d%")]) == ["Zq Hundred% Care"]
    assert names_for([("type:text", "zq under_")]) == ["Zq Under_score Clinic"]
    assert names_for([("name:contains", "rs")]) == ["Zq Underscore Clinic"]
