"""Writing and clearing the search index rows of one resource version (same transaction)."""

from __future__ import annotations

from contextvars import ContextVar

from ehr.fhir.search.index_values import IndexRows, extract
from ehr.fhir.storage.db import sql

INSERTS = {
    "tokens": (
        "INSERT INTO fhir_token (resource_id, resource_type, param, hash_param, hash_value, "
        "hash_sys_value, hash_system, system, code, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "strings": (
        "INSERT INTO fhir_string (resource_id, hash_param, value_norm, value_exact) "
        "VALUES (?, ?, ?, ?)"
    ),
    "dates": "INSERT INTO fhir_date (resource_id, hash_param, low_us, high_us) VALUES (?, ?, ?, ?)",
    "numbers": (
        "INSERT INTO fhir_number (resource_id, hash_param, value, low, high) VALUES (?, ?, ?, ?, ?)"
    ),
    "quantities": (
        "INSERT INTO fhir_quantity (resource_id, hash_param, hash_units, hash_code, value, low, "
        "high) VALUES (?, ?, ?, ?, ?, ?, ?)"
    ),
    "references": (
        "INSERT INTO fhir_reference (resource_id, hash_param, target_type, target_id, target_url) "
        "VALUES (?, ?, ?, ?, ?)"
    ),
    "uris": "INSERT INTO fhir_uri (resource_id, hash_param, value) VALUES (?, ?, ?)",
    "composites": (
        "INSERT INTO fhir_composite (resource_id, hash_param, hash_key, low, high) "
        "VALUES (?, ?, ?, ?, ?)"
    ),
}
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


def write(cur, pk: int, resource_type: str, rows: IndexRows) -> None:
    if rows.tokens:
        cur.executemany(sql(INSERTS["tokens"]), [(pk, resource_type, *t) for t in rows.tokens])
    for kind in ("strings", "dates", "numbers", "quantities", "references", "uris", "composites"):
        items = getattr(rows, kind)
        if items:
            cur.executemany(sql(INSERTS[kind]), [(pk, *t) for t in items])
    if rows.narrative is not None or rows.content is not None:
        cur.execute(
            sql("INSERT INTO fhir_text (resource_id, narrative, content) VALUES (?, ?, ?)"),
            (pk, rows.narrative, rows.content),
        )


def clear(cur, pk: int) -> None:
    for table in TABLES:
        cur.execute(sql(f"DELETE FROM {table} WHERE resource_id = ?"), (pk,))
