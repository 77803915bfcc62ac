"""check_code sits on the write path: a few microseconds a call; the index loads well under
300 ms in a fresh process."""

from __future__ import annotations

import subprocess
import sys
import time

from ehr.terminology import check_code

CALLS = [
    ("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1", None, "female"),
    ("http://hl7.org/fhir/ValueSet/observation-status|4.0.1", None, "final"),
    ("http://hl7.org/fhir/ValueSet/narrative-status|4.0.1", None, "generated"),
    (
        "http://hl7.org/fhir/ValueSet/allergyintolerance-clinical|4.0.1",
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
        "active",
    ),
    ("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1", None, "banana"),
    ("http://hl7.org/fhir/ValueSet/ucum-units|4.0.1", "http://unitsofmeasure.org", "mg/dL"),
    ("http://hl7.org/fhir/ValueSet/mimetypes|4.0.1", None, "application/fhir+json"),
    ("http://hl7.org/fhir/ValueSet/clinical-findings", "http://snomed.info/sct", "22298006"),
]


def test_check_code_takes_a_few_microseconds():
    for call in CALLS:  # warm: first use of a value set builds its sets
        check_code(*call)
    rounds = 20_000
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            for call in CALLS:
                check_code(*call)
        best = min(best, (time.perf_counter() - started) / (rounds * len(CALLS)))
    print(f"check_code: {best * 1e6:.2f} µs per call")
    assert best < 10e-6


def test_index_loads_fast_in_a_fresh_process():
    code = (
        "import time; t = time.perf_counter(); import ehr.terminology as T; T._load(); "
        "t1 = time.perf_counter(); "
        "T.check_code('http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1', None, 'male'); "
        "print(t1 - t, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    load, first = map(float, out.stdout.split())
    print(
        f"terminology import + index load: {load * 1e3:.0f} ms, first answer {first * 1e3:.0f} ms"
    )
    assert first < 0.3
