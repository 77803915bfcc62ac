"""A time limit on a search's statements, enforced by the database.

A search that would read most of a large database (a common code with no patient, a chain
from a common name) must not hold a server worker for minutes. The statements of one search
run under a limit (``EHR_SEARCH_SECONDS``, 10 s by default): SQLite is interrupted from its
progress handler, PostgreSQL by ``statement_timeout``. Past it, the search fails with an
OperationOutcome ``too-costly`` that asks for narrower criteria. A total the client did not
ask for is given a shorter limit of its own (``EHR_SEARCH_COUNT_SECONDS``, 1 s); past it, the
page is returned without ``Bundle.total`` instead of failing.

On PostgreSQL, inside the caller's transaction the limit is set in a savepoint, so that a
cancelled statement leaves the transaction usable.
"""

from __future__ import annotations

import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from ehr.fhir.errors import FhirError
from ehr.fhir.storage.db import raw_cursor

# SQLite calls the handler every this many virtual-machine steps (a few microseconds each).
_STEPS = 1000


class TooCostly(FhirError):
    status = 422
    code = "too-costly"


def search_seconds() -> float:
    return settings.EHR_SEARCH_SECONDS


def count_seconds() -> float:
    return settings.EHR_SEARCH_COUNT_SECONDS


@contextmanager
def limit(seconds: float, what: str = "This search") -> Iterator[None]:
    """Statements run inside may take ``seconds`` in all; past that, ``TooCostly``."""
    if seconds <= 0:
        yield
        return
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        deadline = time.monotonic() + seconds
        raw.set_progress_handler(lambda: time.monotonic() > deadline, _STEPS)
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
            raise _too_costly(what, seconds) from None
        finally:
            raw.set_progress_handler(None, 0)
        return
    if connection.vendor != "postgresql":
        yield
        return
    from psycopg import errors as pg_errors

    cur = raw_cursor()
    before = _session_timeout(cur)
    ms = max(1, int(seconds * 1000))
    if not connection.in_atomic_block:
        cur.execute(f"SET statement_timeout = {ms}")
        try:
            yield
        except pg_errors.QueryCanceled:
            raise _too_costly(what, seconds) from None
        finally:
            cur.execute("SET statement_timeout = %s", [before])
        return
    # Inside the caller's transaction: a savepoint, so that a cancelled statement does not
    # abort the transaction, and a limit that ends with it.
    cur.execute("SAVEPOINT ehr_search_budget")
    cur.execute(f"SET LOCAL statement_timeout = {ms}")
    try:
        yield
    except BaseException as exc:
        cur.execute("ROLLBACK TO SAVEPOINT ehr_search_budget")
        cur.execute("RELEASE SAVEPOINT ehr_search_budget")
        if isinstance(exc, pg_errors.QueryCanceled):
            raise _too_costly(what, seconds) from None
        raise
    cur.execute("RELEASE SAVEPOINT ehr_search_budget")
    cur.execute("SET LOCAL statement_timeout = %s", [before])


# The session's own statement_timeout, read once per connection: limits do not nest, and
# nothing else in the server changes it, so each search saves a round trip.
_SESSION_TIMEOUT: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def _session_timeout(cur) -> str:
    raw = connection.connection
    known = _SESSION_TIMEOUT.get(raw)
    if known is None:
        cur.execute("SHOW statement_timeout")
        known = _SESSION_TIMEOUT[raw] = cur.fetchone()[0]
    return known


def _too_costly(what: str, seconds: float) -> TooCostly:
    return TooCostly(
        f"{what} would take longer than {seconds:g} s: it matches too much of the database. "
        "Narrow it (a patient, a date range, a more specific code)."
    )
