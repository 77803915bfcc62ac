"""The server copies SQLite's write-ahead log into the database file beside its writers."""

from __future__ import annotations

import sqlite3
import struct
import threading
import time
from pathlib import Path

import httpx
import pytest

from ehr.fhir.storage.wal_checkpoint import Checkpointer
from tests.live import ehr, fresh_database, running_server, sqlite_path, system_token


def _writer(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies pages back
    db.execute("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, text TEXT)")
    return db


def _backfill(path: Path) -> tuple[int, int]:
    """``(pages in the log, pages already copied into the database)``, read from the log's
    shared index (SQLite's WAL format: ``mxFrame`` at byte 16 of the header, ``nBackfill`` at
    byte 96), without running a checkpoint ourselves."""
    data = Path(f"{path}-shm").read_bytes()[:100]
    (mx_frame,) = struct.unpack_from("=I", data, 16)
    (backfilled,) = struct.unpack_from("=I", data, 96)
    return mx_frame, backfilled


def _wait_until_copied(path: Path, seconds: float = 10) -> None:
    """Wait until the log holds pages and every one is in the database file; fail if never."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        log_pages, copied = _backfill(path)
        if log_pages and copied == log_pages:
            return
        time.sleep(0.02)
    raise AssertionError(f"the log still holds uncopied pages: {_backfill(path)}")


def test_one_round_copies_every_committed_page(tmp_path):
    path = tmp_path / "wal.sqlite3"
    writer = _writer(path)
    writer.executemany("INSERT INTO note (text) VALUES (?)", [("x" * 500,)] * 2000)
    log_pages, copied = _backfill(path)
    assert log_pages > 100 and copied == 0
    checkpointer = Checkpointer(str(path))
    db = sqlite3.connect(path, timeout=0, isolation_level=None)
    checkpointer.checkpoint(db)
    assert checkpointer.rounds == 1
    assert checkpointer.last == (log_pages, log_pages)
    assert _backfill(path) == (log_pages, log_pages)
    # the rows are in the database file itself: a copy of the file alone holds them
    db.close()
    writer.close()  # the last connection removes the log
    assert not Path(f"{path}-wal").exists()
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM note").fetchone() == (2000,)


def test_the_thread_keeps_up_while_a_writer_commits(tmp_path):
    path = tmp_path / "wal.sqlite3"
    writer = _writer(path)
    checkpointer = Checkpointer(str(path), interval=0.01)
    checkpointer.start()
    try:
        for batch in range(20):
            with writer:
                writer.execute("BEGIN IMMEDIATE")
                writer.executemany(
                    "INSERT INTO note (text) VALUES (?)", [(f"{batch}-{i}",) for i in range(200)]
                )
        _wait_until_copied(path)
        assert checkpointer.rounds > 0
    finally:
        checkpointer.stop()
        checkpointer.join(5)
    assert not checkpointer.is_alive()
    assert writer.execute("SELECT COUNT(*) FROM note").fetchone() == (4000,)


def test_a_checkpoint_under_way_elsewhere_only_skips_a_round(tmp_path):
    path = tmp_path / "wal.sqlite3"
    writer = _writer(path)
    writer.execute("INSERT INTO note (text) VALUES ('a')")
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM note").fetchone()  # holds its snapshot of the log
    writer.execute("INSERT INTO note (text) VALUES ('b')")
    # Another process's checkpoint that must wait for that reader holds the checkpoint lock
    # while it waits.
    other = sqlite3.connect(path, timeout=3, isolation_level=None, check_same_thread=False)
    waiting = threading.Thread(
        target=lambda: other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    )
    waiting.start()
    time.sleep(0.3)
    checkpointer = Checkpointer(str(path))
    db = sqlite3.connect(path, timeout=0, isolation_level=None)
    checkpointer.checkpoint(db)  # no exception: it tries again on the next round
    assert checkpointer.rounds == 0
    reader.execute("COMMIT")
    waiting.join(5)
    checkpointer.checkpoint(db)
    assert checkpointer.rounds == 1


@pytest.mark.live
def test_the_server_checkpoints_beside_its_writers(tmp_path):
    with fresh_database(tmp_path) as url:
        if not url.startswith("sqlite"):
            pytest.skip("the write-ahead log checkpointer is for SQLite; this run is PostgreSQL")
        ehr(url, "migrate")
        token = system_token(url)
        path = Path(sqlite_path(url))
        with (
            running_server(url) as base,
            httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http,
        ):
            for i in range(30):
                answer = http.post(
                    f"{base}/Patient",
                    json={"resourceType": "Patient", "name": [{"family": f"Okafor{i}"}]},
                    headers={"Content-Type": "application/fhir+json"},
                )
                assert answer.status_code == 201
            # Far below the connections' own checkpoint threshold: only the server's
            # checkpointer thread can have copied these pages into the database file.
            _wait_until_copied(path)
            found = http.get(f"{base}/Patient", params={"family:exact": "Okafor2"}).json()
            assert found["total"] == 1
