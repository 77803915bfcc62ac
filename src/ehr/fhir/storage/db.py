"""Thin access to the database connection Django manages, with the SQL dialect differences."""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import connection, transaction

T = TypeVar("T")


def vendor() -> str:
    return connection.vendor  # "sqlite" or "postgresql"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def raw_cursor() -> Any:
    """A DB-API cursor on Django's connection, bypassing the ORM's per-query wrapper.

    It takes part in whatever ``transaction.atomic`` block is open on the connection.
    """
    conn = connection.connection
    if conn is None:
        connection.ensure_connection()
        conn = connection.connection
    return conn.cursor()


def sql(statement: str) -> str:
    """Statements are written with ``?`` placeholders; PostgreSQL (psycopg) wants ``%s``."""
    global _VENDOR
    if _VENDOR is None:
        _VENDOR = connection.vendor  # one database per process
    if _VENDOR == "postgresql":
        return _PG_CACHE.get(statement) or _PG_CACHE.setdefault(
            statement, statement.replace("?", "%s")
        )
    return statement


_VENDOR: str | None = None


_PG_CACHE: dict[str, str] = {}


class _WriterGate:
    """Queue SQLite writers in the kernel instead of in SQLite's busy-retry loop.

    SQLite admits one writer at a time; a waiting writer otherwise sleeps and retries, which
    under load wastes most of the time in back-off. Writers of this process queue on a thread
    lock, and processes queue on an exclusive ``flock`` beside the database file.
    """

    def __init__(self) -> None:
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def _file(self) -> int:
        if self._fd is None:
            name = connection.settings_dict["NAME"]
            path = f"{name}.writer-lock" if name and name != ":memory:" else None
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else -1
        return self._fd

    @contextmanager
    def hold(self):
        with self._thread_lock:
            fd = self._file()
            if fd >= 0:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd >= 0:
                    fcntl.flock(fd, fcntl.LOCK_UN)


_gate = _WriterGate()


class _Job:
    __slots__ = ("fn", "context", "done", "result", "error", "lead", "replayable")

    def __init__(self, fn: Callable[[], T], replayable: bool = False):
        self.fn = fn
        self.replayable = replayable
        # The job may run on the leader's thread: it keeps its own request's context (the
        # caller's access policy, the base URL...).
        self.context = contextvars.copy_context()
        self.done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None
        self.lead = False


class _GroupCommit:
    """Commit the writes of concurrent requests of this process together.

    On SQLite a commit costs far more than the statements before it (every touched page goes
    to the write-ahead log). Requests that arrive while a commit is under way queue here; the
    next leader runs the whole queue in one transaction, each request in its own savepoint so
    that one failure does not touch the others, and commits once. Nobody gets an answer before
    the commit that holds their write has succeeded.

    A savepoint costs a quarter of a create's statements (SQLite copies each page the write
    touches first). So when every write of a batch may run twice (``replayable``: it only
    writes to the database), the batch runs without savepoints; should one of them fail, the
    whole transaction is rolled back and the batch runs again the careful way.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._busy = False

    def run(self, fn: Callable[[], T], replayable: bool = False) -> T:
        job = _Job(fn, replayable)
        with self._lock:
            self._queue.append(job)
            lead = not self._busy
            self._busy = True
        if not lead:
            job.done.wait()
            if not job.lead:  # a leader ran this job
                return _outcome(job)
        self._lead()  # first in line, or handed the lead by the previous leader
        return _outcome(job)

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        self._execute(batch)
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.done.set()  # it runs the next batch, including its own job
            else:
                self._busy = False

    @classmethod
    def _execute(cls, batch: list[_Job]) -> None:
        if len(batch) > 1 and all(job.replayable for job in batch):
            try:
                cls._commit(batch, savepoints=False)
                return
            except _Replay:
                for job in batch:
                    job.result = job.error = None
        cls._commit(batch, savepoints=True)

    @staticmethod
    def _commit(batch: list[_Job], savepoints: bool) -> None:
        """Run the jobs in one transaction and commit; without ``savepoints`` a failing job
        raises ``_Replay`` (after the rollback)."""
        deferred: list[tuple[Callable[[list], None], list]] = []
        try:
            with _gate.hold(), transaction.atomic():
                cur = raw_cursor()
                for job in batch:
                    _local.deferred = pending = []
                    try:
                        if savepoints:
                            with _savepoint(cur):
                                job.result = job.context.run(job.fn)
                        else:
                            job.result = job.context.run(job.fn)
                            if connection.needs_rollback:
                                raise RolledBack("the write was rolled back by an error inside it")
                    except BaseException as exc:  # reported to the job's own thread
                        if not savepoints:
                            raise _Replay from exc
                        job.error = exc
                    else:
                        deferred += pending
                    finally:
                        _local.deferred = None
                _apply_deferred(deferred)
        except _Replay:
            raise
        except BaseException as exc:  # the commit itself failed: nobody's write is stored
            for job in batch:
                if job.error is None:
                    job.error = exc
        for job in batch:
            job.lead = False
            job.done.set()


_local = threading.local()


class RolledBack(Exception):
    """A write's block ended normally but left its transaction marked for rollback."""


class _Replay(Exception):
    """A write of a batch run without savepoints failed: undo the batch, run it with them."""


@contextmanager
def _savepoint(cur):
    """One request's share of a group commit: undone alone if it fails.

    Plain SQL rather than a nested ``transaction.atomic``: this runs once per write under the
    writer lock, and Django's savepoint bookkeeping (ids, on-commit hooks, which the store does
    not use) cost more than the two statements. Blocks inside that fail mark the connection
    for rollback (``needs_rollback``); undoing the savepoint clears that mark, as Django does.
    """
    cur.execute("SAVEPOINT ehr_write")
    try:
        yield
        if connection.needs_rollback:
            raise RolledBack("the write was rolled back by an error inside it")
    except BaseException:
        cur.execute("ROLLBACK TO SAVEPOINT ehr_write")
        cur.execute("RELEASE SAVEPOINT ehr_write")
        connection.needs_rollback = False
        raise
    cur.execute("RELEASE SAVEPOINT ehr_write")


def defer_to_commit(apply: Callable[[list], None], items: list) -> bool:
    """Inside a group commit, have ``apply(items)`` run once for the whole group, just before
    the commit (with the items of every write that succeeded, in order). False elsewhere: the
    caller applies the items itself.

    For records every write adds to one place (the audit chain): one read of its head and one
    insert per commit instead of per write.
    """
    pending = getattr(_local, "deferred", None)
    if pending is None:
        return False
    pending.append((apply, items))
    return True


def _apply_deferred(deferred: list[tuple[Callable[[list], None], list]]) -> None:
    grouped: dict[Callable[[list], None], list] = {}
    for apply, items in deferred:
        grouped.setdefault(apply, []).extend(items)
    for apply, items in grouped.items():
        apply(items)


def _outcome(job: _Job):
    if job.error is not None:
        raise job.error
    return job.result


_group = _GroupCommit()


def write_unit(fn: Callable[[], T], *, replayable: bool = False) -> T:
    """Run ``fn`` (a request's whole write) in a transaction; its result once durable.

    ``replayable``: ``fn`` has no effect outside the database transaction, so it may run again
    after a rollback (see ``_GroupCommit``).
    """
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        return _group.run(fn, replayable)
    with transaction.atomic():
        return fn()


class Appender:
    """Group commit for small records of one kind (audit records): concurrent callers' items
    are written by one call of ``apply`` in one transaction, and each caller returns once the
    commit holding its items has succeeded.

    Cheaper than ``write_unit`` for this: no savepoint per caller, and ``apply`` sees the whole
    batch (one read of a chain head, one multi-row insert). The leader waits ``gather`` seconds
    before it takes the queue: on reads at 32 connections, half a millisecond doubles the
    batch and cuts the commits (each one serialised across processes) by half; measured in
    docs/benchmarks.md.
    """

    def __init__(self, apply: Callable[[list], None], gather: float = 0.0005):
        self._apply = apply
        self._gather = gather
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._busy = False

    def submit(self, items: list) -> None:
        if connection.in_atomic_block:  # inside a caller's transaction: join it
            self._apply(items)
            return
        job = _Job(lambda: items)
        with self._lock:
            self._queue.append(job)
            lead = not self._busy
            self._busy = True
        if not lead:
            job.done.wait()
            if not job.lead:
                _outcome(job)
                return
        self._lead()
        _outcome(job)

    def _lead(self) -> None:
        if self._gather:
            time.sleep(self._gather)  # let concurrent callers join this commit
        with self._lock:
            batch, self._queue = self._queue, []
        items = [item for job in batch for item in job.fn()]
        try:
            if connection.vendor == "sqlite":
                with _gate.hold(), transaction.atomic():
                    self._apply(items)
            else:
                with transaction.atomic():
                    self._apply(items)
        except BaseException as exc:
            for job in batch:
                job.error = exc
        with self._lock:
            successor = self._queue[0] if self._queue else None
            if successor is not None:
                successor.lead = True
            else:
                self._busy = False
        for job in batch:
            job.lead = False
            job.done.set()
        if successor is not None:
            successor.done.set()


@contextmanager
def isolated():
    """Like ``atomic``, but a failure inside undoes only this block (a savepoint when nested)."""
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with _gate.hold(), transaction.atomic():
            yield
    else:
        with transaction.atomic():
            yield


@contextmanager
def atomic():
    """A database transaction; on SQLite the outermost one first takes the writer gate."""
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with _gate.hold(), transaction.atomic():
            yield
    elif connection.in_atomic_block:
        # Inside a larger unit (a transaction Bundle, a request): failure undoes the whole unit,
        # so no savepoint is needed here.
        with transaction.atomic(savepoint=False):
            yield
    else:
        with transaction.atomic():
            yield


def lock_key(key: int) -> None:
    """Serialise concurrent writers on one logical key until the transaction ends.

    SQLite transactions are opened IMMEDIATE, so writers are already serialised there.
    """
    if connection.vendor == "postgresql":
        cur = raw_cursor()
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))


def refresh_statistics() -> None:
    """Give the query planner fresh statistics (after migrations and bulk loads).

    Without them SQLite cannot tell a selective index from a broad one. ``analysis_limit``
    keeps the work bounded on large databases.
    """
    cur = raw_cursor()
    if connection.vendor == "sqlite":
        cur.execute("PRAGMA analysis_limit = 1000")
        cur.execute("ANALYZE")
    else:
        cur.execute("ANALYZE")
