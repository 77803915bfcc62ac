"""The validator accepts what the specification says is valid and names what is not."""

from __future__ import annotations

import json

import pytest

from ehr.fhir.definitions.paths import package_dir
from ehr.fhir.validation.validator import validate
from tests.conftest import SYNTHEA, US_CORE
from tests.fhir.examples import EXAMPLES
from tests.fhir.known_invalid import KNOWN_INVALID

# US Core examples that break the base R4 rules themselves.
US_CORE_KNOWN_INVALID = {
    "diagnosticreport-cbc.json": (
        "DiagnosticReport.text.div",
        "its Narrative has a status but no div, which R4 requires (Narrative.div 1..1)",
    ),
}

VALID_EXAMPLES = [n for n in EXAMPLES if n not in KNOWN_INVALID]


def _errors(resource) -> list:
    return [i for i in validate(resource) if i.severity == "error"]


@pytest.mark.parametrize("name", VALID_EXAMPLES)
def test_valid_official_example_passes(name):
    resource = json.loads((package_dir() / name).read_text())
    errors = _errors(resource)
    assert not errors, errors[:5]


@pytest.mark.parametrize("name", sorted(KNOWN_INVALID))
def test_known_invalid_official_example_is_reported_where_it_breaks(name):
    where, _reason = KNOWN_INVALID[name]
    resource = json.loads((package_dir() / name).read_text())
    assert where in {i.expression for i in _errors(resource)}


@pytest.mark.parametrize("path", sorted(SYNTHEA.glob("*.json")), ids=lambda p: p.name[:20])
def test_synthea_bundles_pass(path):
    assert not _errors(json.loads(path.read_text()))


US_CORE_FILES = sorted(US_CORE.glob("*.json"))


def test_the_corpus_is_there():
    assert len(US_CORE_FILES) == 230 and len(list(SYNTHEA.glob("*.json"))) == 25


@pytest.mark.parametrize("path", US_CORE_FILES, ids=lambda p: p.name)
def test_us_core_examples_pass(path):
    resource = json.loads(path.read_text())
    issues = validate(resource)
    errors = [i for i in issues if i.severity == "error"]
    if path.name in US_CORE_KNOWN_INVALID:
        assert US_CORE_KNOWN_INVALID[path.name][0] in {i.expression for i in errors}
        return
    assert not errors, errors[:5]
    # The US Core profiles are not published where this server gets its definitions: a claim
    # of one is a warning that says so, never silence.
    for url in resource.get("meta", {}).get("profile", []):
        if "hl7.org/fhir/us/core" in url:
            assert any(url in i.message and i.severity == "warning" for i in issues)
