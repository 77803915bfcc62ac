"""The demo data generator: deterministic, coherent, US Core shaped FHIR R4 transaction Bundles."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from ehr.demo import generate
from ehr.demo.practice import npi

TODAY = dt.date(2025, 6, 1)
PATIENTS = 60
ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "var" / "definitions" / "r4-index.json"

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"

DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
INSTANT = DATETIME
# Where each kind of date sits in the generated resources (key name -> FHIR type).
DATE_KEYS = {
    "birthDate": "date",
    "expirationDate": "date",
    "authoredOn": "dateTime",
    "recordedDate": "dateTime",
    "recorded": "dateTime",
    "issued": "instant",
    "start": "dateTime",
    "end": "dateTime",
}
# UCUM unit expected for each vital sign and lab LOINC code.
UNITS = {
    "8480-6": "mm[Hg]",
    "8462-4": "mm[Hg]",
    "8867-4": "/min",
    "9279-1": "/min",
    "8310-5": "Cel",
    "29463-7": "kg",
    "8302-2": "cm",
    "39156-5": "kg/m2",
    "59408-5": "%",
    "4548-4": "%",
    "2345-7": "mg/dL",
    "2093-3": "mg/dL",
    "2571-8": "mg/dL",
    "2085-9": "mg/dL",
    "13457-7": "mg/dL",
    "2160-0": "mg/dL",
    "718-7": "g/dL",
    "6690-2": "10*3/uL",
}
UCUM_CODES = set(UNITS.values()) | {"mmol/L", "U/L", "g/dL", "10*6/uL", "fL", "m[IU]/L", "{INR}"}


@pytest.fixture(scope="module")
def bundles() -> list[dict]:
    return list(generate(PATIENTS, 2024, today=TODAY))


@pytest.fixture(scope="module")
def practice(bundles) -> dict:
    return bundles[0]


@pytest.fixture(scope="module")
def records(bundles) -> list[dict]:
    return bundles[1:]


def resources(bundle: dict, rtype: str | None = None) -> list[dict]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if rtype is None or e["resource"]["resourceType"] == rtype
    ]


def walk(node: object, path: str = "") -> Iterator[tuple[str, str, object]]:
    """Every (path, key, value) below a JSON node."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, path)


def years(a: str, b: str) -> float:
    return (dt.date.fromisoformat(b[:10]) - dt.date.fromisoformat(a[:10])).days / 365.25


# ------------------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_bytes_and_another_seed_does_not():
    first = json.dumps(list(generate(12, 5, today=TODAY)), sort_keys=False)
    again = json.dumps(list(generate(12, 5, today=TODAY)), sort_keys=False)
    other = json.dumps(list(generate(12, 6, today=TODAY)), sort_keys=False)
    assert first == again
    assert first != other


def test_output_does_not_depend_on_the_hash_seed():
    code = (
        "import datetime, json; from ehr.demo import generate; "
        "print(json.dumps(list(generate(6, 3, today=datetime.date(2025, 6, 1)))))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_patients_do_not_depend_on_how_many_follow():
    fewer = list(generate(4, 9, today=TODAY))
    more = list(generate(7, 9, today=TODAY))
    assert json.dumps(fewer) == json.dumps(more[:5])


def test_the_practice_is_the_same_for_every_seed():
    a = next(generate(1, 1, today=TODAY))
    b = next(generate(1, 2, today=dt.date(2030, 1, 1)))
    assert a == b


# ------------------------------------------------------------------------------ practice


def test_practice_bundle_puts_fixed_ids(practice):
    assert practice["resourceType"] == "Bundle" and practice["type"] == "transaction"
    for entry in practice["entry"]:
        res = entry["resource"]
        assert res["id"].startswith("demo-")
        assert entry["request"] == {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}"}
    kinds = Counter(res["resourceType"] for res in resources(practice))
    assert 6 <= kinds["Practitioner"] <= 10
    assert kinds["PractitionerRole"] == kinds["Practitioner"]
    assert kinds["Location"] >= 1
    payers = [
        o for o in resources(practice, "Organization") if o["type"][0]["coding"][0]["code"] == "pay"
    ]
    assert 3 <= len(payers) <= 4
    assert kinds["Organization"] == len(payers) + 1


def test_practitioners_have_valid_npis(practice):
    assert npi("123456789") == "1234567893"  # the CMS worked example
    for doc in resources(practice, "Practitioner"):
        [ident] = [i for i in doc["identifier"] if i["system"] == NPI]
        value = ident["value"]
        assert len(value) == 10 and npi(value[:9]) == value
    ids = {f"{r['resourceType']}/{r['id']}" for r in resources(practice)}
    for role in resources(practice, "PractitionerRole"):
        assert role["practitioner"]["reference"] in ids
        assert role["organization"]["reference"] in ids
        assert all(loc["reference"] in ids for loc in role["location"])


# ------------------------------------------------------------------------------ bundles


def test_patient_bundles_post_with_uuid_full_urls(records):
    seen: set[str] = set()
    for bundle in records:
        assert bundle["type"] == "transaction"
        assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"
        for entry in bundle["entry"]:
            res = entry["resource"]
            assert "id" not in res
            assert entry["request"] == {"method": "POST", "url": res["resourceType"]}
            full_url = entry["fullUrl"]
            assert full_url.startswith("urn:uuid:")
            parsed = uuid.UUID(full_url[9:])
            assert str(parsed) == full_url[9:] and parsed.version == 4
            assert full_url not in seen
            seen.add(full_url)


def test_every_reference_resolves(practice, records):
    practice_ids = {f"{r['resourceType']}/{r['id']}" for r in resources(practice)}
    for bundle in records:
        local = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"]}
        for _, key, value in walk([e["resource"] for e in bundle["entry"]]):
            if key != "reference":
                continue
            assert value in local or value in practice_ids, value
        patient_url = bundle["entry"][0]["fullUrl"]
        for res in resources(bundle)[1:]:
            subject = res.get("subject") or res.get("patient") or res.get("beneficiary")
            assert subject["reference"] == patient_url
            if "encounter" in res:
                assert local[res["encounter"]["reference"]] == "Encounter"


def test_no_empty_values(bundles):
    for bundle in bundles:
        for path, key, value in walk(bundle):
            assert value not in ("", [], {}, None), f"{path}.{key}"
            if isinstance(value, str):
                assert value == value.strip(), f"{path}.{key}"


def test_dates_and_times_are_valid(bundles):
    checked = 0
    for bundle in bundles:
        for path, key, value in walk(bundle):
            kind = "dateTime" if key.endswith("DateTime") else DATE_KEYS.get(key)
            if kind is None or not isinstance(value, str):
                continue
            checked += 1
            if kind == "date":
                assert DATE.match(value), (path, key, value)
            elif kind == "instant":
                assert INSTANT.match(value), (path, key, value)
            else:
                assert DATE.match(value) or DATETIME.match(value), (path, key, value)
            parsed = dt.datetime.fromisoformat(value) if "T" in value else None
            if parsed is not None:
                assert parsed.utcoffset() is not None
            if key not in ("expirationDate", "end"):  # nothing recorded happens after today
                assert value[:10] <= (TODAY + dt.timedelta(days=1)).isoformat(), (key, value)
    assert checked > 10_000


# ------------------------------------------------------------------------------ content


def test_counts_and_variety(records):
    assert len(records) == PATIENTS
    sizes = [len(b["entry"]) for b in records]
    assert 50 <= statistics.median(sizes) <= 350
    long_history = 0
    ages = []
    genders = Counter()
    for bundle in records:
        patient = resources(bundle, "Patient")[0]
        genders[patient["gender"]] += 1
        ages.append(years(patient["birthDate"], TODAY.isoformat()))
        starts = sorted(e["period"]["start"] for e in resources(bundle, "Encounter"))
        assert starts, "every patient has been seen"
        assert starts[0][:10] >= patient["birthDate"]
        assert years(starts[-1], TODAY.isoformat()) <= 1.0, "every patient was seen this year"
        if years(starts[0], starts[-1]) >= 10:
            long_history += 1
        assert resources(bundle, "Coverage")
    assert long_history >= PATIENTS / 5
    assert min(ages) < 5 and max(ages) > 75
    assert genders["male"] >= PATIENTS / 4 and genders["female"] >= PATIENTS / 4
    kinds = Counter(r["resourceType"] for b in records for r in resources(b))
    for rtype in (
        "Patient",
        "Coverage",
        "Encounter",
        "Condition",
        "MedicationRequest",
        "AllergyIntolerance",
        "Immunization",
        "Observation",
        "DiagnosticReport",
    ):
        assert kinds[rtype] > 0, rtype


def test_allergy_records_vary(records):
    no_record = nka = with_allergies = 0
    for bundle in records:
        allergies = resources(bundle, "AllergyIntolerance")
        codes = [a["code"]["coding"][0]["code"] for a in allergies]
        if not allergies:
            no_record += 1
        elif codes == ["716186003"]:
            nka += 1
        else:
            assert "716186003" not in codes
            with_allergies += 1
        for a in allergies:
            assert a["clinicalStatus"]["coding"][0]["code"] == "active"
            assert a["code"]["coding"][0]["system"] in (SNOMED, RXNORM)
    assert no_record and nka and with_allergies


def test_patients_follow_us_core(practice, records):
    practitioners = {f"Practitioner/{r['id']}" for r in resources(practice, "Practitioner")}
    for bundle in records:
        patient = resources(bundle, "Patient")[0]
        assert patient["meta"]["profile"] == [
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
        ]
        extensions = {e["url"].rsplit("/", 1)[1]: e for e in patient["extension"]}
        assert set(extensions) == {"us-core-race", "us-core-ethnicity", "us-core-birthsex"}
        for name in ("us-core-race", "us-core-ethnicity"):
            parts = [x["url"] for x in extensions[name]["extension"]]
            assert "ombCategory" in parts and parts[-1] == "text"
        assert extensions["us-core-birthsex"]["valueCode"] in ("F", "M")
        [mrn] = patient["identifier"]
        assert mrn["type"]["coding"][0]["code"] == "MR" and mrn["value"].startswith("MRN")
        official = [n for n in patient["name"] if n["use"] == "official"]
        assert len(official) == 1 and official[0]["family"] and official[0]["given"]
        assert patient["gender"] in ("male", "female", "other", "unknown")
        assert {t["system"] for t in patient["telecom"]} >= {"phone"}
        address = patient["address"][0]
        assert address["country"] == "US" and re.fullmatch(r"\d{5}", address["postalCode"])
        language = patient["communication"][0]["language"]["coding"][0]
        assert language["system"] == "urn:ietf:bcp:47"
        assert patient["generalPractitioner"][0]["reference"] in practitioners
    mrns = [resources(b, "Patient")[0]["identifier"][0]["value"] for b in records]
    assert len(set(mrns)) == len(mrns)


def test_conditions_carry_icd10_and_snomed(records):
    categories = Counter()
    for bundle in records:
        for cond in resources(bundle, "Condition"):
            systems = [c["system"] for c in cond["code"]["coding"]]
            assert systems == [ICD10CM, SNOMED]
            clinical = cond["clinicalStatus"]["coding"][0]
            assert clinical["system"] == "http://terminology.hl7.org/CodeSystem/condition-clinical"
            if "abatementDateTime" in cond:
                assert clinical["code"] in ("inactive", "resolved", "remission")
                assert cond["abatementDateTime"] >= cond["onsetDateTime"]
            else:
                assert clinical["code"] == "active"
            assert cond["verificationStatus"]["coding"][0]["code"] == "confirmed"
            category = cond["category"][0]["coding"][0]["code"]
            categories[category] += 1
            assert cond["onsetDateTime"] <= cond["recordedDate"][:10]
    assert categories["problem-list-item"] and categories["encounter-diagnosis"]


def test_medications_are_rxnorm_and_linked_to_conditions(records):
    for bundle in records:
        local = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        active = Counter()
        for med in resources(bundle, "MedicationRequest"):
            [coding] = med["medicationCodeableConcept"]["coding"]
            assert coding["system"] == RXNORM and coding["code"].isdigit()
            assert med["intent"] == "order"
            assert med["status"] in ("active", "completed")
            assert med["requester"]["reference"].startswith("Practitioner/")
            dose = med["dosageInstruction"][0]
            assert dose["text"] and dose["timing"]["repeat"]["periodUnit"] in ("h", "d")
            [reason] = med["reasonReference"]
            assert local[reason["reference"]]["resourceType"] == "Condition"
            if med["status"] == "active":
                active[coding["code"]] += 1
        assert all(n == 1 for n in active.values()), "one active order per drug"


def test_immunizations_are_cvx(records):
    codes = Counter()
    for bundle in records:
        for imm in resources(bundle, "Immunization"):
            [coding] = imm["vaccineCode"]["coding"]
            assert coding["system"] == CVX and coding["code"].isdigit()
            codes[coding["code"]] += 1
            assert imm["status"] == "completed"
            assert isinstance(imm["primarySource"], bool)
            if imm["primarySource"]:
                assert "encounter" in imm and imm["doseQuantity"]["system"] == UCUM
            else:
                assert imm["reportOrigin"]["coding"][0]["code"] == "record"
    assert len(codes) >= 8  # a childhood series, flu, adult vaccines


def test_observations_use_loinc_and_ucum(records):
    categories = Counter()
    for bundle in records:
        for obs in resources(bundle, "Observation"):
            assert obs["status"] == "final"
            assert all(c["system"] == LOINC for c in obs["code"]["coding"])
            category = obs["category"][0]["coding"][0]
            assert category["system"] == (
                "http://terminology.hl7.org/CodeSystem/observation-category"
            )
            categories[category["code"]] += 1
            quantities = [obs["valueQuantity"]] if "valueQuantity" in obs else []
            quantities += [c["valueQuantity"] for c in obs.get("component", [])]
            if category["code"] == "social-history":
                assert not quantities and obs["valueCodeableConcept"]["coding"][0]["system"] == (
                    SNOMED
                )
                continue
            assert quantities, obs["code"]
            codes = [c["code"] for c in obs["code"]["coding"]]
            codes += [c["code"]["coding"][0]["code"] for c in obs.get("component", [])]
            for q in quantities:
                assert q["system"] == UCUM and q["code"] in UCUM_CODES, q
                assert isinstance(q["value"], int | float)
            for code, q in zip(codes[-len(quantities) :], quantities, strict=True):
                if code in UNITS:
                    assert q["code"] == UNITS[code], (code, q)
            if category["code"] == "laboratory":
                assert obs["interpretation"][0]["coding"][0]["code"] in ("H", "L", "N")
                assert obs["referenceRange"]
    assert categories["vital-signs"] > categories["laboratory"] > 0


def test_vital_signs_are_plausible(records):
    for bundle in records:
        birth = resources(bundle, "Patient")[0]["birthDate"]
        for obs in resources(bundle, "Observation"):
            age = years(birth, obs["effectiveDateTime"])
            code = obs["code"]["coding"][-1]["code"]
            if code == "85354-9":
                systolic, diastolic = (c["valueQuantity"]["value"] for c in obs["component"])
                assert 80 <= systolic <= 210 and 40 <= diastolic < systolic
            elif code == "29463-7":
                weight = obs["valueQuantity"]["value"]
                assert 1.5 < weight < 250
                if age >= 18:
                    assert weight > 35
            elif code == "8302-2":
                assert 40 < obs["valueQuantity"]["value"] < 215
            elif code == "8310-5":
                assert 35 <= obs["valueQuantity"]["value"] <= 41
            elif code == "59408-5":
                assert [c["code"] for c in obs["code"]["coding"]] == ["2708-6", "59408-5"]


def test_lab_reports_group_their_results(records):
    panels = Counter()
    for bundle in records:
        local = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        for report in resources(bundle, "DiagnosticReport"):
            category = report["category"][0]["coding"][0]
            assert category == {
                "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                "code": "LAB",
                "display": "Laboratory",
            }
            assert report["code"]["coding"][0]["system"] == LOINC
            panels[report["code"]["coding"][0]["code"]] += 1
            for result in report["result"]:
                obs = local[result["reference"]]
                assert obs["category"][0]["coding"][0]["code"] == "laboratory"
                assert obs["effectiveDateTime"] == report["effectiveDateTime"]
                assert obs["encounter"] == report["encounter"]
            if report["code"]["coding"][0]["code"] == "24331-1":  # LDL is calculated
                values = {
                    local[r["reference"]]["code"]["coding"][0]["code"]: local[r["reference"]][
                        "valueQuantity"
                    ]["value"]
                    for r in report["result"]
                }
                estimate = values["2085-9"] + values["13457-7"] + values["2571-8"] / 5
                assert abs(values["2093-3"] - estimate) <= 1
    assert {"24331-1", "4548-4"} <= set(panels)


def test_encounters_are_ambulatory_us_core(practice, records):
    practitioners = {f"Practitioner/{r['id']}" for r in resources(practice, "Practitioner")}
    for bundle in records:
        days = set()
        for enc in resources(bundle, "Encounter"):
            assert enc["status"] == "finished"
            assert enc["class"]["code"] == "AMB"
            systems = {c["system"] for c in enc["type"][0]["coding"]}
            assert SNOMED in systems
            assert enc["period"]["start"] < enc["period"]["end"]
            assert enc["participant"][0]["individual"]["reference"] in practitioners
            assert enc["serviceProvider"]["reference"] == "Organization/demo-org-practice"
            day = dt.date.fromisoformat(enc["period"]["start"][:10])
            assert day.weekday() < 5 and day not in days
            days.add(day)


# ------------------------------------------------------------------------------ definitions


@cache
def _index() -> dict:
    return json.loads(INDEX.read_text())


def test_top_level_properties_are_known_elements(bundles):
    index = _index()["resources"]
    for bundle in bundles:
        for res in resources(bundle):
            rtype = res["resourceType"]
            elements = index[rtype]["elements"]
            choices = [p[:-3] for p in elements if p.endswith("[x]")]
            for key in res:
                if key == "resourceType":
                    continue
                path = f"{rtype}.{key}"
                if path in elements:
                    continue
                assert any(path.startswith(c) and path[len(c)].isupper() for c in choices), path


def test_the_engine_validator_finds_no_errors(bundles):
    from ehr.fhir.validation import validator

    for bundle in bundles:
        errors = [i for i in validator.validate(bundle) if i.severity in ("error", "fatal")]
        assert not errors, errors[:5]
