"""Copying SQLite's write-ahead log into the database file beside the writers, not inside them.

By default SQLite checkpoints inside the commit that takes the log past ``wal_autocheckpoint``
pages: that writer copies thousands of pages while it holds the database's single write lock,
and every other writer of every server process waits behind it. Under a stream of creates this
was about a third of the time a commit took (docs/benchmarks.md).

In the server, one thread per process checkpoints instead, several times a second, in PASSIVE
mode: it takes neither the write lock nor waits for readers, so writers go on committing while
it copies. Request connections then checkpoint themselves only past a much larger log
(``FALLBACK_PAGES``), should the thread ever fall behind; SQLite serialises the checkpoints of
several processes itself (a busy checkpointer is skipped until the next round).

Command-line tools (import, migrate) keep SQLite's own checkpoints: they do not start the thread.
"""

from __future__ import annotations

import sqlite3
import threading

from django.db import connection
from django.db.backends.signals import connection_created

INTERVAL_SECONDS = 0.5
FALLBACK_PAGES = 100_000  # about 400 MB of log at 4 KiB pages

_started: Checkpointer | None = None
_lock = threading.Lock()


class Checkpointer(threading.Thread):
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection every ``interval`` s."""

    def __init__(self, path: str, interval: float = INTERVAL_SECONDS):
        super().__init__(name="wal-checkpoint", daemon=True)
        self.path = path
        self.interval = interval
        self.rounds = 0  # checkpoints run
        self.last: tuple[int, int] = (0, 0)  # the log's pages, and how many are in the database
        self._halt = threading.Event()

    def run(self) -> None:
        db = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            # As durable as the writers' commits (synchronous=NORMAL in settings): the log is
            # synced before its pages overwrite the database file.
            db.execute("PRAGMA synchronous=NORMAL")
            while not self._halt.wait(self.interval):
                self.checkpoint(db)
        finally:
            db.close()

    def checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            _busy, log_pages, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError:  # locked: next round
            return
        if log_pages < 0:  # another connection is checkpointing (it answers -1): next round
            return
        self.rounds += 1
        self.last = (log_pages, copied)

    def stop(self) -> None:
        self._halt.set()


def _relax_autocheckpoint(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")


def start_in_background() -> Checkpointer | None:
    """Start this process's checkpointer (once) on the SQLite database; None elsewhere.

    Connections opened from now on leave routine checkpoints to it. Call it in the process that
    serves requests, after any fork.
    """
    global _started
    if connection.vendor != "sqlite":
        return None
    name = connection.settings_dict["NAME"]
    if not name or str(name) == ":memory:" or str(name).startswith("file:"):
        return None
    with _lock:
        if _started is None or not _started.is_alive():
            _started = Checkpointer(str(name))
            _started.start()
            connection_created.connect(_relax_autocheckpoint, dispatch_uid="wal-checkpoint")
            if connection.connection is not None:  # already open: relax it too
                _relax_autocheckpoint(None, connection)
        return _started
