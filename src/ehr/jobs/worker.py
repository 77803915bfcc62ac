"""The worker loop (``ehr jobs run``): send due outbox messages, run periodic tasks.

Periodic tasks are registered by the apps that own them (``register``) from their
``AppConfig.ready``, so this module knows none of them: the flow board registers the
reminder sweep. A task's failure is logged and retried at its next turn; it never stops the
loop. SIGTERM/SIGINT stop the loop after the current batch; a worker killed outright loses
nothing (see ``outbox``: leases).

With ``--parent PID`` (used by ``ehr serve``) the worker also stops when that process is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import close_old_connections, connection

from ehr.jobs import outbox

log = logging.getLogger(__name__)


@dataclass
class Periodic:
    name: str
    fn: Callable[[], object]
    every: float
    last: float = field(default=0.0)


_TASKS: dict[str, Periodic] = {}


def register(name: str, fn: Callable[[], object], every: float) -> None:
    """Run ``fn`` every ``every`` seconds in the worker (replaces a task of the same name)."""
    _TASKS[name] = Periodic(name, fn, every)


def tasks() -> list[Periodic]:
    return list(_TASKS.values())


def run_periodic(now: float | None = None, *, force: bool = False) -> list[str]:
    """Run the tasks whose time has come; returns their names."""
    now = time.monotonic() if now is None else now
    ran = []
    for task in tasks():
        if force or not task.last or now - task.last >= task.every:
            task.last = now
            try:
                task.fn()
            except Exception:
                log.exception("periodic task %s failed", task.name)
            ran.append(task.name)
    return ran


def run(
    *,
    poll: float = 2.0,
    batch: int = 20,
    once: bool = False,
    stop: threading.Event | None = None,
    parent: int | None = None,
) -> int:
    """Loop until stopped; returns the number of messages handled."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    worker = outbox.worker_name()
    handled = 0
    while not stop.is_set():
        if not connection.in_atomic_block:  # (tests run the loop inside a transaction)
            close_old_connections()
        try:
            run_periodic()
            counts = outbox.run_once(batch, worker=worker)
        except Exception:  # the database may be briefly unavailable: try again later
            log.exception("outbox batch failed")
            counts = {}
        n = sum(counts.values())
        handled += n
        if n:
            log.info("outbox: %s", counts)
        if once:
            break
        if parent and os.getppid() != parent:
            break
        if not n:
            stop.wait(poll)
    return handled
