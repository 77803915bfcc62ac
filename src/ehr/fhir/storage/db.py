"""Thin access to the database connection Django manages, with the SQL dialect differences."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction


def vendor() -> str:
    return connection.vendor  # "sqlite" or "postgresql"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def raw_cursor() -> Any:
    """A DB-API cursor on Django's connection, bypassing the ORM's per-query wrapper.

    It takes part in whatever ``transaction.atomic`` block is open on the connection.
    """
    connection.ensure_connection()
    return connection.connection.cursor()


def sql(statement: str) -> str:
    """Statements are written with ``?`` placeholders; PostgreSQL (psycopg) wants ``%s``."""
    if connection.vendor == "postgresql":
        return _PG_CACHE.get(statement) or _PG_CACHE.setdefault(
            statement, statement.replace("?", "%s")
        )
    return statement


_PG_CACHE: dict[str, str] = {}


@contextmanager
def atomic():
    with transaction.atomic():
        yield


def lock_key(key: int) -> None:
    """Serialise concurrent writers on one logical key until the transaction ends.

    SQLite transactions are opened IMMEDIATE, so writers are already serialised there.
    """
    if connection.vendor == "postgresql":
        cur = raw_cursor()
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
