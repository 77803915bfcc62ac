"""``ehr jobs run`` (the worker) and ``ehr jobs status``; and the worker beside ``ehr serve``.

``ehr serve`` starts the worker as a second process (``ehr jobs run --parent <pid>``) when
``EHR_JOBS_IN_PROCESS=1``, which is the default on SQLite (one machine, ``make run``); on
PostgreSQL the default is off and workers run as their own service (any number of them).
A separate process rather than a thread: the web server forks its own workers, and a
crash or a slow SMTP server in the worker never touches a request.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any


def jobs_in_process() -> bool:
    value = os.environ.get("EHR_JOBS_IN_PROCESS")
    if value is not None:
        return value == "1"
    return not (os.environ.get("EHR_DATABASE_URL") or "").startswith("postgres")


def start_beside_server() -> subprocess.Popen | None:
    """The worker process for ``ehr serve`` (None when not wanted)."""
    if not jobs_in_process():
        return None
    cmd = [sys.executable, "-m", "ehr.cli", "jobs", "run", "--parent", str(os.getpid())]
    print("  Outbox worker:       started beside the server (EHR_JOBS_IN_PROCESS)", flush=True)
    return subprocess.Popen(cmd)


def stop_beside_server(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def add_commands(sub: Any, setup: Any) -> None:
    def run(args: argparse.Namespace) -> int:
        setup()
        import logging

        from ehr.jobs import worker

        logging.getLogger("ehr.jobs").setLevel(logging.INFO)
        n = worker.run(poll=args.poll, batch=args.batch, once=args.once, parent=args.parent)
        if args.once:
            print(f"outbox: {n} message(s) handled")
        return 0

    def status(args: argparse.Namespace) -> int:
        setup()
        from ehr.jobs import outbox

        for name, n in sorted(outbox.counts_by_status().items()):
            print(f"{name:10} {n}")
        return 0

    p = sub.add_parser("jobs", help="background work: the outbox worker")
    jsub = p.add_subparsers(dest="jobs_command", required=True)
    r = jsub.add_parser("run", help="send due outbox messages and run periodic tasks (reminders)")
    r.add_argument("--once", action="store_true", help="one batch and periodic tasks, then exit")
    r.add_argument("--poll", type=float, default=float(os.environ.get("EHR_JOBS_POLL", "2")))
    r.add_argument("--batch", type=int, default=20)
    r.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    r.set_defaults(func=run)
    s = jsub.add_parser("status", help="count outbox messages by status")
    s.set_defaults(func=status)
