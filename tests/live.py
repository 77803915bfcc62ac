"""Helpers for tests that run the real ``ehr`` command and server in separate processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the kind the suite runs on; yields its URL."""
    base = os.environ.get("EHR_DATABASE_URL", "")
    if base.startswith("postgres"):
        import psycopg

        name = "ehr_live_" + uuid.uuid4().hex[:12]
        admin = base.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            yield base.rsplit("/", 1)[0] + "/" + name
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        yield f"sqlite:///{tmp_path / 'live.sqlite3'}"


def env_for(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["EHR_DATABASE_URL"] = url
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def ehr(url: str, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ehr.cli", *args],
        env=env_for(url),
        capture_output=True,
        text=True,
        check=check,
        **kw,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(url: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ehr.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env_for(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stdout.read().decode()) from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def count_rows(url: str, table: str) -> int:
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(sqlite_path(url)) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def system_token(url: str, scope: str = "system/*.cruds", minutes: int = 600) -> str:
    """A system access token for the live server's database, minted with ``ehr token``."""
    out = ehr(url, "token", "--system", "--scope", scope, "--minutes", str(minutes))
    return out.stdout.strip().splitlines()[-1]
