"""What a rewrite of the engine's SQL would give, on a loaded SQLite benchmark database.

For a few slow shapes, runs the statement the engine generates today (``query.Compiler`` and
``engine.run``, copied here as they stand) and a rewritten one that uses only the indexes the
schema already has, on the same sampled values, checks that both return the same rows, and
prints the warm median of each. Read-only: the database is not changed.

Usage: .venv/bin/python bench/search_rewrites.py /tmp/ehr-search/search-s1-1000.sqlite3
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ehr.fhir.search.extract import hash64  # noqa: E402

COLS = "r.id, r.fhir_id"
N = 3  # sampled values per statement


def h(*parts: str) -> int:
    return hash64(*parts)


def day_us(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1_000_000)


def cases(conn: sqlite3.Connection, rng: random.Random) -> list[tuple[str, str, str, list]]:
    patients = "SELECT fhir_id FROM fhir_resource WHERE resource_type = 'Patient' ORDER BY id"
    pids = [r[0] for r in conn.execute(patients)]
    out = []
    for pid in rng.sample(pids, N):
        ref = [h("Observation", "patient"), pid]
        cat = h("Observation", "category", "vital-signs")
        out.append((
            "obs-vitals: Observation?patient=X&category=vital-signs",
            # today: type index drives; both IN lists are built in full (every vital sign)
            f"SELECT {COLS} FROM fhir_resource r WHERE r.resource_type = 'Observation' AND "
            "r.deleted = 0 AND r.id IN (SELECT resource_id FROM fhir_reference WHERE "
            "hash_param = ? AND (target_id = ?)) AND r.id IN (SELECT resource_id FROM fhir_token "
            "WHERE hash_value = ?) ORDER BY r.id LIMIT 21",
            # rewrite: the selective filter drives (rowid lookups); the others are probes of
            # the resource's own index rows (fhir_token_res), not lists of the whole table
            f"SELECT {COLS} FROM fhir_resource r WHERE r.id IN (SELECT resource_id FROM "
            "fhir_reference WHERE hash_param = ? AND target_id = ?) AND +r.resource_type = "
            "'Observation' AND r.deleted = 0 AND EXISTS (SELECT 1 FROM fhir_token t WHERE "
            "t.resource_id = r.id AND +t.hash_value = ?) ORDER BY r.id LIMIT 21",
            [*ref, cat],
        ))  # fmt: skip
        lab = h("Observation", "category", "laboratory")
        date = h("Observation", "date")
        out.append((
            "obs-lab-sort: Observation?patient=X&category=laboratory&_sort=-date&_count=10",
            f"SELECT {COLS} FROM fhir_resource r WHERE r.resource_type = 'Observation' AND "
            "r.deleted = 0 AND r.id IN (SELECT resource_id FROM fhir_reference WHERE "
            "hash_param = ? AND (target_id = ?)) AND r.id IN (SELECT resource_id FROM fhir_token "
            "WHERE hash_value = ?) ORDER BY CASE WHEN (SELECT MAX(high_us) FROM fhir_date x WHERE "
            "x.resource_id = r.id AND x.hash_param IN (?)) IS NULL THEN 1 ELSE 0 END, (SELECT "
            "MAX(high_us) FROM fhir_date x WHERE x.resource_id = r.id AND x.hash_param IN (?)) "
            "DESC, r.id ASC LIMIT 11 OFFSET 0",
            # rewrite: as above, and the sort key read through fhir_date_res (resource_id)
            f"SELECT {COLS} FROM fhir_resource r WHERE r.id IN (SELECT resource_id FROM "
            "fhir_reference WHERE hash_param = ? AND target_id = ?) AND +r.resource_type = "
            "'Observation' AND r.deleted = 0 AND EXISTS (SELECT 1 FROM fhir_token t WHERE "
            "t.resource_id = r.id AND +t.hash_value = ?) ORDER BY CASE WHEN (SELECT MAX(high_us) "
            "FROM fhir_date x WHERE x.resource_id = r.id AND +x.hash_param = ?) IS NULL THEN 1 "
            "ELSE 0 END, (SELECT MAX(high_us) FROM fhir_date x WHERE x.resource_id = r.id AND "
            "+x.hash_param = ?) DESC, r.id ASC LIMIT 11 OFFSET 0",
            [*ref, lab, date, date],
        ))  # fmt: skip
    days = [r[0] for r in conn.execute(
        "SELECT low_us FROM fhir_date WHERE hash_param = ? ORDER BY random() LIMIT 200",
        (h("Observation", "date"),))]  # fmt: skip
    for low in rng.sample(days, N):
        day = dt.datetime.fromtimestamp(low / 1e6, dt.UTC).date()
        lo, hi = day_us(day), day_us(day + dt.timedelta(days=1))
        date = h("Observation", "date")
        out.append((
            "obs-day-50: Observation?date=geD&date=ltD+1&_count=50",
            # today: two half-open ranges, each a list of about half the table
            f"SELECT {COLS} FROM fhir_resource r WHERE r.resource_type = 'Observation' AND "
            "r.deleted = 0 AND r.id IN (SELECT resource_id FROM fhir_date WHERE hash_param = ? "
            "AND (high_us >= ?)) AND r.id IN (SELECT resource_id FROM fhir_date WHERE "
            "hash_param = ? AND (low_us < ?)) ORDER BY r.id LIMIT 51",
            # rewrite: both bounds on the same index row, and a lower limit on low_us from the
            # longest span stored for the parameter (here measured: see max_span below)
            f"SELECT {COLS} FROM fhir_resource r WHERE r.id IN (SELECT resource_id FROM fhir_date "
            "WHERE hash_param = ? AND low_us >= ? AND low_us < ? AND high_us >= ?) AND "
            "+r.resource_type = 'Observation' AND r.deleted = 0 ORDER BY r.id LIMIT 51",
            [date, lo, date, hi],
            # the rewrite's arguments are derived in run(): see ARGS_FOR
        ))  # fmt: skip
    for pid in rng.sample(pids, N):
        ids = [r[0] for r in conn.execute(
            "SELECT r.id FROM fhir_resource r WHERE r.resource_type = 'DiagnosticReport' AND "
            "r.patient_key = ? ORDER BY r.id LIMIT 20", (pid,))]  # fmt: skip
        if not ids:
            continue
        marks = ",".join("?" * len(ids))
        res = h("DiagnosticReport", "result")
        out.append((
            "dr-include: the _include=DiagnosticReport:result statement",
            "SELECT DISTINCT t.id, t.fhir_id FROM fhir_reference ref JOIN fhir_resource t ON "
            "t.resource_type = ref.target_type AND t.fhir_id = ref.target_id WHERE "
            f"ref.resource_id IN ({marks}) AND ref.hash_param IN (?) AND t.deleted = 0",
            # rewrite: the page's keys drive (fhir_reference_res), not every result reference
            "SELECT DISTINCT t.id, t.fhir_id FROM fhir_reference ref JOIN fhir_resource t ON "
            "t.resource_type = ref.target_type AND t.fhir_id = ref.target_id WHERE "
            f"ref.resource_id IN ({marks}) AND +ref.hash_param IN (?) AND t.deleted = 0",
            [*ids, res],
        ))  # fmt: skip
    return out


def run(db: str, reps: int = 1) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA mmap_size=268435456")
    rng = random.Random(1)
    date = h("Observation", "date")
    span = conn.execute(
        "SELECT MAX(high_us - low_us) FROM fhir_date WHERE hash_param = ?", (date,)
    ).fetchone()[0]
    print(f"longest Observation.date span stored: {span / 3.6e9:.1f} h")
    results: dict[str, tuple[list, list]] = {}
    for label, today, rewrite, args in cases(conn, rng):
        rargs = args
        if label.startswith("obs-day-50"):
            hp, lo, _, hi = args
            rargs = [hp, lo - span, hi, lo]
        a = b = None
        ta, tb = [], []
        for _ in range(reps):
            t = time.perf_counter()
            a = conn.execute(today, args).fetchall()
            ta.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            b = conn.execute(rewrite, rargs).fetchall()
            tb.append((time.perf_counter() - t) * 1000)
        if sorted(a) != sorted(b):
            print(f"  DIFFERENT ROWS for {label}: {len(a)} vs {len(b)}")
        results.setdefault(label, ([], []))
        results[label][0].append(statistics.median(ta))
        results[label][1].append(statistics.median(tb))
    print("| statement | today, median ms | rewrite, median ms |")
    print("|---|---|---|")
    for label, (ta, tb) in results.items():
        print(f"| {label} | {statistics.median(ta):.1f} | {statistics.median(tb):.2f} |")


if __name__ == "__main__":
    run(sys.argv[1])
