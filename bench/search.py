"""Benchmark of the FHIR search engine as data grows (issue: find anything fast).

For each size (patients of the demo generator, default 1,000 / 4,000 / 16,000 / 64,000):
  1. a database holding the first N demo patients (``ehr.demo.generator.generate(N, seed,
     today=2026-11-27)``), written as one transaction Bundle per patient to a temporary folder
     and loaded with ``ehr import`` (validation and search indexing on, worker processes).
     A size is grown from the previous one of the same data (the generator's first N patients
     do not depend on how many follow), so each size imports only its new patients.
     ``--lite YEARS`` keeps only the last YEARS of each record (see search_data.lite_bundle);
     ``--no-validation`` loads with EHR_VALIDATION=off (index extraction still runs);
  2. parameter values sampled (seeded) from the stored data for the 30 query shapes of
     search_shapes.py (``--samples`` values per shape);
  3. a cold start: ``sync`` and drop the OS page cache (when run as root), start a fresh
     ``ehr serve --workers 1`` on the database (as tests/live.py does), one GET /fhir/metadata;
  4. every (shape, value) once in shuffled order (the cold pass), then ``--reps - 1`` more
     shuffled passes; one client, one keep-alive connection, sequential requests; the time of
     a request is from sending it to having read the whole response body.
Reported per shape: p50, p99 (nearest rank), the cold pass's p50, the median number of matches.

Usage:
  .venv/bin/python bench/search.py [--sizes 1000,4000] [--database-url postgresql://...]
      [--samples 50] [--reps 3] [--lite YEARS] [--no-validation] [--work-dir DIR --reuse]
      [--json results.json]
"""

from __future__ import annotations

import argparse
import http.client
import math
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import search_data as data  # noqa: E402
import search_shapes as shapes  # noqa: E402
from store import machine  # noqa: E402

SELECTIVE_P50_MS = 5.0
SELECTIVE_P99_MS = 25.0
FLAT_RATIO = 1.3


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=False)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``ehr serve`` on the benchmark database, started the way tests/live.py does it."""

    def __init__(self, url: str, workers: int, timeout: float):
        self.url = url
        self.timeout = timeout
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ehr.cli", "serve", "--port", str(self.port),
             "--workers", str(workers)],
            env=data.env_for(url),
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )  # fmt: skip
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None:
                    self.log.seek(0)
                    raise RuntimeError(self.log.read().decode()) from None
                time.sleep(0.1)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        # Every request carries a system token and leaves an audit record, as in production.
        minted = subprocess.run(
            [sys.executable, "-m", "ehr.cli", "token", "--system", "--scope", "system/*.rs",
             "--minutes", "600"],
            env=data.env_for(url), capture_output=True, text=True, check=True,
        )  # fmt: skip
        self.headers = {
            "Accept": "application/fhir+json",
            "Authorization": f"Bearer {minted.stdout.strip().splitlines()[-1]}",
        }

    def get(self, path: str) -> tuple[int, bytes, float]:
        target = "/fhir" + (path if path.startswith("?") else "/" + path)
        for attempt in range(2):
            try:
                started = time.perf_counter()
                self.conn.request("GET", target, headers=self.headers)
                resp = self.conn.getresponse()
                body = resp.read()
                return resp.status, body, time.perf_counter() - started
            except TimeoutError:
                raise
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError

    def stop(self) -> None:
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def matches(body: bytes) -> int:
    bundle = orjson.loads(body)
    return sum(
        1 for e in bundle.get("entry") or [] if (e.get("search") or {}).get("mode") == "match"
    )


def run_size(url: str, args, chosen: list[shapes.Shape]) -> dict:
    t = time.perf_counter()
    patients = shapes.sample_patients(url, args.patients_sampled, args.seed)
    paths = shapes.plan(chosen, patients, args.samples, args.seed)
    log(f"  sampled {len(patients)} patients in {time.perf_counter() - t:.1f} s")
    if args.pg_restart and data.is_postgres(url):
        subprocess.run(args.pg_restart, shell=True, check=True)
    dropped = drop_caches() if not args.no_drop_caches else False
    load_before = load_average()
    server = Server(url, args.workers, args.timeout)
    restarts = 0
    results: dict[str, dict] = {
        s.name: {"kind": s.kind, "times": [], "cold": [], "matches": [], "errors": 0,
                 "spent": 0.0, "skipped": 0, "timeouts": 0, "example": paths[s.name][:1]}
        for s in chosen
    }  # fmt: skip
    try:
        status, _, first = server.get("metadata")
        assert status == 200, status
        rng = random.Random(args.seed)
        started = time.perf_counter()
        for rep in range(args.reps):
            work = [(name, p) for name, ps in paths.items() for p in ps]
            rng.shuffle(work)
            for name, path in work:
                r = results[name]
                if r["spent"] > args.shape_budget:
                    r["skipped"] += 1
                    continue
                try:
                    status, body, secs = server.get(path)
                except TimeoutError:
                    # Give up on this shape; a fresh server ends the runaway query.
                    log(f"  {name}: no answer within {args.timeout:g} s for {path}")
                    r["timeouts"] += 1
                    r["spent"] = math.inf
                    server.stop()
                    server = Server(url, args.workers, args.timeout)
                    server.get("metadata")
                    restarts += 1
                    continue
                r["spent"] += secs
                if status != 200:
                    r["errors"] += 1
                    if r["errors"] <= 2:
                        log(f"  {name}: HTTP {status} for {path}: {body[:300]!r}")
                    continue
                r["times"].append(secs * 1000)
                if rep == 0:
                    r["cold"].append(secs * 1000)
                    r["matches"].append(matches(body))
            log(f"  pass {rep + 1}/{args.reps} done at {time.perf_counter() - started:.0f} s"
                f" (load {load_average()})")  # fmt: skip
    finally:
        server.stop()
    summary = {}
    for name, r in results.items():
        ts = r["times"]
        summary[name] = {
            "kind": r["kind"],
            "n": len(ts),
            "p50": statistics.median(ts) if ts else None,
            "p99": pct(ts, 0.99) if ts else None,
            "cold_p50": statistics.median(r["cold"]) if r["cold"] else None,
            "max": max(ts) if ts else None,
            "matches": statistics.median(r["matches"]) if r["matches"] else None,
            "errors": r["errors"],
            "skipped": r["skipped"],
            "timeouts": r["timeouts"],
            "example": r["example"],
        }
    return {
        "shapes": summary,
        "caches_dropped": dropped,
        "server_restarts": restarts,
        "load_before": load_before,
        "load_after": load_average(),
        "first_request_ms": first * 1000,
    }


def fmt(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:.1f}" if ms < 100 else f"{ms:,.0f}"


def report(results: dict, chosen: list[shapes.Shape], backend: str) -> str:
    sizes = sorted(results["sizes"], key=int)
    lines = []
    for size in sizes:
        r = results["sizes"][size]
        b = r["build"]
        lines.append(
            f"- {int(size):,} patients: {b.get('resources', 0):,} resources, database "
            f"{r['db_bytes'] / 2**30:.1f} GiB; import {b.get('import_seconds', 0):.0f} s in all "
            f"(last step {b.get('import_rate', 0):,} resources/s, validation "
            f"{'on' if b.get('validation', True) else 'off'}); OS cache dropped: "
            f"{'yes' if r['run']['caches_dropped'] else 'no'}; load average before/after "
            f"{r['run']['load_before']} / {r['run']['load_after']}"
        )
    head = "| shape | kind | " + " | ".join(f"{int(s):,}: p50 / p99 (cold p50)" for s in sizes)
    head += " | matches |"
    if len(sizes) > 1:
        head = (
            head[: -len(" matches |")] + f" p50 {int(sizes[-1]):,} / {int(sizes[0]):,} | matches |"
        )
    lines += ["", f"{backend}, milliseconds:", "", head,
              "|" + "---|" * (head.count("|") - 1)]  # fmt: skip
    for s in chosen:
        row = [s.name, s.kind]
        for size in sizes:
            x = results["sizes"][size]["run"]["shapes"][s.name]
            if x["n"]:
                cell = f"{fmt(x['p50'])} / {fmt(x['p99'])} ({fmt(x['cold_p50'])})"
            else:
                cell = "no answer"
            if x.get("timeouts"):
                cell += f" [timeout > {results['args']['timeout']:g} s]"
            miss = x["kind"] == "selective" and (
                x["p50"] is None
                or x.get("timeouts")
                or x["p50"] > SELECTIVE_P50_MS
                or x["p99"] > SELECTIVE_P99_MS
            )
            if x["errors"] or x["skipped"]:
                cell += f" [n={x['n']}" + (f", {x['errors']} errors" if x["errors"] else "") + "]"
            row.append(f"**{cell}**" if miss else cell)
        if len(sizes) > 1:
            a = results["sizes"][sizes[-1]]["run"]["shapes"][s.name]["p50"]
            z = results["sizes"][sizes[0]]["run"]["shapes"][s.name]["p50"]
            ratio = a / z if a and z else None
            row.append(f"{ratio:.2f}" if ratio else "-")
        m = results["sizes"][sizes[-1]]["run"]["shapes"][s.name]["matches"]
        row.append(f"{m:g}" if m is not None else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,4000,16000,64000")
    ap.add_argument(
        "--database-url",
        default=None,
        help="postgresql://user@host:port/any (a database per size is created "
        "beside it); default SQLite files in the work folder",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--lite", type=float, default=None, help="keep only the last YEARS of each patient's record"
    )
    ap.add_argument(
        "--no-validation",
        action="store_true",
        help="load with EHR_VALIDATION=off (index extraction still runs)",
    )
    ap.add_argument("--samples", type=int, default=50, help="values per shape")
    ap.add_argument("--patients-sampled", type=int, default=60)
    ap.add_argument("--reps", type=int, default=3, help="passes over all values")
    ap.add_argument(
        "--shape-budget",
        type=float,
        default=15.0,
        help="seconds of requests per shape and size before the rest are skipped",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        help="seconds to wait for one answer; the shape is given up after one",
    )
    ap.add_argument("--shapes", default=None, help="comma-separated shape names (default all)")
    ap.add_argument("--workers", type=int, default=1, help="ehr serve worker processes")
    ap.add_argument(
        "--work-dir",
        default=None,
        help="where databases and files go (default a temporary folder, removed)",
    )
    ap.add_argument(
        "--reuse", action="store_true", help="reuse finished databases of the work folder"
    )
    ap.add_argument("--no-drop-caches", action="store_true")
    ap.add_argument(
        "--pg-restart",
        default=None,
        help="shell command that restarts PostgreSQL (to empty its buffers)",
    )
    ap.add_argument("--json", default=None, help="write all figures to this file")
    ap.add_argument("--load-only", action="store_true")
    ap.add_argument(
        "--analyze",
        action="store_true",
        help="run ANALYZE on the database before the queries (not done by ehr)",
    )
    ap.add_argument(
        "--report-from",
        default=None,
        help="comma-separated JSON files of earlier runs (same backend): print "
        "their sizes side by side, run nothing",
    )
    args = ap.parse_args()  # fmt: skip
    if args.report_from:
        merged: dict = {}
        for name in args.report_from.split(","):
            one = orjson.loads(Path(name).read_bytes())
            if not merged:
                merged = one
            else:
                merged["sizes"].update(one["sizes"])
        names = next(iter(merged["sizes"].values()))["run"]["shapes"]
        print(report(merged, [s for s in shapes.SHAPES if s.name in names], merged["backend"]))
        return

    sizes = [int(s) for s in args.sizes.split(",") if s]
    chosen = shapes.SHAPES
    if args.shapes:
        wanted = set(args.shapes.split(","))
        chosen = [s for s in shapes.SHAPES if s.name in wanted]
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="ehr-search-"))
    work.mkdir(parents=True, exist_ok=True)
    base = args.database_url or "sqlite:///"
    backend = "PostgreSQL" if data.is_postgres(base) else "SQLite"
    git = subprocess.run(
        ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(HERE.parent), "status", "--short", "src"], capture_output=True, text=True
    ).stdout.split("\n")
    results: dict = {"machine": machine(), "backend": backend, "sizes": {},
                     "git": git, "src_changes": [d for d in dirty if d],
                     "args": vars(args), "started": time.strftime("%Y-%m-%d %H:%M")}  # fmt: skip
    try:
        for size in sorted(sizes):
            log(f"== {size:,} patients on {backend} (load {load_average()})")
            url, build = data.build(
                base, work, size, seed=args.seed, lite=args.lite,
                validation=not args.no_validation, reuse=args.reuse, log=log,
            )  # fmt: skip
            entry = {"build": build, "db_bytes": data.db_size(url),
                     "load_after_build": load_average()}  # fmt: skip
            if args.analyze:
                t = time.perf_counter()
                data.analyze(url)
                entry["analyze_seconds"] = time.perf_counter() - t
                log(f"  ANALYZE took {entry['analyze_seconds']:.0f} s")
            if not args.load_only:
                entry["run"] = run_size(url, args, chosen)
            results["sizes"][str(size)] = entry
            if args.json:
                Path(args.json).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    finally:
        if not args.work_dir:
            for size in sizes:
                tag = f"s{args.seed}" + (f"-lite{args.lite:g}" if args.lite else "")
                data.drop_db(data.db_url(base, work, size, tag))
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {results['machine']}")
    print(
        f"code: {git}"
        + (
            f" with uncommitted changes to {len(results['src_changes'])} files under src/"
            if results["src_changes"]
            else ""
        )
    )
    print(f"database: {backend}{' after ANALYZE' if args.analyze else ''}; seed {args.seed}; "
          f"lite: {args.lite or 'no'}; "
          f"{args.samples} values x {args.reps} passes per shape")  # fmt: skip
    if not args.load_only:
        print(report(results, chosen, backend))


if __name__ == "__main__":
    main()
