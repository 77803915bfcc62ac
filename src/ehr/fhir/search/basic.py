"""The searches the store answers before the full search engine: ``_id`` and ``identifier``.

They serve type-level search, conditional create/update/delete/patch and conditional
references in transactions. Other parameters are reported back as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ehr.fhir.errors import FhirError, NotSupported
from ehr.fhir.search.extract import INDEXED_TOKEN_PARAMS, hash64
from ehr.fhir.storage.db import raw_cursor, sql
from ehr.fhir.storage.repository import Stored

RESULT_PARAMS = {"_count", "_offset", "_format", "_pretty", "_summary", "_elements", "_total"}
DEFAULT_COUNT = 20
MAX_COUNT = 1000


@dataclass
class Query:
    resource_type: str
    ids: list[list[str]] = field(default_factory=list)  # AND of ORs
    tokens: list[tuple[str, list[tuple[str | None, str]]]] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    unsupported: list[str] = field(default_factory=list)

    @property
    def has_criteria(self) -> bool:
        return bool(self.ids or self.tokens)


def parse(resource_type: str, params: list[tuple[str, str]], *, strict: bool = False) -> Query:
    q = Query(resource_type)
    for name, value in params:
        base = name.split(":", 1)[0]
        if name == "_id":
            q.ids.append([v for v in value.split(",") if v])
        elif base in INDEXED_TOKEN_PARAMS and name == base:
            q.tokens.append((name, [_token(name, v) for v in value.split(",") if v]))
        elif name == "_count":
            q.count = _int(name, value, 0, MAX_COUNT)
        elif name == "_offset":
            q.offset = _int(name, value, 0, 10**9)
        elif name in RESULT_PARAMS:
            continue
        else:
            if strict:
                raise NotSupported(f"Search parameter '{name}' is not supported", expression=name)
            q.unsupported.append(name)
    return q


def _int(name: str, value: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise FhirError(f"{name} must be an integer, got '{value}'", expression=name) from None
    return max(lo, min(hi, n))


def _token(name: str, value: str) -> tuple[str | None, str]:
    if "|" in value:
        system, code = value.split("|", 1)
        if not code:
            raise NotSupported(
                f"{name}={value}: searching by system alone is not supported yet", expression=name
            )
        return system, code  # "" means explicitly no system
    return None, value


def _where(q: Query) -> tuple[str, list]:
    clauses = ["r.resource_type = ?", "r.deleted = ?"]
    args: list = [q.resource_type, False]
    for group in q.ids:
        clauses.append("r.fhir_id IN (" + ",".join("?" * len(group)) + ")")
        args.extend(group)
    for name, values in q.tokens:
        ors = []
        for system, code in values:
            if system is None:
                ors.append("t.hash_value = ?")
                args.append(hash64(q.resource_type, name, code))
            else:
                ors.append("t.hash_sys_value = ?")
                args.append(hash64(q.resource_type, name, system, code))
        clauses.append(
            "r.id IN (SELECT t.resource_id FROM fhir_token t WHERE " + " OR ".join(ors) + ")"
        )
    return " AND ".join(clauses), args


def run(q: Query) -> tuple[list[Stored], int]:
    """One page of matches (in insertion order) and the total count."""
    where, args = _where(q)
    cur = raw_cursor()
    cur.execute(sql(f"SELECT COUNT(*) FROM fhir_resource r WHERE {where}"), args)
    total = cur.fetchone()[0]
    if q.count == 0:
        return [], total
    cur.execute(
        sql(
            "SELECT r.fhir_id, r.version_id, r.updated_us, r.content FROM fhir_resource r "
            f"WHERE {where} ORDER BY r.id LIMIT ? OFFSET ?"
        ),
        (*args, q.count, q.offset),
    )
    rows = [Stored(q.resource_type, r[0], r[1], r[2], False, r[3]) for r in cur.fetchall()]
    return rows, total


def match_ids(resource_type: str, params: list[tuple[str, str]], limit: int = 2) -> list[str]:
    """Ids matching a conditional criterion (every parameter must be understood)."""
    q = parse(resource_type, params, strict=True)
    if not q.has_criteria:
        raise FhirError("A conditional request needs search criteria")
    where, args = _where(q)
    cur = raw_cursor()
    cur.execute(sql(f"SELECT r.fhir_id FROM fhir_resource r WHERE {where} LIMIT ?"), (*args, limit))
    return [r[0] for r in cur.fetchall()]
