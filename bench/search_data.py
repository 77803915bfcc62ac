"""Data for the search benchmark: demo patients written to files and loaded with ``ehr import``.

The demo generator (``ehr.demo.generator.generate``) yields one transaction Bundle per patient;
the first N patients of a run do not depend on how many follow. So a database of N patients is
grown from the one of M < N patients (same seed, same day) by importing patients M+1..N: the
data are the same as a fresh load of N, and each size costs only its new patients.

``lite`` (years) keeps only the recent part of each record: the encounters of the last
``lite`` years and what was recorded at them, plus every resource not tied to an encounter
(the patient, coverage, historical immunizations), plus whatever a kept resource refers to
inside the Bundle (so a kept prescription keeps its reason's Condition and that Condition's
encounter). Resources are not modified, only left out.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
TODAY = dt.date(2026, 11, 27)
FILES_PER_FOLDER = 1000


def env_for(url: str, validation: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env["EHR_DATABASE_URL"] = url
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if not validation:
        env["EHR_VALIDATION"] = "off"
    return env


def ehr(url: str, *args: str, validation: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ehr.cli", *args],
        env=env_for(url, validation),
        capture_output=True,
        text=True,
        check=False,
    )


# ---------------------------------------------------------------------------- lite records

_URN = re.compile(rb'"(urn:uuid:[0-9a-f-]{36})"')


def _refs(resource: dict) -> set[str]:
    return {m.decode() for m in _URN.findall(orjson.dumps(resource))}


def _encounter_start(resource: dict) -> dt.date | None:
    start = (resource.get("period") or {}).get("start")
    return dt.date.fromisoformat(start[:10]) if start else None


def lite_bundle(bundle: dict, years: float, today: dt.date = TODAY) -> dict:
    """The same Bundle without the encounters older than ``years`` and what hangs off them."""
    cutoff = today - dt.timedelta(days=round(365.25 * years))
    entries = bundle["entry"]
    old = set()
    for e in entries:
        res = e["resource"]
        if res["resourceType"] == "Encounter":
            start = _encounter_start(res)
            if start is not None and start < cutoff:
                old.add(e["fullUrl"])
    keep: set[str] = set()
    for e in entries:
        res = e["resource"]
        url = e["fullUrl"]
        if url in old:
            continue
        enc = (res.get("encounter") or {}).get("reference")
        if enc in old:
            continue
        keep.add(url)
    # Close over references inside the Bundle so the transaction stays resolvable.
    by_url = {e["fullUrl"]: e for e in entries}
    frontier = list(keep)
    while frontier:
        nxt = []
        for url in frontier:
            for ref in _refs(by_url[url]["resource"]):
                if ref in by_url and ref not in keep:
                    keep.add(ref)
                    nxt.append(ref)
        frontier = nxt
    return {**bundle, "entry": [e for e in entries if e["fullUrl"] in keep]}


# ---------------------------------------------------------------------------- files


def write_bundles(
    folder: Path, first: int, last: int, seed: int, lite: float | None, include_practice: bool
) -> tuple[int, float]:
    """Write the Bundles of patients ``first``..``last`` (1-based, inclusive); return the
    number of resources and the seconds the generator took."""
    from ehr.demo.generator import generate

    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    resources = 0
    for i, bundle in enumerate(generate(last, seed, today=TODAY)):
        if i == 0:
            if not include_practice:
                continue
            name = "a-practice.json"  # sorts before the patients' folders
        elif i < first:
            continue
        else:
            if lite:
                bundle = lite_bundle(bundle, lite)
            name = f"p{(i - 1) // FILES_PER_FOLDER:03d}/{i:06d}.json"
        path = folder / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(orjson.dumps(bundle))
        resources += len(bundle["entry"])
    return resources, time.perf_counter() - started


# ---------------------------------------------------------------------------- databases


def is_postgres(url: str) -> bool:
    return url.startswith("postgres")


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def db_url(base: str, work: Path, size: int, tag: str) -> str:
    if is_postgres(base):
        # a database name is an SQL identifier: no "-" (the tag of --lite has one)
        name = f"ehr_search_{tag}_{size}".replace("-", "_").replace(".", "_")
        return base.rsplit("/", 1)[0] + "/" + name
    return f"sqlite:///{work / f'search-{tag}-{size}.sqlite3'}"


def _pg_admin(url: str):
    import psycopg

    return psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def db_exists(url: str) -> bool:
    if is_postgres(url):
        name = url.rsplit("/", 1)[1]
        with _pg_admin(url) as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                is not None
            )
    return sqlite_path(url).exists()


def drop_db(url: str) -> None:
    if is_postgres(url):
        name = url.rsplit("/", 1)[1]
        with _pg_admin(url) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        return
    path = sqlite_path(url)
    for suffix in ("", "-wal", "-shm", ".writer-lock", ".done"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def copy_db(src: str, dst: str) -> None:
    """A copy of a finished database (to grow it to the next size)."""
    drop_db(dst)
    if is_postgres(src):
        with _pg_admin(src) as conn:
            conn.execute(
                f"CREATE DATABASE {dst.rsplit('/', 1)[1]} TEMPLATE {src.rsplit('/', 1)[1]}"
            )
        return
    import sqlite3

    # Fold the WAL into the file, then copy the file (nobody writes to it any more).
    conn = sqlite3.connect(sqlite_path(src))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(sqlite_path(src), sqlite_path(dst))


def create_db(url: str) -> None:
    drop_db(url)
    if is_postgres(url):
        with _pg_admin(url) as conn:
            conn.execute(f"CREATE DATABASE {url.rsplit('/', 1)[1]}")
    done = ehr(url, "migrate")
    if done.returncode:
        raise SystemExit(f"ehr migrate failed:\n{done.stderr}")


def count_patients(url: str) -> int:
    return int(scalar(url, "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Patient'"))


def scalar(url: str, statement: str):
    if is_postgres(url):
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(statement).fetchone()[0]
    import sqlite3

    with sqlite3.connect(sqlite_path(url)) as conn:
        return conn.execute(statement).fetchone()[0]


def analyze(url: str) -> None:
    """Planner statistics (``ehr`` itself does not gather them on SQLite)."""
    if is_postgres(url):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        return
    import sqlite3

    with sqlite3.connect(sqlite_path(url)) as conn:
        conn.execute("ANALYZE")


def db_size(url: str) -> int:
    if is_postgres(url):
        return int(scalar(url, "SELECT pg_database_size(current_database())"))
    path = sqlite_path(url)
    return sum(
        Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()
    )


def import_folder(url: str, folder: Path, validation: bool) -> dict:
    """``ehr import`` of a folder of Bundles; returns its own figures and the wall time."""
    started = time.perf_counter()
    done = ehr(url, "import", str(folder), "--quiet", validation=validation)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"ehr import failed:\n{done.stderr[-4000:]}")
    m = re.search(r"imported (\d+) resources .*?\(([\d,]+) resources/s\)", done.stderr)
    return {
        "resources": int(m.group(1)) if m else 0,
        "rate": int(m.group(2).replace(",", "")) if m else 0,
        "wall": wall,
    }


def build(
    base: str,
    work: Path,
    size: int,
    *,
    seed: int,
    lite: float | None,
    validation: bool,
    reuse: bool,
    log,
) -> tuple[str, dict]:
    """A database holding the first ``size`` demo patients; reuses or grows earlier ones."""
    tag = f"s{seed}" + (f"-lite{lite:g}" if lite else "")
    kind = "pg" if is_postgres(base) else "sqlite"
    url = db_url(base, work, size, tag)

    def marker_of(n: int) -> Path:
        return work / f"search-{tag}-{n}.{kind}.done"

    marker = marker_of(size)
    info: dict = {"url": url, "reused": False}
    if reuse and marker.exists() and db_exists(url):
        info.update(orjson.loads(marker.read_bytes()))
        info["reused"] = True
        log(f"  reusing {url} ({info.get('resources', '?')} resources)")
        done = ehr(url, "migrate")  # a database built by older code gets today's schema
        if done.returncode != 0:
            raise SystemExit(f"ehr migrate failed:\n{done.stderr}")
        return url, info
    # The largest finished smaller database of the same data, if any, is the starting point.
    start_from = 0
    own = re.compile(rf"search-{re.escape(tag)}-(\d+)\.{kind}\.done")
    for m in work.iterdir():
        hit = own.fullmatch(m.name)
        if not hit:
            continue
        n = int(hit.group(1))
        src = db_url(base, work, n, tag)
        if start_from < n < size and db_exists(src):
            start_from, source = n, src
    marker.unlink(missing_ok=True)
    if start_from:
        log(f"  copying the {start_from}-patient database to grow it to {size}")
        t = time.perf_counter()
        copy_db(source, url)
        log(f"  copied in {time.perf_counter() - t:.0f} s")
        previous = orjson.loads(marker_of(start_from).read_bytes())
    else:
        create_db(url)
        previous = {"resources": 0, "import_seconds": 0.0, "generate_seconds": 0.0}
    files = work / f"bundles-{tag}-{start_from + 1}-{size}"
    shutil.rmtree(files, ignore_errors=True)
    log(f"  generating patients {start_from + 1}..{size} (lite={lite or 'no'})")
    resources, gen_s = write_bundles(files, start_from + 1, size, seed, lite, start_from == 0)
    log(f"  {resources:,} resources generated in {gen_s:.0f} s; importing "
        f"(validation {'on' if validation else 'off'})")  # fmt: skip
    imp = import_folder(url, files, validation)
    shutil.rmtree(files, ignore_errors=True)
    log(f"  imported {imp['resources']:,} resources in {imp['wall']:.0f} s "
        f"({imp['rate']:,}/s by ehr import's count)")  # fmt: skip
    info.update(
        {
            "resources": previous["resources"] + imp["resources"],
            "imported_now": imp["resources"],
            "import_rate": imp["rate"],
            "import_seconds": previous["import_seconds"] + imp["wall"],
            "generate_seconds": previous["generate_seconds"] + gen_s,
            "validation": validation,
            "grown_from": start_from,
        }
    )
    marker.write_bytes(orjson.dumps({k: v for k, v in info.items() if k != "reused"}))
    return url, info
