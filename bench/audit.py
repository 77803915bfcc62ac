"""Benchmark of ``ehr.audit.trail.record`` (reads' audit records, durable on return).

32 threads each call ``record([one entry])`` in a loop for a few seconds against a fresh
SQLite database (the default) or ``--database-url``; prints records/s and checks the chain.
Usage: .venv/bin/python bench/audit.py [--seconds 5] [--threads 32] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="ehr-audit-bench-")
    os.environ["EHR_DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehr.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from ehr.audit.trail import entry_for, record
    from ehr.audit.verify import verify
    from ehr.identity.principal import Principal

    call_command("migrate", verbosity=0, interactive=False)
    who = Principal(
        kind="user",
        username="bench",
        role="provider",
        fhir_user="Practitioner/1",
        client_id="bench-app",
        token_id="token",
        source="127.0.0.1",
    )
    stop = time.perf_counter() + args.seconds
    counts = [0] * args.threads
    latencies: list[list[float]] = [[] for _ in range(args.threads)]
    start_line = threading.Barrier(args.threads + 1)

    def work(n: int) -> None:
        start_line.wait()
        done, lat = 0, latencies[n]
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            record(
                [
                    entry_for(
                        who,
                        "read",
                        resource_type="Patient",
                        resource_id=f"{n}-{done}",
                        version=1,
                        patient=f"{n}",
                    )
                ]
            )
            lat.append(time.perf_counter() - t0)
            done += 1
        counts[n] = done
        connection.close()

    pool = [threading.Thread(target=work, args=(n,)) for n in range(args.threads)]
    for t in pool:
        t.start()
    start_line.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    total = sum(counts)
    every = sorted(x for lat in latencies for x in lat)
    p50 = every[len(every) // 2] * 1000
    p99 = every[int(len(every) * 0.99)] * 1000
    print(f"database: {connection.vendor}, {args.threads} threads, {elapsed:.1f} s")
    rate = total / elapsed
    print(f"record(): {total} records, {rate:,.0f} records/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    v = verify()
    print(f"chain: {'intact' if v.intact else 'BROKEN'}, {v.records} records")
    connection.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if v.intact and v.records == total else 1


if __name__ == "__main__":
    sys.exit(main())
