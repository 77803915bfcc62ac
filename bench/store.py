"""Benchmark of the FHIR store on the SQLite default (issue: the system of record).

Measures, on a fresh database:
  1. importing the Synthea transaction Bundles with `ehr import` (resources/s),
  2. GET /fhir/Patient/{id} at 32 connections (requests/s, p50/p99) with wrk,
  3. POST /fhir/Patient at 32 connections (creates/s, p50/p99) with wrk.

The load generator runs on the same machine as the server. Needs `wrk` (apt-get install wrk).
Usage: .venv/bin/python bench/store.py [--duration 15] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.live import env_for, free_port  # noqa: E402
from tests.shared_dir import CORPUS  # noqa: E402

SYNTHEA = CORPUS / "fhir" / "synthea"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"
    )


def ehr(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ehr.cli", *args],
        env=env_for(url),
        capture_output=True,
        text=True,
        check=True,
    )


def wrk(url: str, duration: int, script: str | None = None, token: str | None = None) -> dict:
    cmd = ["wrk", "-t2", "-c32", f"-d{duration}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": lat.get("50"),
        "p99": lat.get("99"),
        "errors": errors.group(1) if errors else "0",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="ehr-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    ehr(url, "migrate")

    started = time.perf_counter()
    done = ehr(url, "import", str(SYNTHEA), "--quiet")
    wall = time.perf_counter() - started
    m = re.search(r"imported (\d+) resources .*\(([\d,]+) resources/s\)", done.stderr)
    imported, rate = int(m.group(1)), m.group(2)

    # Every request carries a token and leaves an audit record, as in production.
    token = ehr(url, "token", "--system", "--scope", "system/*.cruds", "--minutes", "120")
    token = token.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ehr.cli", "serve", "--port", str(port)],
        env=env_for(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/fhir"
        for _ in range(100):
            try:
                import httpx

                bundle = httpx.get(
                    f"{base}/Patient?_count=1", headers={"Authorization": f"Bearer {token}"}
                ).json()
                break
            except Exception:
                time.sleep(0.1)
        pid = bundle["entry"][0]["resource"]["id"]
        wrk(f"{base}/Patient/{pid}", 3, token=token)  # warm-up
        reads = wrk(f"{base}/Patient/{pid}", args.duration, token=token)
        script = str(ROOT / "bench" / "create_patient.lua")
        creates = wrk(f"{base}/Patient", args.duration, script, token=token)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"machine: {machine()}")
    print(f"database: {'SQLite (default)' if url.startswith('sqlite') else 'PostgreSQL'}")
    print("| measure | result | target |")
    print("|---|---|---|")
    print(
        f"| import Synthea ({imported} resources, 25 transaction Bundles) | {rate} resources/s "
        f"(whole command incl. start-up: {imported / wall:,.0f}/s) | 5,000/s |"
    )
    print(
        f"| GET /fhir/Patient/{{id}}, 32 connections | {reads['rps']:,.0f} req/s, "
        f"p50 {reads['p50']}, p99 {reads['p99']}, errors {reads['errors']} "
        "| 5,000/s, p99 < 20 ms (4,000/s with authentication and audit) |"
    )
    print(
        f"| POST /fhir/Patient, 32 connections | {creates['rps']:,.0f} creates/s, "
        f"p50 {creates['p50']}, p99 {creates['p99']}, errors {creates['errors']} | 1,500/s |"
    )


if __name__ == "__main__":
    main()
