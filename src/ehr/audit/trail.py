"""Appending to the hash-chained audit trail.

Every record carries ``hash = SHA-256(canonical(row) including prev_hash)``; the first record
chains from ``GENESIS``. Appends are serialised so the chain never forks: on SQLite the writer
gate (one writer at a time) does it, on PostgreSQL an advisory transaction lock. The head of the
chain (last seq and hash) is kept in ``audit_head`` and moved in the same transaction, which
lets ``verify`` notice records cut off the end.

Two entry points:
- ``append(entries)`` inside the transaction of a write, so the write and its audit record are
  stored together or not at all;
- ``record(entries)`` for reads and other events: durable when it returns, through the group
  commit of ``ehr.fhir.storage.db.Appender``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection

from ehr.fhir.storage.db import Appender, defer_to_commit, lock_key, raw_cursor, sql

GENESIS = "0" * 64
LOCK_KEY = 0x41554454  # "AUDT": the PostgreSQL advisory lock that serialises appends

OUTCOMES = ("success", "denied", "failed")

# Query parameters that must never reach the trail (credentials and secrets). ``code`` stays:
# it is a FHIR search parameter; OAuth authorization codes never pass through ``query``.
_SECRET_PARAMS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "password",
        "assertion",
    }
)

# Bounded columns and their limits (PostgreSQL refuses longer values; SQLite would keep them).
_LIMITS = {
    "action": 32,
    "outcome": 16,
    "username": 150,
    "role": 32,
    "fhir_user": 200,
    "client_id": 200,
    "resource_type": 64,
    "resource_id": 64,
    "version": 64,
    "patient": 64,
    "source": 64,
    "session": 64,
}

COLUMNS = (
    "seq",
    "recorded",
    "action",
    "outcome",
    "status",
    "username",
    "role",
    "fhir_user",
    "client_id",
    "resource_type",
    "resource_id",
    "version",
    "query",
    "patient",
    "source",
    "session",
    "detail",
    "prev_hash",
)
"""The hashed columns, in the canonical order (``hash`` itself is the last column stored)."""

_INSERT = "INSERT INTO audit_record ({}, hash) VALUES ({})".format(
    ", ".join(COLUMNS), ", ".join("?" * (len(COLUMNS) + 1))
)


@dataclass(slots=True)
class AuditEntry:
    """One audit record before it is chained (no seq, no hashes yet)."""

    recorded: int  # UTC microseconds
    action: str
    outcome: str
    status: int
    username: str
    role: str | None = None
    fhir_user: str | None = None
    client_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    version: str | None = None
    query: str | None = None
    patient: str | None = None
    source: str | None = None
    session: str | None = None
    detail: str = ""


def now_us() -> int:
    return time.time_ns() // 1000


def session_hash(token_id: str | None) -> str | None:
    """A stable, non-reversible handle on a token or session id (never the id itself)."""
    if not token_id:
        return None
    return hashlib.sha256(token_id.encode("utf-8", "replace")).hexdigest()[:32]


def clean_query(query: str | None) -> str | None:
    """The query string without credentials (``access_token=...``, ``code=...``, ...)."""
    if not query:
        return query or None
    query = query.lstrip("?")
    kept = [
        part
        for part in query.split("&")
        if part and part.partition("=")[0].strip().lower() not in _SECRET_PARAMS
    ]
    return "&".join(kept) or None


def entry_for(
    principal: Any,
    action: str,
    *,
    outcome: str = "success",
    status: int = 200,
    resource_type: str | None = None,
    resource_id: str | None = None,
    version: str | int | None = None,
    query: str | None = None,
    patient: str | None = None,
    detail: str = "",
) -> AuditEntry:
    """The record of ``action`` by ``principal`` (an ``ehr.identity.principal.Principal``).

    ``patient`` defaults to the principal's patient in context (a SMART patient launch).
    ``principal`` may be None for events without a known caller (anonymous, failed sign-in
    for an unknown name): the record then names ``anonymous``.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
    if principal is None:
        return AuditEntry(
            recorded=now_us(),
            action=action,
            outcome=outcome,
            status=status,
            username="anonymous",
            resource_type=resource_type,
            resource_id=resource_id,
            version=None if version is None else str(version),
            query=clean_query(query),
            patient=_patient_id(patient),
            detail=detail,
        )
    if principal.break_glass:
        detail = f"[break-glass] {detail}".rstrip()
    return AuditEntry(
        recorded=now_us(),
        action=action,
        outcome=outcome,
        status=status,
        username=principal.username,
        role=principal.role,
        fhir_user=principal.fhir_user,
        client_id=principal.client_id,
        resource_type=resource_type,
        resource_id=resource_id,
        version=None if version is None else str(version),
        query=clean_query(query),
        patient=_patient_id(patient or principal.patient),
        source=principal.source,
        session=session_hash(principal.token_id),
        detail=detail,
    )


def _patient_id(patient: str | None) -> str | None:
    if patient and patient.startswith("Patient/"):
        return patient[8:]
    return patient or None


def _text(value: Any, limit: int | None) -> str | None:
    """Values exactly as both databases will give them back (the hash is computed on these)."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if not value.isascii():
        # Lone surrogates cannot be stored; replace them so the stored text hashes the same.
        value = value.encode("utf-8", "replace").decode("utf-8")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        value = value.replace("\x00", "\ufffd")
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return value


def row_hash(values: Sequence[Any]) -> str:
    """SHA-256 of the canonical serialisation of the hashed columns (in ``COLUMNS`` order)."""
    return hashlib.sha256(orjson.dumps(list(values))).hexdigest()


def _row(seq: int, entry: AuditEntry, prev_hash: str) -> list[Any]:
    return [
        seq,
        int(entry.recorded),
        _text(entry.action, 32),
        _text(entry.outcome, 16),
        int(entry.status),
        _text(entry.username, 150) or "",
        _text(entry.role, 32),
        _text(entry.fhir_user, 200),
        _text(entry.client_id, 200),
        _text(entry.resource_type, 64),
        _text(entry.resource_id, 64),
        _text(entry.version, 64),
        _text(entry.query, None),
        _text(entry.patient, 64),
        _text(entry.source, 64),
        _text(entry.session, 64),
        _text(entry.detail, None) or "",
        prev_hash,
    ]


def read_head(cur: Any) -> tuple[int, str]:
    cur.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
    row = cur.fetchone()
    if row is None:  # the migration inserts it; only a damaged database lacks it
        raise RuntimeError("audit_head has no row: the audit trail is damaged (ehr audit verify)")
    return int(row[0]), row[1]


def append(entries: Sequence[AuditEntry]) -> None:
    """Chain ``entries`` onto the trail inside the caller's open transaction.

    In a group commit the entries of all its writes are chained together just before it
    commits (``defer_to_commit``); a write that fails takes its entries with it.
    """
    if not entries:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("audit append() must run inside the write's transaction")
    if defer_to_commit(_append_now, list(entries)):
        return
    _append_now(entries)


def _append_now(entries: Sequence[AuditEntry]) -> None:
    lock_key(LOCK_KEY)  # PostgreSQL; SQLite writers are serialised by the writer gate
    cur = raw_cursor()
    seq, prev = read_head(cur)
    rows = []
    for entry in entries:
        seq += 1
        row = _row(seq, entry, prev)
        prev = row_hash(row)
        row.append(prev)
        rows.append(row)
    cur.executemany(sql(_INSERT), rows)
    cur.execute(sql("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), (seq, prev))


def record(entries: Sequence[AuditEntry]) -> None:
    """Chain ``entries`` in a transaction of their own; durable when this returns.

    On SQLite concurrent callers share one commit (group commit). Inside an open transaction
    the records join it instead (stored when, and only if, it commits).
    """
    if entries:
        _appender.submit(list(entries))


_appender = Appender(append)
