"""Writing and clearing the search index rows of one resource version (same transaction)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection

from ehr.fhir.search.index_values import IndexRows, extract
from ehr.fhir.storage.db import sql

INSERTS = {
    "tokens": (
        "INSERT INTO fhir_token (resource_id, seq, resource_type, param, hash_param, hash_value, "
        "hash_sys_value, hash_system, system, code, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "strings": (
        "INSERT INTO fhir_string (resource_id, seq, hash_param, value_norm, value_exact) "
        "VALUES (?, ?, ?, ?, ?)"
    ),
    "dates": (
        "INSERT INTO fhir_date (resource_id, seq, hash_param, low_us, high_us) "
        "VALUES (?, ?, ?, ?, ?)"
    ),
    "numbers": (
        "INSERT INTO fhir_number (resource_id, seq, hash_param, value, low, high) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    ),
    "quantities": (
        "INSERT INTO fhir_quantity (resource_id, seq, hash_param, hash_units, hash_code, value, "
        "low, high) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "references": (
        "INSERT INTO fhir_reference (resource_id, seq, hash_param, target_type, target_id, "
        "target_url) VALUES (?, ?, ?, ?, ?, ?)"
    ),
    "uris": "INSERT INTO fhir_uri (resource_id, seq, hash_param, value) VALUES (?, ?, ?, ?)",
    "composites": (
        "INSERT INTO fhir_composite (resource_id, seq, hash_param, hash_key, low, high) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    ),
}
TEXT_INSERT = "INSERT INTO fhir_text (resource_id, narrative, content) VALUES (?, ?, ?)"
TABLES = (
    "fhir_token", "fhir_string", "fhir_date", "fhir_number", "fhir_quantity", "fhir_reference",
    "fhir_uri", "fhir_composite", "fhir_text",
)  # fmt: skip

# Index rows computed ahead (in an import worker), by id() of the resource dict they belong to.
PRECOMPUTED: ContextVar[dict[int, IndexRows] | None] = ContextVar("precomputed", default=None)


def rows_for(resource_type: str, resource: dict) -> IndexRows:
    ready = PRECOMPUTED.get()
    if ready is not None:
        rows = ready.get(id(resource))
        if rows is not None:
            return rows
    return extract(resource_type, resource)


# While a batch is open (a transaction Bundle), rows gather here and are inserted together.
BATCH: ContextVar[dict[str, list] | None] = ContextVar("index_batch", default=None)


@contextmanager
def batched(cur_factory):
    """Gather the index rows of many writes and insert them with one statement per table.

    The rows are flushed before the block ends, inside the caller's transaction.
    """
    if BATCH.get() is not None:
        yield
        return
    batch: dict[str, list] = {kind: [] for kind in INSERTS}
    batch["text"] = []
    batch["resources"], batch["versions"], batch["compartments"] = [], [], []
    batch["keys"] = []  # keys reserved and not yet used
    token = BATCH.set(batch)
    try:
        yield
        _flush(cur_factory(), batch)
    finally:
        BATCH.reset(token)


RESOURCE_INSERT = (
    "INSERT INTO fhir_resource (id, resource_type, fhir_id, version_id, updated_us, deleted, "
    "patient_key, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
VERSION_INSERT = (
    "INSERT INTO fhir_resource_version (resource_id, resource_type, fhir_id, version_id, "
    "updated_us, method, deleted, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
COMPARTMENT_INSERT = (
    "INSERT INTO fhir_compartment (resource_id, compartment_type, compartment_id) VALUES (?, ?, ?)"
)
KEY_BLOCK = 256


def allocate_key(cur, batch: dict[str, list]) -> int:
    """A primary key for a new resource row, reserved in blocks (one query per block).

    PostgreSQL hands out sequence values; on SQLite the writer holds the database's write lock
    for the whole transaction, so the keys after the current maximum are free.
    """
    keys = batch["keys"]
    if not keys:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence('fhir_resource', 'id')) "
                "FROM generate_series(1, %s)",
                (KEY_BLOCK,),
            )
            keys.extend(r[0] for r in cur.fetchall())
        else:
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM fhir_resource")
            top = max(cur.fetchone()[0], batch.get("top", 0))
            keys.extend(range(top + 1, top + 1 + KEY_BLOCK))
            batch["top"] = top + KEY_BLOCK
        keys.reverse()
    return keys.pop()


def _flush(cur, batch: dict[str, list]) -> None:
    if batch["resources"]:
        cur.executemany(sql(RESOURCE_INSERT), batch["resources"])
        cur.executemany(sql(VERSION_INSERT), batch["versions"])
    if batch["compartments"]:
        cur.executemany(sql(COMPARTMENT_INSERT), batch["compartments"])
    for kind, statement in INSERTS.items():
        if batch[kind]:
            cur.executemany(sql(statement), batch[kind])
    if batch["text"]:
        cur.executemany(
            sql(TEXT_INSERT),
            batch["text"],
        )


def _keyed(pk: int, resource_type: str, kind: str, items: list) -> list[tuple]:
    """Rows ready to insert: the resource key and each row's position lead (tokens also carry
    the resource type). A date value with siblings under the same parameter has a negative
    position (``date_seq``)."""
    if kind == "tokens":
        return [(pk, i, resource_type, *t) for i, t in enumerate(items)]
    if kind == "dates":
        params = Counter(t[0] for t in items)
        return [(pk, date_seq(i, params[t[0]] > 1), *t) for i, t in enumerate(items)]
    return [(pk, i, *t) for i, t in enumerate(items)]


def date_seq(position: int, has_siblings: bool) -> int:
    """A date row's ``seq``: its position, negated (``-position - 1``) when the resource has
    other values of the same parameter. A date window's page meets a resource once, at its
    only value or at its envelope row (``search.window_order``), and tells a sole value by
    ``seq >= 0`` on the index entry itself, rather than by looking up an envelope per row (a
    random read each, on a database larger than memory)."""
    return -position - 1 if has_siblings else position


def write(cur, pk: int, resource_type: str, rows: IndexRows) -> None:
    batch = BATCH.get()
    for kind, statement in INSERTS.items():
        items = getattr(rows, kind)
        if not items:
            continue
        keyed = _keyed(pk, resource_type, kind, items)
        if batch is not None:
            batch[kind].extend(keyed)
        else:
            cur.executemany(sql(statement), keyed)
    if rows.narrative is not None or rows.content is not None:
        text = (pk, rows.narrative, rows.content)
        if batch is not None:
            batch["text"].append(text)
        else:
            cur.execute(
                sql(TEXT_INSERT),
                text,
            )


def clear(cur, pk: int) -> None:
    for table in TABLES:
        cur.execute(sql(f"DELETE FROM {table} WHERE resource_id = ?"), (pk,))
