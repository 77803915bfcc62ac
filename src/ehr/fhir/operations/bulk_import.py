"""Loading FHIR data from files: transaction/batch Bundles, single resources and NDJSON.

Each transaction Bundle commits on its own, all or nothing, so an interrupted import leaves only
whole transactions behind. NDJSON lines are written with their own ids (update-as-create) in
chunks, one database transaction per chunk.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson
from tqdm import tqdm

from ehr.fhir import jsonio
from ehr.fhir.api.bundles import Entry, run_batch, run_transaction
from ehr.fhir.api.http import FhirRequest
from ehr.fhir.errors import FhirError

NDJSON_CHUNK = 500


class ImportFailure(Exception):
    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")


def _request() -> FhirRequest:
    return FhirRequest("POST", "", headers={"prefer": "return=minimal"})


def _files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.suffix in (".json", ".ndjson") and p.is_file()
            )
        elif path.exists():
            yield path
        else:
            raise ImportFailure(str(path), "no such file or folder")


def _entries_of(bundle: dict) -> list[Entry]:
    from ehr.fhir.api.bundles import _entries

    return _entries(bundle)


def load_bundle(bundle: dict) -> int:
    """Write one Bundle (or single resource); return the number of entries written."""
    if bundle.get("resourceType") == "Bundle" and bundle.get("type") in ("transaction", "batch"):
        entries = _entries_of(bundle)
        if bundle["type"] == "transaction":
            run_transaction(entries, _request())
        else:
            for i, result in enumerate(run_batch(entries, _request())):
                status = result["response"]["status"]
                if status[:1] not in ("2", "3"):
                    outcome = result["response"].get("outcome")
                    detail = orjson.loads(bytes(outcome.contents)) if outcome else {}
                    msg = (detail.get("issue") or [{}])[0].get("diagnostics", status)
                    raise FhirError(f"Bundle.entry[{i}]: {msg}")
        return len(entries)
    if bundle.get("resourceType") == "Bundle":
        resources = [e.get("resource") for e in bundle.get("entry") or [] if e.get("resource")]
    else:
        resources = [bundle]
    _put_all(resources)
    return len(resources)


def _put_all(resources: list[dict]) -> None:
    entries = []
    for i, res in enumerate(resources):
        if not isinstance(res, dict) or "resourceType" not in res:
            raise FhirError(f"line or entry {i} is not a FHIR resource")
        if res.get("id"):
            url, method = f"{res['resourceType']}/{res['id']}", "PUT"
        else:
            url, method = res["resourceType"], "POST"
        entries.append(Entry(i, method, url, None, res, {"method": method, "url": url}))
    run_transaction(entries, _request())


def _ndjson_chunks(path: Path) -> Iterator[tuple[int, list[dict]]]:
    chunk: list[dict] = []
    first = 1
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                chunk.append(jsonio.loads(line))
            except jsonio.JSONDecodeError as exc:
                raise ImportFailure(f"{path}:{lineno}", f"malformed JSON: {exc}") from None
            if len(chunk) >= NDJSON_CHUNK:
                yield first, chunk
                chunk, first = [], lineno + 1
    if chunk:
        yield first, chunk


def _bar(label: str, progress: bool, total: int | None = None) -> tqdm:
    return tqdm(
        total=total,
        desc=label,
        unit=" res",
        unit_scale=True,
        disable=not progress,
        file=sys.stderr,
        smoothing=0.1,
    )


def import_paths(paths: list[Path], *, progress: bool = True) -> int:
    """Import every file; report each failure by file and entry. Exit status 0 or 1."""
    failures = 0
    written = 0
    try:
        files = list(_files(paths))
    except ImportFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    with _bar("import", progress) as bar:
        for path in files:
            try:
                if path.suffix == ".ndjson":
                    for first_line, chunk in _ndjson_chunks(path):
                        try:
                            _put_all(chunk)
                        except FhirError as err:
                            raise ImportFailure(
                                f"{path} (lines from {first_line})", _entry_line(err, first_line)
                            ) from None
                        bar.update(len(chunk))
                        written += len(chunk)
                else:
                    try:
                        data = jsonio.loads(path.read_bytes())
                    except jsonio.JSONDecodeError as exc:
                        raise ImportFailure(str(path), f"malformed JSON: {exc}") from None
                    if not isinstance(data, dict):
                        raise ImportFailure(str(path), "not a FHIR resource or Bundle")
                    try:
                        n = load_bundle(data)
                    except FhirError as err:
                        raise ImportFailure(str(path), err.message) from None
                    bar.update(n)
                    written += n
            except ImportFailure as exc:
                failures += 1
                tqdm.write(f"error: {exc}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    rate = written / elapsed if elapsed > 0 else 0
    print(
        f"imported {written} resources from {len(files) - failures} of {len(files)} files"
        + (f" ({rate:,.0f} resources/s)" if rate else "")
        + (f"; {failures} failed" if failures else ""),
        file=sys.stderr,
    )
    return 1 if failures else 0


def _entry_line(err: FhirError, first_line: int) -> str:
    msg = err.message
    if msg.startswith("Bundle.entry["):
        idx = int(msg[len("Bundle.entry[") : msg.index("]")])
        return f"line {first_line + idx}: {msg[msg.index(']') + 3 :]}"
    return msg


def load_bundles(bundles: Iterable[dict], *, label: str, progress: bool = True) -> int:
    written = 0
    with _bar(label, progress) as bar:
        for i, bundle in enumerate(bundles):
            try:
                n = load_bundle(bundle)
            except FhirError as err:
                tqdm.write(f"error: bundle {i}: {err.message}", file=sys.stderr)
                return 1
            bar.update(n)
            written += n
    print(f"loaded {written} resources", file=sys.stderr)
    return 0
