"""The ``ehr`` command, run as a user runs it, against a fresh database."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import SYNTHEA
from tests.live import count_rows, ehr, env_for, fresh_database

pytestmark = pytest.mark.live


@pytest.fixture
def db_url(tmp_path):
    with fresh_database(tmp_path) as url:
        ehr(url, "migrate")
        yield url


def test_import_export_round_trip(db_url, tmp_path):
    done = ehr(db_url, "import", str(SYNTHEA), "--quiet")
    assert "imported 5441 resources from 25 of 25 files" in done.stderr
    out = tmp_path / "export"
    ehr(db_url, "export", str(out))
    files = {p.stem: p for p in out.glob("*.ndjson")}
    assert {"Patient", "Observation", "Encounter", "Claim"} <= set(files)
    assert sum(len(p.read_text().splitlines()) for p in files.values()) == 5441
    # The export loads into another database, ids kept.
    with fresh_database(tmp_path / "second") as other:
        (tmp_path / "second").mkdir(exist_ok=True)
        ehr(other, "migrate")
        again = ehr(other, "import", str(out), "--quiet")
        assert "imported 5441 resources" in again.stderr
        assert count_rows(other, "fhir_resource") == 5441
    # Both bulk commands left their audit record, and the chain is intact.
    assert count_rows(db_url, "audit_record") == 2
    verified = ehr(db_url, "audit", "verify")
    assert "audit trail intact: 2 records" in verified.stdout


def test_import_names_the_file_and_entry_that_failed(db_url, tmp_path):
    good = tmp_path / "a-good.json"
    shutil.copy(next(SYNTHEA.glob("*.json")), good)
    bad = tmp_path / "b-bad.json"
    bundle = json.loads(good.read_text())
    bundle["entry"][3]["request"]["url"] = "Unicorn"
    bundle["entry"][3]["resource"]["resourceType"] = "Unicorn"
    bad.write_text(json.dumps(bundle))
    broken = tmp_path / "c-broken.ndjson"
    broken.write_text('{"resourceType": "Patient", "id": "n1"}\n{"resourceType": "Patient", \n')
    result = ehr(db_url, "import", str(tmp_path), "--quiet", check=False)
    assert result.returncode == 1
    assert f"{bad}: Bundle.entry[3]" in result.stderr
    assert f"{broken}:2: malformed JSON" in result.stderr
    assert "from 1 of 3 files" in result.stderr and "; 2 failed" in result.stderr


def test_killed_import_leaves_only_whole_transactions(db_url, tmp_path):
    src = tmp_path / "bundles"
    src.mkdir()
    sizes = []
    for copy in range(6):
        for path in sorted(SYNTHEA.glob("*.json")):
            target = src / f"{copy:02d}-{path.name}"
            shutil.copy(path, target)
            sizes.append(len(json.loads(path.read_text())["entry"]))
    prefix_sums = {0}
    running = 0
    for n in sizes:
        running += n
        prefix_sums.add(running)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ehr.cli", "import", str(src), "--quiet"],
        env=env_for(db_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline and count_rows(db_url, "fhir_resource") < 3000:
        time.sleep(0.02)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resources = count_rows(db_url, "fhir_resource")
    assert 0 < resources < running, "the import should have been interrupted mid-way"
    assert resources in prefix_sums
    assert count_rows(db_url, "fhir_resource_version") == resources
    # The worker processes that parse and validate ahead die with the importer.
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(f"/proc/{w}") for w in workers):
        time.sleep(0.05)
    assert workers and not any(_alive(w) for w in workers)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_serve_refuses_a_port_another_server_listens_on(db_url):
    """A second server on a busy port would share it and answer half the requests."""
    from urllib.parse import urlsplit
    from urllib.request import urlopen

    from tests.live import running_server

    with running_server(db_url) as base:
        port = urlsplit(base).port
        second = subprocess.run(
            [sys.executable, "-m", "ehr.cli", "serve", "--port", str(port), "--workers", "1"],
            env=env_for(db_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "Address already in use" in second.stderr
        assert "EHR serving" not in second.stdout
        # the first server goes on answering
        with urlopen(base + "/metadata", timeout=10) as resp:
            assert resp.status == 200
