"""Benchmark of the validator on the official R4 examples (issue: nothing invalid gets in).

For every non-conformance example of hl7.fhir.r4.examples@4.0.1 (about 740 resources, Bundles
included) the validator runs with everything on: structure, cardinality, types, primitive
formats, references, value-set bindings, FHIRPath invariants and profiles. Each example is
validated --repeat times; its time is the median of those runs, and the figure reported is the
median over all examples (plus the mean and the 90th percentile, and one cold pass).

Usage: .venv/bin/python bench/validation.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fhir.examples import EXAMPLES  # noqa: E402

from bench.store import machine  # noqa: E402
from ehr.fhir.definitions.paths import package_dir  # noqa: E402
from ehr.fhir.validation.validator import validate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    resources = [json.loads((package_dir() / n).read_text()) for n in EXAMPLES]
    cold = []
    for r in resources:
        t = time.perf_counter()
        validate(r)
        cold.append(time.perf_counter() - t)
    per_example = []
    for r in resources:
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            validate(r)
            runs.append(time.perf_counter() - t)
        per_example.append(statistics.median(runs))
    us = sorted(x * 1e6 for x in per_example)
    print(f"machine: {machine()}")
    print(f"examples: {len(us)}, {args.repeat} runs each")
    print(f"median per example: {statistics.median(us):.0f} µs (target ≤ 100 µs)")
    print(f"mean: {statistics.mean(us):.0f} µs, p90: {us[int(len(us) * 0.9)]:.0f} µs")
    print(f"one cold pass, median: {statistics.median(cold) * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
