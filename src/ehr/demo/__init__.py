"""Synthetic demo data: deterministic patient records for an ambulatory US practice.

Pure Python (no Django, no database). ``generate(patients, seed, today=...)`` yields FHIR R4
transaction Bundles profiled on US Core 6.1.0; the first creates the practice itself.
"""

from ehr.demo.generator import MRN_SYSTEM, generate

__all__ = ["MRN_SYSTEM", "generate"]
