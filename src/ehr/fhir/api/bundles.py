"""Batch and transaction Bundles posted to the server base.

A transaction is all-or-nothing: entries are processed in the order the specification gives
(DELETE, POST, PUT/PATCH, then GET/HEAD) inside one database transaction; ``urn:uuid:`` full URLs
and conditional references (``Patient?identifier=...``) are resolved before anything is written,
and references inside every resource are rewritten to the ids the server assigned. A failure in
any entry rolls back the whole Bundle and is reported with the entry's position.

A batch processes each entry on its own (a savepoint each) and reports each outcome.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import orjson

from ehr.fhir.api import interactions as ix
from ehr.fhir.api.http import FhirRequest, FhirResponse
from ehr.fhir.errors import FhirError, MultipleMatches, NotFound, PreconditionFailed
from ehr.fhir.search import engine as search
from ehr.fhir.storage import index_writer
from ehr.fhir.storage import repository as repo
from ehr.fhir.storage.db import atomic, isolated, lock_key, raw_cursor

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    204: "204 No Content",
    304: "304 Not Modified",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    410: "410 Gone",
    412: "412 Precondition Failed",
    422: "422 Unprocessable Entity",
}


class EntryError(FhirError):
    """An error in one entry of a transaction, named by its position."""

    def __init__(self, index: int, err: FhirError):
        where = f"Bundle.entry[{index}]"
        expr = f"{where}.resource.{err.expression}" if err.expression else where
        super().__init__(f"{where}: {err.message}", expression=expr, status=err.status)
        self.code = err.code
        found = getattr(err, "issues", None)
        if found:
            self.issues = found
            self.prefix = f"{where}.resource" + (
                f".{err.prefix}" if getattr(err, "prefix", "") else ""
            )


@dataclass
class Entry:
    index: int
    method: str
    url: str
    full_url: str | None
    resource: object
    request: dict


def process_bundle(req: FhirRequest) -> FhirResponse:
    bundle = ix.parse_body(req)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError("POST to the base URL expects a Bundle of type batch or transaction")
    btype = bundle.get("type")
    entries = _entries(bundle)
    if btype == "transaction":
        responses = run_transaction(entries, req)
        rtype = "transaction-response"
    elif btype == "batch":
        responses = run_batch(entries, req)
        rtype = "batch-response"
    else:
        raise FhirError(
            f"Bundle.type must be 'batch' or 'transaction', got '{btype}'", expression="type"
        )
    result = {"resourceType": "Bundle", "type": rtype, "entry": responses}
    return ix._json(200, result, req)


def _entries(bundle: dict) -> list[Entry]:
    raw = bundle.get("entry") or []
    if not isinstance(raw, list):
        raise FhirError("Bundle.entry must be an array", expression="Bundle.entry")
    out = []
    for i, e in enumerate(raw):
        where = f"Bundle.entry[{i}]"
        request = e.get("request") if isinstance(e, dict) else None
        if not isinstance(request, dict):
            raise FhirError(f"{where} has no request", expression=f"{where}.request")
        method = request.get("method")
        url = request.get("url")
        if method not in ORDER:
            raise FhirError(
                f"{where}.request.method '{method}' is not one of "
                "GET, HEAD, POST, PUT, PATCH, DELETE",
                expression=f"{where}.request.method",
            )
        if not isinstance(url, str) or not url:
            raise FhirError(f"{where} has no request.url", expression=f"{where}.request.url")
        out.append(Entry(i, method, url, e.get("fullUrl"), e.get("resource"), request))
    return out


def _headers(entry: Entry) -> dict[str, str]:
    h = {}
    r = entry.request
    for key, header in (
        ("ifNoneExist", "if-none-exist"),
        ("ifMatch", "if-match"),
        ("ifNoneMatch", "if-none-match"),
        ("ifModifiedSince", "if-modified-since"),
    ):
        if r.get(key):
            h[header] = r[key]
    return h


def _sub_request(entry: Entry, outer: FhirRequest, url: str | None = None) -> FhirRequest:
    sub = FhirRequest.from_url(
        entry.method,
        _relative(url or entry.url, outer.base_url),
        headers={**_headers(entry), "prefer": outer.header("prefer") or ""},
        base_url=outer.base_url,
    )
    return sub


def _relative(url: str, base: str) -> str:
    if base and url.startswith(base + "/"):
        return url[len(base) + 1 :]
    if url.startswith("http://") or url.startswith("https://"):
        parts = urlsplit(url)
        path = parts.path
        if "/fhir/" in path:
            path = path.split("/fhir/", 1)[1]
        return path + (f"?{parts.query}" if parts.query else "")
    return url.lstrip("/")


def _entry_response(resp: FhirResponse) -> dict:
    out: dict = {"status": STATUS_TEXT.get(resp.status, str(resp.status))}
    if "Location" in resp.headers:
        out["location"] = resp.headers["Location"]
    if "ETag" in resp.headers:
        out["etag"] = resp.headers["ETag"]
    if resp.stored is not None:
        out["lastModified"] = resp.stored.last_updated
    elif "Last-Modified" in resp.headers:
        out["lastModified"] = _iso_from_http(resp.headers["Last-Modified"])
    return out


def _iso_from_http(value: str) -> str:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _response_entry(resp: FhirResponse, full_url: str | None = None) -> dict:
    entry: dict = {}
    if full_url:
        entry["fullUrl"] = full_url
    if resp.body:
        entry["resource"] = orjson.Fragment(resp.body)
    entry["response"] = _entry_response(resp)
    if resp.status >= 400 and resp.body:
        del entry["resource"]
        entry["response"]["outcome"] = orjson.Fragment(resp.body)
    return entry


# ---------------------------------------------------------------------------- batch


def run_batch(entries: list[Entry], outer: FhirRequest) -> list[dict]:
    results: list[dict] = []
    for entry in entries:
        sub = _sub_request(entry, outer)
        try:
            with isolated():
                resp = _run_entry(entry, sub, entry.resource)
                if resp.status >= 400:
                    raise _Rollback(resp)
        except _Rollback as rb:
            resp = rb.response
        except FhirError as err:
            resp = ix.error_response(err)
        results.append(_response_entry(resp, _full_url(resp, outer)))
    return results


class _Rollback(Exception):
    def __init__(self, response: FhirResponse):
        self.response = response


def _run_entry(entry: Entry, sub: FhirRequest, resource: object) -> FhirResponse:
    if entry.method in ("POST", "PUT", "PATCH") and resource is None:
        raise FhirError("The entry has no resource", expression="resource")
    parts = sub.parts
    if entry.method == "POST":
        if len(parts) != 1:
            raise FhirError(f"POST url must be a resource type, got '{entry.url}'")
        repo.check_type(parts[0])
        return ix.create(sub, parts[0], resource)
    if entry.method == "PUT":
        repo.check_type(parts[0])
        if len(parts) == 1:
            return ix.conditional_update(sub, parts[0], resource)
        return ix.update(sub, parts[0], parts[1], resource)
    if entry.method == "PATCH":
        repo.check_type(parts[0])
        patch_body = _patch_operations(resource)
        if len(parts) == 1:
            raise FhirError("Conditional PATCH inside a Bundle is not supported")
        return ix.patch(sub, parts[0], parts[1], patch_body)
    if entry.method == "DELETE":
        repo.check_type(parts[0])
        if len(parts) == 1:
            return ix.conditional_delete(sub, parts[0])
        return ix.delete(sub, parts[0], parts[1])
    sub.method = "GET"
    resp = ix.dispatch(sub)
    if entry.method == "HEAD":
        resp.body = None
    return resp


def _patch_operations(resource: object) -> object:
    """In a Bundle a JSON Patch travels as a Binary whose data is the base64 patch document."""
    if isinstance(resource, dict) and resource.get("resourceType") == "Binary":
        import base64

        try:
            return orjson.loads(base64.b64decode(resource.get("data", "")))
        except Exception:
            raise FhirError("The Binary holding the JSON Patch is not valid base64 JSON") from None
    if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
        raise FhirError("FHIRPath Patch (Parameters) is not supported; use JSON Patch")
    return resource


def _full_url(resp: FhirResponse, outer: FhirRequest) -> str | None:
    loc = resp.headers.get("Location")
    if not loc:
        return None
    return loc.split("/_history/")[0]


# ---------------------------------------------------------------------------- transaction


def run_transaction(
    entries: list[Entry], outer: FhirRequest, *, prepared: bool = False, respond: bool = True
) -> list[dict]:
    """Process a transaction; ``prepared`` entries come from ``prepare_transaction``.

    ``respond=False`` (bulk import) skips building the response entries.
    """
    results: dict[int, dict] = {}
    ready = (
        {id(e.resource): e.request["_index"] for e in entries if "_index" in e.request}
        if prepared
        else None
    )
    token = index_writer.PRECOMPUTED.set(ready)
    try:
        return _run_transaction(entries, outer, prepared, results, respond)
    finally:
        index_writer.PRECOMPUTED.reset(token)


def _run_transaction(
    entries: list[Entry], outer: FhirRequest, prepared: bool, results: dict, respond: bool = True
):
    only_creates = all(e.method == "POST" for e in entries)
    batch = index_writer.batched(raw_cursor) if only_creates else nullcontext()
    with atomic(), repo.prevalidated(prepared), batch:
        id_map = {} if prepared else _assign_ids(entries, outer)
        if not prepared:
            for entry in entries:
                if entry.resource is not None and entry.method in ("POST", "PUT"):
                    _rewrite_references(entry, entry.resource, id_map)
        for entry in sorted(entries, key=lambda e: ORDER[e.method]):
            if not respond and prepared and entry.method == "POST":
                try:
                    repo.create(entry.resource, resource_id=entry.request["_assigned"][0])
                except FhirError as err:
                    raise EntryError(entry.index, err) from None
                continue
            try:
                resp = _transaction_entry(entry, outer, id_map)
            except FhirError as err:
                raise EntryError(entry.index, err) from None
            if resp.status >= 400:
                raise EntryError(entry.index, _error_from(resp))
            if respond:
                results[entry.index] = _response_entry(resp, _full_url(resp, outer))
    return [results[i] for i in range(len(entries))] if respond else []


class NeedsDatabase(Exception):
    """The transaction has conditional parts, which only the database can resolve."""


def prepare_transaction(entries: list[Entry]) -> list[Entry]:
    """Do, without the database, what a plain transaction needs before it is written.

    For Bundles with no conditional create, update, delete or reference (such as the exports
    of other systems and Synthea): assign the ids of POST entries, rewrite ``urn:uuid:``
    references, and validate every resource, so that an importer can run this in another
    process while the database writes the previous Bundle. Raises NeedsDatabase otherwise,
    ValidationFailed (wrapped in EntryError) for an invalid entry.
    """
    from ehr.fhir import definitions
    from ehr.fhir.search.index_values import extract as extract_index
    from ehr.fhir.validation import validation_enabled
    from ehr.fhir.validation.issues import ValidationFailed
    from ehr.fhir.validation.validator import validate

    id_map: dict[str, str] = {}
    seen: set[str] = set()
    for entry in entries:
        if entry.method in ("DELETE", "PATCH", "GET", "HEAD") or "?" in entry.url:
            raise NeedsDatabase
        if entry.request.get("ifNoneExist") or entry.request.get("ifMatch"):
            raise NeedsDatabase
        fu = entry.full_url
        if fu:
            if fu in seen:
                raise EntryError(entry.index, FhirError(f"Duplicate fullUrl '{fu}'"))
            seen.add(fu)
        if entry.method == "POST":
            rtype = entry.url.strip("/")
            try:
                repo.check_type(rtype)
            except FhirError as err:
                raise EntryError(entry.index, err) from None
            if not isinstance(entry.resource, dict) or entry.resource.get("resourceType") != rtype:
                raise EntryError(
                    entry.index,
                    FhirError(
                        f"the resource's resourceType does not match the request url '{entry.url}'",
                        expression="resourceType",
                    ),
                )
            rid = repo.new_id()
            entry.request = {**entry.request, "_assigned": (rid, False)}
            if fu:
                id_map[fu] = f"{rtype}/{rid}"
        elif fu and entry.resource is not None:
            id_map[fu] = entry.url.strip("/")

    def resolve(entry: Entry, ref: str, ids: dict[str, str]) -> str:
        if "?" in ref and not ref.startswith("#"):
            raise NeedsDatabase
        return _resolve(entry, ref, ids)

    for entry in entries:
        resource = entry.resource
        if resource is None or type(resource) is not dict:
            continue
        _rewrite_references(entry, resource, id_map, resolve)
        if entry.method == "POST":
            resource["id"] = entry.request["_assigned"][0]
        if validation_enabled():
            issues = validate(resource)
            if any(i.severity == "error" for i in issues):
                raise EntryError(entry.index, ValidationFailed(issues))
        rtype = resource.get("resourceType")
        if isinstance(rtype, str) and definitions.is_resource_type(rtype):
            entry.request["_index"] = extract_index(rtype, resource)
    return entries


def _error_from(resp: FhirResponse) -> FhirError:
    try:
        issue = orjson.loads(resp.body)["issue"][0]
        return FhirError(issue.get("diagnostics", "failed"), status=resp.status)
    except Exception:
        return FhirError("failed", status=resp.status)


class _Placeholder:
    __slots__ = ("type", "id", "existing")

    def __init__(self, rtype: str, rid: str, existing: bool):
        self.type, self.id, self.existing = rtype, rid, existing


def _assign_ids(entries: list[Entry], outer: FhirRequest) -> dict[str, str]:
    """Decide the id of every POST entry (new, or the match of ifNoneExist) before writing."""
    id_map: dict[str, str] = {}
    seen_full_urls: set[str] = set()
    for entry in entries:
        fu = entry.full_url
        if fu:
            if fu in seen_full_urls:
                raise EntryError(entry.index, FhirError(f"Duplicate fullUrl '{fu}'"))
            seen_full_urls.add(fu)
        if entry.method == "POST":
            try:
                rtype = _relative(entry.url, outer.base_url).split("?")[0].strip("/")
                repo.check_type(rtype)
                condition = entry.request.get("ifNoneExist")
                matched = None
                if condition:
                    params = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
                    lock_key(ix.search_lock(rtype, params))
                    ids = search.match_ids(rtype, params)
                    if len(ids) > 1:
                        raise MultipleMatches(f"ifNoneExist '{condition}' matches several {rtype}")
                    matched = ids[0] if ids else None
            except FhirError as err:
                raise EntryError(entry.index, err) from None
            rid = matched or repo.new_id()
            entry.request = {**entry.request, "_assigned": (rid, matched is not None)}
            if fu:
                id_map[fu] = f"{rtype}/{rid}"
        elif entry.method == "PUT" and fu and entry.resource is not None:
            target = _relative(entry.url, outer.base_url)
            if "?" not in target:
                id_map[fu] = target
    return id_map


def _rewrite_references(
    entry: Entry, resource: object, id_map: dict[str, str], resolver=None
) -> None:
    """Replace ``urn:uuid:`` and conditional references in place, everywhere in the resource."""
    resolve = resolver or _resolve

    def visit(node: dict) -> None:
        ref = node.get("reference")
        if type(ref) is str:
            node["reference"] = resolve(entry, ref, id_map)
        for value in node.values():
            kind = type(value)
            if kind is dict:
                visit(value)
            elif kind is list:
                for item in value:
                    if type(item) is dict:
                        visit(item)

    if type(resource) is dict:
        visit(resource)


def _resolve(entry: Entry, ref: str, id_map: dict[str, str]) -> str:
    if ref in id_map:
        return id_map[ref]
    if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
        raise EntryError(
            entry.index,
            FhirError(f"Reference '{ref}' does not match the fullUrl of any entry"),
        )
    if "?" in ref and not ref.startswith("#"):
        rtype, _, query = ref.partition("?")
        try:
            repo.check_type(rtype)
            ids = search.match_ids(rtype, parse_qsl(query, keep_blank_values=True))
        except FhirError as err:
            raise EntryError(entry.index, err) from None
        if len(ids) != 1:
            kind = "no" if not ids else "several"
            raise EntryError(
                entry.index,
                PreconditionFailed(f"Conditional reference '{ref}' matches {kind} resources"),
            )
        resolved = f"{rtype}/{ids[0]}"
        id_map[ref] = resolved
        return resolved
    return ref


def _transaction_entry(entry: Entry, outer: FhirRequest, id_map: dict[str, str]) -> FhirResponse:
    sub = _sub_request(entry, outer)
    if entry.method == "POST":
        rid, existing = entry.request["_assigned"]
        rtype = sub.parts[0]
        if existing:
            return ix._write_response(sub, repo.read(rtype, rid), 200)
        if not isinstance(entry.resource, dict):
            raise FhirError("The entry has no resource", expression="resource")
        if entry.resource.get("resourceType") != rtype:
            raise FhirError(
                f"resourceType '{entry.resource.get('resourceType')}' does not match "
                f"the request url '{entry.url}'",
                expression="resourceType",
            )
        return ix._write_response(sub, repo.create(entry.resource, resource_id=rid), 201)
    if entry.method in ("GET", "HEAD"):
        try:
            return _run_entry(entry, sub, None)
        except NotFound as err:
            return ix.error_response(err)
    return _run_entry(entry, sub, entry.resource)
