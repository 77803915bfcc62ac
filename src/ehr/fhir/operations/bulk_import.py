"""Loading FHIR data from files: transaction/batch Bundles, single resources and NDJSON.

Each transaction Bundle is stored all or nothing, so an interrupted import leaves only whole
transactions behind; consecutive Bundles share a commit (``_write_files``). NDJSON lines are
written with their own ids (update-as-create) in chunks, one database transaction per chunk.

Worker processes parse, validate and index the next files while this process writes; a Bundle
of plain creates crosses to the writer as staged creates (``repository.stage_create``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson
from tqdm import tqdm

from ehr.fhir import jsonio
from ehr.fhir.api.bundles import (
    Entry,
    EntryError,
    NeedsDatabase,
    prepare_transaction,
    run_batch,
    run_transaction,
)
from ehr.fhir.api.http import FhirRequest
from ehr.fhir.errors import FhirError
from ehr.fhir.storage import index_writer
from ehr.fhir.storage import repository as repo
from ehr.fhir.storage.db import atomic, raw_cursor, refresh_statistics

NDJSON_CHUNK = 500
# Files are committed together until they hold this many resources (see ``_write_files``).
GROUP_RESOURCES = 2_000


class ImportFailure(Exception):
    def __init__(self, where: str, message: str | None = None):
        # one argument when re-created from a pickle (worker -> importer)
        super().__init__(where if message is None else f"{where}: {message}")


def _request() -> FhirRequest:
    return FhirRequest("POST", "", headers={"prefer": "return=minimal"})


def fhir_files(paths: list[Path]) -> Iterator[Path]:
    """The JSON and NDJSON files named, folders walked in name order; missing paths as given."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.suffix in (".json", ".ndjson") and p.is_file()
            )
        else:
            yield path


def _files(paths: list[Path]) -> Iterator[Path]:
    for path in fhir_files(paths):
        if not path.exists():
            raise ImportFailure(str(path), "no such file or folder")
        yield path


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


def _chunk_entries(resources: list) -> list[Entry]:
    entries = []
    for i, res in enumerate(resources):
        if not isinstance(res, dict) or "resourceType" not in res:
            raise FhirError(f"Bundle.entry[{i}]: not a FHIR resource")
        if res.get("id"):
            url, method = f"{res['resourceType']}/{res['id']}", "PUT"
        else:
            url, method = res["resourceType"], "POST"
        entries.append(Entry(i, method, url, None, res, {"method": method, "url": url}))
    return entries


def _prepare(entries: list[Entry]) -> tuple[list, bool]:
    """Entries prepared for the writer, and whether that was possible without the database.

    A transaction of plain creates (most exports, Synthea) becomes a list of staged creates.
    """
    try:
        entries = prepare_transaction(entries)
    except NeedsDatabase:
        return entries, False
    if not all(
        e.method == "POST" and "_index" in e.request and type(e.resource) is dict for e in entries
    ):
        return entries, True
    staged = []
    for e in entries:
        try:
            staged.append(
                repo.stage_create(e.resource, e.request["_assigned"][0], e.request["_index"])
            )
        except FhirError as err:
            raise EntryError(e.index, err) from None
    return staged, True


def read_and_prepare(path: Path) -> list[tuple[str, int, object, bool]]:
    """Parse one file and prepare its transactions (runs in a worker process).

    Returns units to write, each ``(where, count, entries or document, prepared)``; a unit
    whose third item is an ``ImportFailure`` reports a problem instead.
    """
    units: list[tuple[str, int, object, bool]] = []
    if path.suffix == ".ndjson":
        try:
            for first_line, chunk in _ndjson_chunks(path):
                where = f"{path} (lines from {first_line})"
                try:
                    entries, ready = _prepare(_chunk_entries(chunk))
                except FhirError as err:
                    units.append(
                        (where, 0, ImportFailure(where, _entry_line(err, first_line)), False)
                    )
                    return units
                units.append((where, len(chunk), entries, ready))
        except ImportFailure as exc:
            units.append((str(path), 0, exc, False))
        return units
    try:
        data = jsonio.loads(path.read_bytes())
    except jsonio.JSONDecodeError as exc:
        return [(str(path), 0, ImportFailure(str(path), f"malformed JSON: {exc}"), False)]
    if not isinstance(data, dict):
        return [(str(path), 0, ImportFailure(str(path), "not a FHIR resource or Bundle"), False)]
    if data.get("resourceType") == "Bundle" and data.get("type") == "transaction":
        try:
            entries, ready = _prepare(_entries_of(data))
        except FhirError as err:
            return [(str(path), 0, ImportFailure(str(path), err.message), False)]
        return [(str(path), len(entries), entries, ready)]
    return [(str(path), 0, data, False)]


def _write_unit(where: str, payload: object, prepared: bool) -> int:
    if isinstance(payload, list) and payload and isinstance(payload[0], repo.StagedCreate):
        with atomic(), index_writer.batched(raw_cursor):
            for staged in payload:
                repo.store_staged(staged)
        return len(payload)
    if isinstance(payload, list):  # entries of a transaction (a Bundle or an NDJSON chunk)
        run_transaction(payload, _request(), prepared=prepared, respond=False)
        return len(payload)
    return load_bundle(payload)


def _write_file(units: list, bar: tqdm) -> tuple[int, bool]:
    """Write one file's units, each in its own transaction; stop at the first failure."""
    written = 0
    for where, _count, payload, prepared in units:
        if isinstance(payload, ImportFailure):
            tqdm.write(f"error: {payload}", file=sys.stderr)
            return written, True
        try:
            n = _write_unit(where, payload, prepared)
        except FhirError as err:
            message = err.message
            if " (lines from " in where:
                first = int(where.rsplit(" ", 1)[-1].rstrip(")"))
                message = _entry_line(err, first)
            tqdm.write(f"error: {where}: {message}", file=sys.stderr)
            return written, True
        bar.update(n)
        written += n
    return written, False


def _groupable(units: list) -> bool:
    """Units that can share a commit with other files' and be written again if it fails.

    Only prepared transactions qualify: an unprepared one rewrites its references in place as
    it is written, so it could not be written a second time.
    """
    return all(isinstance(payload, list) and prepared for _w, _n, payload, prepared in units)


def _write_files(files: list[tuple[Path, list]], bar: tqdm) -> tuple[int, int]:
    """Write several files with one commit; returns (resources written, files failed).

    On SQLite a commit writes every page its transaction touched to the log, and consecutive
    Bundles touch many of the same index pages, so one commit for a few thousand resources
    writes far less than one per Bundle. Each Bundle is still all or nothing: if any of them
    fails, the whole group is rolled back and its files are written again one transaction at
    a time, which stores the others and reports the failure as it would have been alone.
    """
    if len(files) > 1 and all(_groupable(units) for _path, units in files):
        try:
            with atomic():
                n = sum(
                    _write_unit(where, payload, prepared)
                    for _path, units in files
                    for where, _count, payload, prepared in units
                )
        except FhirError:
            pass
        else:
            bar.update(n)
            return n, 0
    written = failures = 0
    for _path, units in files:
        n, failed = _write_file(units, bar)
        written += n
        failures += failed
    return written, failures


def _die_with_parent() -> None:
    """A worker must not outlive an importer that was killed (even with kill -9)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the worker ends when its pipe closes
        pass


def _prepared_in_order(files: list[Path], workers: int) -> Iterator[tuple[Path, list]]:
    """Files parsed and prepared ahead by worker processes, handed over in order."""
    if workers < 1 or len(files) < 2:
        for path in files:
            yield path, read_and_prepare(path)
        return
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_die_with_parent
    ) as pool:
        window: deque = deque()
        queue = iter(files)
        for path in queue:
            window.append((path, pool.submit(read_and_prepare, path)))
            if len(window) >= workers * 3:
                break
        while window:
            path, future = window.popleft()
            nxt = next(queue, None)
            if nxt is not None:
                window.append((nxt, pool.submit(read_and_prepare, nxt)))
            yield path, future.result()


def import_paths(paths: list[Path], *, progress: bool = True, workers: int | None = None) -> int:
    """Import every file; report each failure by file and entry. Exit status 0 or 1.

    Parsing, validation and index extraction run in worker processes (one per core) while this
    process writes the previous files. Each Bundle or NDJSON chunk is all or nothing; files
    share a commit until they hold ``GROUP_RESOURCES`` resources.
    """
    failures = 0
    written = 0
    try:
        files = list(_files(paths))
    except ImportFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if workers is None:
        workers = max(1, os.cpu_count() or 1)
    started = time.perf_counter()
    with _bar("import", progress) as bar:
        # The workers are forked before this process opens the database.
        group: list[tuple[Path, list]] = []
        grouped = 0
        for path, units in _prepared_in_order(files, workers):
            group.append((path, units))
            grouped += sum(count for _where, count, _payload, _prepared in units)
            if grouped >= GROUP_RESOURCES:
                n, failed = _write_files(group, bar)
                written, failures = written + n, failures + failed
                group, grouped = [], 0
        if group:
            n, failed = _write_files(group, bar)
            written, failures = written + n, failures + failed
    elapsed = time.perf_counter() - started
    rate = written / elapsed if elapsed > 0 else 0
    if written:
        refresh_statistics()
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
    refresh_statistics()
    print(f"loaded {written} resources", file=sys.stderr)
    return 0
