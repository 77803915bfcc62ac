"""``ehr validate``: validate FHIR files offline and print a readable report."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from ehr.fhir import jsonio
from ehr.fhir.operations.bulk_import import fhir_files
from ehr.fhir.validation.issues import Issue
from ehr.fhir.validation.validator import validate

MARK = {"error": "ERROR", "warning": "warn ", "information": "info "}


def _documents(path: Path) -> Iterator[tuple[str, object]]:
    """(label, parsed JSON or an exception) for every resource in a file."""
    if path.suffix == ".ndjson":
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    yield f"{path}:{lineno}", _parse(line)
    else:
        yield str(path), _parse(path.read_bytes())


def _parse(data: bytes) -> object:
    try:
        return jsonio.loads(data)
    except jsonio.JSONDecodeError as exc:
        return exc


def validate_paths(paths: list[Path], *, profiles: list[str], quiet: bool = False) -> int:
    totals = {"files": 0, "invalid": 0, "error": 0, "warning": 0}
    for path in fhir_files(paths):
        if not path.exists():
            print(f"{path}: no such file or folder", file=sys.stderr)
            totals["files"] += 1
            totals["invalid"] += 1
            continue
        for label, doc in _documents(path):
            totals["files"] += 1
            if isinstance(doc, Exception):
                print(f"{label}: ERROR  malformed JSON: {doc}")
                totals["invalid"] += 1
                totals["error"] += 1
                continue
            issues = validate(doc, profiles)
            _report(label, doc, issues, quiet)
            errors = sum(1 for i in issues if i.severity == "error")
            totals["error"] += errors
            totals["warning"] += sum(1 for i in issues if i.severity == "warning")
            if errors:
                totals["invalid"] += 1
    valid = totals["files"] - totals["invalid"]
    print(
        f"\n{totals['files']} checked: {valid} valid, {totals['invalid']} invalid "
        f"({totals['error']} errors, {totals['warning']} warnings)"
    )
    return 1 if totals["invalid"] else 0


def _report(label: str, doc: object, issues: list[Issue], quiet: bool) -> None:
    rtype = doc.get("resourceType", "?") if isinstance(doc, dict) else "?"
    errors = [i for i in issues if i.severity == "error"]
    verdict = "invalid" if errors else "valid"
    shown = issues if not quiet else errors
    print(f"{label}  {rtype}: {verdict}" + (f", {len(errors)} error(s)" if errors else ""))
    for issue in shown:
        where = f"{issue.expression}: " if issue.expression else ""
        print(f"    {MARK.get(issue.severity, issue.severity)}  {where}{issue.message}")
