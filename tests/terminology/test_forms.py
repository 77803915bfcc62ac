"""Form checks of the code systems we cannot ship, on hand-picked cases and on every code of
those systems that the official packages list (tens of thousands of real codes)."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from ehr.terminology import fetch
from ehr.terminology.forms import (
    EXTERNAL,
    bcp47_tag,
    implicit_valueset,
    loinc_code,
    mime_type,
    snomed_concept_id,
    verhoeff_ok,
)
from ehr.terminology.ucum import is_valid_ucum

SNOMED = "http://snomed.info/sct"


@pytest.mark.parametrize("code", ["22298006", "404684003", "73211009", "138875005", "267036007"])
def test_snomed_concept_ids_with_valid_check_digit(code):
    assert snomed_concept_id(code)


@pytest.mark.parametrize(
    "code",
    [
        "22298007",
        "404684004",
        "12345",
        "022298006",
        "2229800X",
        "",
        "22298006 ",
        "1234567890123456789",
    ],
)
def test_snomed_rejects_bad_check_digit_and_shape(code):
    assert not snomed_concept_id(code)


def test_snomed_description_ids_are_not_concepts():
    # Same digits, partition "01" (description) with a correct check digit: not a concept id.
    base = "1234567" + "01"
    description_id = next(base + d for d in "0123456789" if verhoeff_ok(base + d))
    assert not snomed_concept_id(description_id)


@pytest.mark.parametrize("code", ["2345-7", "8867-4", "85354-9", "1-8", "LA6576-8", "LP6960-1"])
def test_loinc_codes(code):
    assert loinc_code(code)


@pytest.mark.parametrize("code", ["2345-6", "8867-5", "2345", "2345-", "-7", "LX6576-8", "23 45-7"])
def test_loinc_rejects(code):
    assert not loinc_code(code)


@pytest.mark.parametrize(
    "unit",
    [
        "mg/dL",
        "kg/m2",
        "10*3/uL",
        "%",
        "/min",
        "mm[Hg]",
        "[in_i]",
        "{beats}/min",
        "mg{total}",
        "s-1",
        "10*-3",
        "1",
        "ug/(kg.h)",
        "kg.m-2",
        "[iU]/L",
        "U/(10.g){feces}",
    ],
)
def test_ucum_accepts(unit):
    assert is_valid_ucum(unit)


@pytest.mark.parametrize(
    "unit",
    ["mg//dL", "", "mg/", "/", "()", "mg)", "(mg", "2m", "m+", "mg dL", "{a}b", " mg", "a-b"],
)
def test_ucum_rejects(unit):
    assert not is_valid_ucum(unit)


@pytest.mark.parametrize(
    "tag",
    [
        "en",
        "en-US",
        "EN-us",
        "zh-Hant-TW",
        "de-CH-1996",
        "sr-Latn-RS",
        "es-419",
        "x-private",
        "i-klingon",
        "en-a-bbb-x-a-ccc",
        "zh-min-nan",
        "yue",
    ],
)
def test_bcp47_accepts(tag):
    assert bcp47_tag(tag)


@pytest.mark.parametrize(
    "tag", ["englishlang", "en_US", "e", "123", "en-", "-en", "en--US", "en-US-"]
)
def test_bcp47_rejects(tag):
    assert not bcp47_tag(tag)


@pytest.mark.parametrize(
    "mime",
    [
        "application/json",
        "application/fhir+json",
        "application/fhir+xml; fhirVersion=4.0",
        "text/plain; charset=UTF-8",
        'text/plain; charset="utf-8"',
        "image/svg+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/dicom; variant=DICOM WADO-RS",
    ],
)
def test_mime_accepts(mime):
    assert mime_type(mime)


@pytest.mark.parametrize("mime", ["json", "xml", "application", "application/", "foo/bar", "/json"])
def test_mime_rejects(mime):
    assert not mime_type(mime)


@pytest.mark.parametrize(
    ("system", "good", "bad"),
    [
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "1049502", "0123"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "E11.9", "E119."),
        ("http://hl7.org/fhir/sid/ndc", "0777-3105-02", "0777-3105"),
        ("http://hl7.org/fhir/sid/cvx", "208", "2080"),
        ("http://www.ama-assn.org/go/cpt", "99213", "9921"),
        ("http://nucc.org/provider-taxonomy", "207Q00000X", "207Q00000"),
        ("urn:iso:std:iso:4217", "USD", "usd"),
        ("urn:iso:std:iso:3166", "US", "U1"),
    ],
)
def test_other_external_shapes(system, good, bad):
    check = EXTERNAL[system].check
    assert check is not None
    assert check(good)
    assert not check(bad)


def test_implicit_valuesets():
    assert implicit_valueset("http://snomed.info/sct?fhir_vs=isa/404684003") == (SNOMED, ())
    assert implicit_valueset("http://loinc.org/vs/LL379-9|4.0.1") == (
        "http://loinc.org",
        (r"LA[0-9]+-[0-9]",),
    )
    assert implicit_valueset("http://hl7.org/fhir/ValueSet/administrative-gender") is None


# Example value sets of R4 list made-up codes for systems we check: not real codes.
MADE_UP = {("http://hl7.org/fhir/sid/icd-10", "ValueSet-icd-10.json")}


def test_every_listed_code_of_an_external_system_passes_its_form_check():
    """Every code that the packages list for SNOMED CT, LOINC, UCUM, BCP 47, ISO... passes."""
    checked: dict[str, int] = defaultdict(int)
    failures = []
    folders = [fetch.fetch(p) for p in (fetch.CORE, fetch.EXPANSIONS, fetch.THO)]
    for folder in folders:
        for path in sorted(folder.glob("ValueSet-*.json")):
            vs = json.loads(path.read_text(encoding="utf-8"))
            items = [(c.get("system"), c.get("code")) for c in _contains(vs.get("expansion", {}))]
            for inc in vs.get("compose", {}).get("include", []):
                items += [(inc.get("system"), c.get("code")) for c in inc.get("concept", [])]
            for system, code in items:
                ext = EXTERNAL.get(system or "")
                if ext is None or ext.check is None or (system, path.name) in MADE_UP:
                    continue
                checked[system] += 1
                if not ext.check(code):
                    failures.append((path.name, system, code))
    assert checked[SNOMED] > 60_000 and checked["http://loinc.org"] > 15_000
    assert checked["http://unitsofmeasure.org"] > 3_000 and checked["urn:ietf:bcp:47"] > 500
    assert failures == []


def _contains(expansion: dict) -> list[dict]:
    out, stack = [], list(expansion.get("contains", []))
    while stack:
        item = stack.pop()
        out.append(item)
        stack.extend(item.get("contains", []))
    return out
