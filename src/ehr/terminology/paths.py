"""Where the terminology index lives: beside the FHIR definitions index (``EHR_VAR_DIR``)."""

from __future__ import annotations

from pathlib import Path

from ehr.fhir.definitions.paths import definitions_dir

INDEX_FORMAT = 2


def index_path() -> Path:
    return definitions_dir() / "terminology-index.json"


def displays_path() -> Path:
    """Displays are only wanted for messages and screens, so they load separately, lazily."""
    return definitions_dir() / "terminology-displays.json"


def report_path() -> Path:
    """How each value set was resolved, and why some were not: for people and tests."""
    return definitions_dir() / "terminology-report.json"
