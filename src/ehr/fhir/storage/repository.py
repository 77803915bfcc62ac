"""The repository: create, read, update, patch, delete and history of FHIR resources.

Every write stores the new current row, its version row and its index rows in the caller's
transaction (``atomic``), so a failure stores nothing. Reads return the stored JSON text as is.

The JSON of the current version is stored once, in ``fhir_resource``; its version row holds
``NULL`` until a later write supersedes it and moves the text there (``_keep_superseded``). Most
resources are written once, so this halves what a create writes and what the database holds;
vread and history take the current row's text for the current version (``_VERSION_CONTENT``).
Rows written before this rule kept their copy, which is read first.
"""

from __future__ import annotations

import re
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

from ehr.fhir import access, definitions, jsonio
from ehr.fhir.errors import FhirError, Gone, NotFound, PreconditionFailed
from ehr.fhir.search.extract import hash64, patient_compartments
from ehr.fhir.storage import index_writer
from ehr.fhir.storage.db import atomic, lock_key, raw_cursor, sql
from ehr.fhir.validation import validation_enabled
from ehr.fhir.validation.issues import ValidationFailed
from ehr.fhir.validation.validator import validate

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True, slots=True)
class Stored:
    """One version of a resource as the store holds it."""

    resource_type: str
    id: str
    version: int
    updated_us: int
    deleted: bool
    content: str | None  # JSON text, None for a deletion
    patient: str | None = None  # the (first) patient whose record it is in, where known

    @property
    def last_updated(self) -> str:
        return format_instant(self.updated_us)

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    def resource(self) -> dict:
        if self.content is None:
            raise Gone(f"{self.resource_type}/{self.id} is deleted")
        return jsonio.loads(self.content)


@lru_cache(maxsize=256)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def format_instant(updated_us: int) -> str:
    """``lastUpdated`` text; every write has a new millisecond, so only the second is cached."""
    return f"{_second(updated_us // 1_000_000)}{updated_us // 1000 % 1000:03d}Z"


_last_ms = 0


def _now_us() -> int:
    """Current time in whole milliseconds (expressed in µs), strictly increasing per process."""
    global _last_ms
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms = _last_ms + 1
    _last_ms = ms
    return ms * 1000


def check_type(resource_type: str) -> None:
    if not definitions.is_resource_type(resource_type):
        raise NotFound(f"Unknown resource type '{resource_type}'")


def check_id(resource_id: str) -> None:
    if not ID_RE.match(resource_id):
        raise FhirError(
            f"Invalid resource id '{resource_id}': 1-64 characters of A-Z, a-z, 0-9, '-' and '.'",
            expression="id",
        )


def new_id() -> str:
    return str(uuid.uuid4())


_READ = (
    "SELECT version_id, updated_us, deleted, content, patient_key FROM fhir_resource "
    "WHERE resource_type = ? AND fhir_id = ?"
)


def read(resource_type: str, resource_id: str) -> Stored:
    """Current version; raises NotFound, or Gone for a deleted resource."""
    cur = raw_cursor()
    cur.execute(sql(_READ), (resource_type, resource_id))
    row = cur.fetchone()
    if row is None:
        check_type(resource_type)
        raise NotFound(f"{resource_type}/{resource_id} not found")
    stored = Stored(resource_type, resource_id, row[0], row[1], bool(row[2]), row[3], row[4])
    if stored.deleted:
        raise Gone(f"{resource_type}/{resource_id} was deleted", status=410)
    check_visible(resource_type, resource_id)
    return stored


def check_visible(resource_type: str, resource_id: str, action: str = "r") -> None:
    """Raise Forbidden unless the caller's policy lets them see this resource (see access)."""
    if access.current() is None:
        return
    access.require(action, resource_type)
    from ehr.fhir.search.engine import visible_ids  # the search builds the policy's SQL

    if resource_id not in visible_ids(resource_type, [resource_id], action):
        raise access.outside_patient(resource_type, resource_id)


def read_any(resource_type: str, resource_id: str) -> Stored | None:
    """Current version including deletions (for conditional logic), or None."""
    cur = raw_cursor()
    cur.execute(sql(_READ), (resource_type, resource_id))
    row = cur.fetchone()
    if row is None:
        return None
    return Stored(resource_type, resource_id, row[0], row[1], bool(row[2]), row[3])


# A version's JSON: its own copy, or the current row's when it is the current version.
_VERSION_CONTENT = "COALESCE(v.content, CASE WHEN v.version_id = r.version_id THEN r.content END)"


def _keep_superseded(cur, pk: int, existing: Stored) -> None:
    """Before the current row changes, its version row receives the JSON it will lose."""
    if existing.content is not None:
        cur.execute(
            sql(
                "UPDATE fhir_resource_version SET content = ? "
                "WHERE resource_id = ? AND version_id = ? AND content IS NULL"
            ),
            (existing.content, pk, existing.version),
        )


def vread(resource_type: str, resource_id: str, version: int) -> Stored:
    cur = raw_cursor()
    cur.execute(
        sql(
            f"SELECT v.version_id, v.updated_us, v.deleted, {_VERSION_CONTENT} "
            "FROM fhir_resource_version v JOIN fhir_resource r ON r.id = v.resource_id "
            "WHERE r.resource_type = ? AND r.fhir_id = ? AND v.version_id = ?"
        ),
        (resource_type, resource_id, version),
    )
    row = cur.fetchone()
    if row is None:
        check_type(resource_type)
        raise NotFound(f"{resource_type}/{resource_id}/_history/{version} not found")
    check_visible(resource_type, resource_id)
    stored = Stored(resource_type, resource_id, row[0], row[1], bool(row[2]), row[3])
    if stored.deleted:
        raise Gone(f"{resource_type}/{resource_id}/_history/{version} is a deletion")
    return stored


def _prepare(
    resource: dict, resource_type: str, resource_id: str, version: int, now_us: int
) -> str:
    return _stamped(resource, resource_type, resource_id, version, format_instant(now_us)).decode()


def _stamped(
    resource: dict, resource_type: str, resource_id: str, version: int, last_updated: str
) -> bytes:
    """The stored JSON of a version: ``resourceType``, ``id`` and ``meta`` first."""
    resource["resourceType"] = resource_type
    resource["id"] = resource_id
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    meta["versionId"] = str(version)
    meta["lastUpdated"] = last_updated
    # Keep ``resourceType`` and ``id`` first and ``meta`` next, as the specification prints them.
    ordered = {"resourceType": resource_type, "id": resource_id, "meta": meta}
    for key, value in resource.items():
        if key not in ordered:
            ordered[key] = value
    resource.clear()
    resource.update(ordered)
    return jsonio.dumps(resource)


def _check_body(resource: object, resource_type: str | None = None) -> str:
    if not isinstance(resource, dict):
        raise FhirError("The body must be a JSON object holding one FHIR resource")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        raise FhirError("The resource has no resourceType", expression="resourceType")
    if resource_type is not None and rtype != resource_type:
        raise FhirError(
            f"resourceType '{rtype}' does not match the URL's type '{resource_type}'",
            expression="resourceType",
        )
    if not definitions.is_resource_type(rtype):
        raise FhirError(f"Unknown resource type '{rtype}'", expression="resourceType")
    return rtype


@dataclass(slots=True)
class _Preflight:
    resource: dict
    patients: list[str]
    rows: index_writer.IndexRows
    new_id: str | None  # the id a create will take (its index rows were computed with it)


# Work done for a write before it queues for the database (see ``preflight``), by id() of the
# resource dict; each entry keeps its dict alive, so an id cannot be reused while it is here.
_PREFLIGHT: dict[int, _Preflight] = {}


@contextmanager
def preflight(resource: object, resource_type: str | None = None, *, creating: bool = False):
    """Validate and compute the index rows of a resource before its write takes the database.

    On SQLite one writer runs at a time, so everything done inside the write's transaction
    stretches the queue. Validation and index extraction depend only on the resource, so the
    request thread does them first, in parallel with other requests; ``_write`` then only
    stores. A resource that fails validation fails here, before it queues. The results are
    dropped when the block ends, whatever happened. For a create (``creating``) the new id is
    chosen here too, and ``create`` takes it.
    """
    if (
        not isinstance(resource, dict)
        or not isinstance(resource.get("resourceType"), str)
        or not definitions.is_resource_type(resource["resourceType"])
        or (resource_type is not None and resource["resourceType"] != resource_type)
    ):
        yield  # the write itself reports what is wrong with the body
        return
    rtype = resource["resourceType"]
    rid = new_id() if creating else resource.get("id")
    if not isinstance(rid, str) or not ID_RE.match(rid):
        rid = new_id()  # a stand-in: the update itself reports a missing or malformed id
    probe = dict(resource)
    _prepare(probe, rtype, rid, 1, _now_us())
    if validation_enabled() and not _PREVALIDATED.get():
        problems = validate(probe)
        if any(i.severity == "error" for i in problems):
            raise ValidationFailed(problems)
    key = id(resource)
    _PREFLIGHT[key] = _Preflight(
        resource,
        patient_compartments(rtype, probe),
        index_writer.rows_for(rtype, probe),
        rid if creating else None,
    )
    try:
        yield
    finally:
        _PREFLIGHT.pop(key, None)


def _preflighted(resource: dict) -> _Preflight | None:
    """What ``preflight`` computed for this very dict (an id() can be reused once it is gone)."""
    ready = _PREFLIGHT.get(id(resource))
    return ready if ready is not None and ready.resource is resource else None


def _write(
    resource_type: str,
    resource_id: str,
    resource: dict,
    existing: Stored | None,
    existing_pk: int | None,
    method: str,
) -> Stored:
    cur = raw_cursor()
    creating = existing is None or existing.deleted
    if access.current() is not None:
        access.require("c" if creating else "u", resource_type)
        if not creating:
            check_visible(resource_type, resource_id, "u")
    version = (existing.version + 1) if existing else 1
    now_us = _now_us()
    if existing is not None and now_us <= existing.updated_us:
        now_us = existing.updated_us + 1000
    ready = _preflighted(resource)
    content = _prepare(resource, resource_type, resource_id, version, now_us)
    if ready is not None:
        patients, rows = ready.patients, ready.rows
    else:
        if validation_enabled() and not _PREVALIDATED.get():
            problems = validate(resource)
            if any(i.severity == "error" for i in problems):
                raise ValidationFailed(problems)
        patients = patient_compartments(resource_type, resource)
        rows = None
    if not access.in_patient_scope(resource_type, resource_id, patients, "c" if creating else "u"):
        raise access.outside_patient(resource_type, resource_id)
    patient_key = patients[0] if patients else None
    batch = index_writer.BATCH.get()
    if existing_pk is None and batch is not None:
        # A Bundle of creates: every row is inserted together when the batch flushes.
        if rows is None:
            rows = index_writer.rows_for(resource_type, resource)
        _add_to_batch(
            cur, batch, resource_type, resource_id, now_us, method, content, patients, rows
        )
        return Stored(resource_type, resource_id, version, now_us, False, content, patient_key)
    if existing_pk is None:
        cur.execute(
            sql(
                "INSERT INTO fhir_resource (resource_type, fhir_id, version_id, updated_us, "
                "deleted, patient_key, content) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
            (resource_type, resource_id, version, now_us, False, patient_key, content),
        )
        pk = cur.fetchone()[0]
    else:
        pk = existing_pk
        if existing is not None:
            _keep_superseded(cur, pk, existing)
        cur.execute(
            sql(
                "UPDATE fhir_resource SET version_id = ?, updated_us = ?, deleted = ?, "
                "patient_key = ?, content = ? WHERE id = ?"
            ),
            (version, now_us, False, patient_key, content, pk),
        )
        _clear_index(cur, pk)
    cur.execute(
        sql(
            "INSERT INTO fhir_resource_version (resource_id, resource_type, fhir_id, version_id, "
            "updated_us, method, deleted, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        (pk, resource_type, resource_id, version, now_us, method, False, None),
    )
    if rows is None:
        rows = index_writer.rows_for(resource_type, resource)
    index_writer.write(cur, pk, resource_type, rows)
    if patients:
        cur.executemany(
            sql(
                "INSERT INTO fhir_compartment (resource_id, compartment_type, compartment_id) "
                "VALUES (?, ?, ?)"
            ),
            [(pk, "Patient", p) for p in patients],
        )
    return Stored(resource_type, resource_id, version, now_us, False, content, patient_key)


def _add_to_batch(
    cur,
    batch: dict,
    resource_type: str,
    resource_id: str,
    now_us: int,
    method: str,
    content: str,
    patients: list[str] | tuple[str, ...],
    rows: index_writer.IndexRows,
) -> None:
    """Queue the rows of a new resource (its version 1) in the open batch (``index_writer``)."""
    pk = index_writer.allocate_key(cur, batch)
    patient_key = patients[0] if patients else None
    batch["resources"].append(
        (pk, resource_type, resource_id, 1, now_us, False, patient_key, content)
    )
    batch["versions"].append((pk, resource_type, resource_id, 1, now_us, method, False, None))
    batch["compartments"].extend([(pk, "Patient", p) for p in patients])
    index_writer.write(cur, pk, resource_type, rows)


# ------------------------------------------------------------------ staged creates (bulk import)

_STAMP = "0000-00-00T00:00:00.000Z"  # as wide as every ``format_instant`` of years 1000-9999
_STAMP_FIELD = b'"lastUpdated":"' + _STAMP.encode() + b'"'


class StagedCreate(NamedTuple):
    """A new resource made ready to store, everything but its time, away from the database.

    An importer's worker processes stage creates (``stage_create``) while its writer stores
    the previous ones (``store_staged``). What crosses between the processes is the JSON text
    and the index rows, not the resource's dict: unpickling a dict tree in the writer cost
    more than storing it.
    """

    resource_type: str
    resource_id: str
    template: bytes  # the stored JSON, with a placeholder where ``meta.lastUpdated`` goes
    stamp_at: int  # offset of the placeholder in ``template``
    patients: tuple[str, ...]
    rows: index_writer.IndexRows


def stage_create(resource: dict, resource_id: str, rows: index_writer.IndexRows) -> StagedCreate:
    """Stage a validated resource for creation with this id (the dict is changed in place)."""
    rtype = _check_body(resource)
    check_id(resource_id)
    template = _stamped(resource, rtype, resource_id, 1, _STAMP)
    # ``meta`` follows ``resourceType`` and ``id``, so the first such field is its own.
    at = template.index(_STAMP_FIELD) + len(b'"lastUpdated":"')
    patients = tuple(patient_compartments(rtype, resource))
    return StagedCreate(rtype, resource_id, template, at, patients, rows)


def store_staged(staged: StagedCreate) -> None:
    """Store a staged create: inside ``atomic()`` and ``index_writer.batched``, with no
    caller identity (the command-line import), since no access rule is checked here."""
    batch = index_writer.BATCH.get()
    if batch is None or access.current() is not None:
        raise RuntimeError("store_staged needs an open index batch and no caller identity")
    now_us = _now_us()
    at, template = staged.stamp_at, staged.template
    stamp = format_instant(now_us).encode()
    content = (template[:at] + stamp + template[at + len(_STAMP) :]).decode()
    _add_to_batch(
        raw_cursor(), batch, staged.resource_type, staged.resource_id, now_us, "POST", content,
        staged.patients, staged.rows,
    )  # fmt: skip


_PREVALIDATED: ContextVar[bool] = ContextVar("prevalidated", default=False)


@contextmanager
def prevalidated(active: bool = True):
    """Writes inside were validated upstream (``prepare_transaction``); skip doing it twice."""
    token = _PREVALIDATED.set(active)
    try:
        yield
    finally:
        _PREVALIDATED.reset(token)


def _clear_index(cur, pk: int) -> None:
    index_writer.clear(cur, pk)
    cur.execute(sql("DELETE FROM fhir_compartment WHERE resource_id = ?"), (pk,))


def _existing_for_update(resource_type: str, resource_id: str) -> tuple[Stored | None, int | None]:
    cur = raw_cursor()
    lock_key(hash64("resource", resource_type, resource_id))
    cur.execute(
        sql(
            "SELECT id, version_id, updated_us, deleted, content FROM fhir_resource "
            "WHERE resource_type = ? AND fhir_id = ?"
        ),
        (resource_type, resource_id),
    )
    row = cur.fetchone()
    if row is None:
        return None, None
    return Stored(resource_type, resource_id, row[1], row[2], bool(row[3]), row[4]), row[0]


def create(resource: dict, *, resource_id: str | None = None) -> Stored:
    """Create with a server-assigned id (or the given one, for transaction placeholders)."""
    rtype = _check_body(resource)
    ready = _preflighted(resource)
    if resource_id is None and ready is not None and ready.new_id:
        resource_id = ready.new_id
    rid = resource_id or new_id()
    with atomic():
        return _write(rtype, rid, resource, None, None, "POST")


def update(
    resource_type: str, resource_id: str, resource: dict, *, if_match: int | None = None
) -> tuple[Stored, bool]:
    """Update, or create with the client's id. Returns ``(stored, created)``."""
    _check_body(resource, resource_type)
    check_id(resource_id)
    body_id = resource.get("id")
    if body_id is not None and body_id != resource_id:
        raise FhirError(
            f"The resource id '{body_id}' does not match the URL's id '{resource_id}'",
            expression="id",
        )
    if body_id is None:
        raise FhirError("An update must carry the resource's id in the body", expression="id")
    with atomic():
        existing, pk = _existing_for_update(resource_type, resource_id)
        if if_match is not None:
            current = existing.version if existing is not None and not existing.deleted else None
            if current != if_match:
                raise PreconditionFailed(
                    f"Version conflict: If-Match asks for version {if_match}, "
                    f"current version is {current if current is not None else 'none'}"
                )
        stored = _write(resource_type, resource_id, resource, existing, pk, "PUT")
        return stored, existing is None or existing.deleted


def delete(resource_type: str, resource_id: str) -> Stored | None:
    """Logical delete: a new version marked deleted. Returns None if nothing was there."""
    check_type(resource_type)
    with atomic():
        existing, pk = _existing_for_update(resource_type, resource_id)
        if existing is None or existing.deleted:
            access.require("d", resource_type)
            return None
        check_visible(resource_type, resource_id, "d")
        cur = raw_cursor()
        version = existing.version + 1
        now_us = max(_now_us(), existing.updated_us + 1000)
        _keep_superseded(cur, pk, existing)
        cur.execute(
            sql(
                "UPDATE fhir_resource SET version_id = ?, updated_us = ?, deleted = ?, "
                "patient_key = NULL, content = NULL WHERE id = ?"
            ),
            (version, now_us, True, pk),
        )
        _clear_index(cur, pk)
        cur.execute(
            sql(
                "INSERT INTO fhir_resource_version (resource_id, resource_type, fhir_id, "
                "version_id, updated_us, method, deleted, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (pk, resource_type, resource_id, version, now_us, "DELETE", True, None),
        )
        return Stored(resource_type, resource_id, version, now_us, True, None)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    key: int
    stored: Stored
    method: str


def history(
    resource_type: str | None = None,
    resource_id: str | None = None,
    *,
    since_us: int | None = None,
    at_most_us: int | None = None,
    before_key: int | None = None,
    count: int = 50,
) -> list[HistoryEntry]:
    """Versions newest first. ``before_key`` pages stably (keys only grow)."""
    where, args = [], []
    if resource_type is not None and resource_id is None:
        where.append("v.resource_type = ?")
        args.append(resource_type)
    if resource_id is not None:
        where.append(
            "v.resource_id = (SELECT id FROM fhir_resource WHERE resource_type = ? AND fhir_id = ?)"
        )
        args.extend([resource_type, resource_id])
    if since_us is not None:
        where.append("v.updated_us >= ?")
        args.append(since_us)
    if at_most_us is not None:
        where.append("v.updated_us <= ?")
        args.append(at_most_us)
    if before_key is not None:
        where.append("v.id < ?")
        args.append(before_key)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    cur = raw_cursor()
    cur.execute(
        sql(
            "SELECT v.id, v.resource_type, v.fhir_id, v.version_id, v.updated_us, v.deleted, "
            f"{_VERSION_CONTENT}, v.method FROM fhir_resource_version v "
            f"JOIN fhir_resource r ON r.id = v.resource_id{clause} ORDER BY v.id DESC LIMIT ?"
        ),
        (*args, count),
    )
    return [
        HistoryEntry(r[0], Stored(r[1], r[2], r[3], r[4], bool(r[5]), r[6]), r[7])
        for r in cur.fetchall()
    ]
