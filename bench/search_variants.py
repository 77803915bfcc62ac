"""Some search shapes with and without extra parameters, side by side on a warm server.

Where ``bench/search.py`` measures each shape from a cold start, this one asks what an extra
parameter costs or saves (``_total=none``, ``_total=accurate``, ``_count=10``...). Every
sampled request is sent once per variant, one variant right after the other, for a few passes;
the server is not restarted and caches are not dropped, so the variants see the same cache.

Usage (a database loaded by bench/search.py):
  .venv/bin/python bench/search_variants.py sqlite:////tmp/ehr-search/search-s1-16000.sqlite3 \
      --shapes obs-day-50,enc-week-50 --variants ';&_total=none'
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search_shapes as shapes  # noqa: E402
from search import Server, pct  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="the benchmark database (sqlite:////path or postgresql://...)")
    ap.add_argument("--shapes", required=True, help="comma-separated shape names")
    ap.add_argument(
        "--variants",
        default=";&_total=none",
        help="semicolon-separated suffixes added to each request (empty: as it is)",
    )
    ap.add_argument("--patients", type=int, default=60, help="patients sampled")
    ap.add_argument("--samples", type=int, default=50, help="values per shape")
    ap.add_argument("--reps", type=int, default=3, help="passes over every value")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    names = args.shapes.split(",")
    chosen = [s for s in shapes.SHAPES if s.name in names]
    unknown = set(names) - {s.name for s in chosen}
    if unknown:
        ap.error(f"unknown shapes: {', '.join(sorted(unknown))}")
    variants = args.variants.split(";")
    patients = shapes.sample_patients(args.url, args.patients, args.seed)
    paths = shapes.plan(chosen, patients, args.samples, args.seed)
    server = Server(args.url, 1, 30)
    times: dict[tuple[str, str], list[float]] = {}
    try:
        server.get("metadata")
        for _ in range(args.reps):
            for name in names:
                for path in paths[name]:
                    for suffix in variants:
                        status, body, secs = server.get(path + suffix)
                        if status != 200:
                            raise SystemExit(f"HTTP {status} for {path + suffix}: {body[:300]!r}")
                        times.setdefault((name, suffix), []).append(secs * 1000)
    finally:
        server.stop()
    print("| shape | variant | p50 | p90 | p99 | n |\n|---|---|---|---|---|---|")
    for (name, suffix), ms in times.items():
        print(
            f"| {name} | {suffix or '(as is)'} | {statistics.median(ms):.2f} | "
            f"{pct(ms, 0.9):.2f} | {pct(ms, 0.99):.2f} | {len(ms)} |"
        )


if __name__ == "__main__":
    main()
