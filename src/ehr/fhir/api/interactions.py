"""The FHIR RESTful interactions: routing a request to the repository and shaping the answer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlencode

import jsonpatch
import orjson

from ehr.fhir import access, definitions, jsonio
from ehr.fhir.api import outcome as oo
from ehr.fhir.api.http import FhirRequest, FhirResponse, http_date
from ehr.fhir.api.subsetting import check_summary, elements, summarize
from ehr.fhir.errors import (
    FhirError,
    Forbidden,
    MethodNotAllowed,
    MultipleMatches,
    NotFound,
    PreconditionFailed,
)
from ehr.fhir.search import engine
from ehr.fhir.search import engine as search
from ehr.fhir.search.extract import hash64
from ehr.fhir.search.query import BASE_URL
from ehr.fhir.storage import repository as repo
from ehr.fhir.storage.db import atomic, lock_key, write_unit
from ehr.fhir.storage.repository import Stored

log = logging.getLogger(__name__)

JSON_TYPES = (
    "application/fhir+json",
    "application/json",
    "application/json-patch+json",
    "text/json",
)


# ---------------------------------------------------------------------------- entry point


def handle(req: FhirRequest) -> FhirResponse:
    noted = [False]
    try:
        _check_format(req)
        if req.method in WRITE_METHODS:
            body = _single_resource_body(req)
            if body is None:
                resp = write_unit(lambda: _dispatch_write(req, None, noted))
            else:
                # A create or update of one resource writes nothing but the database (and its
                # audit entries, in the same transaction): it may run again after a rollback.
                with repo.preflight(body, req.parts[0], creating=req.method == "POST"):
                    resp = write_unit(lambda: _dispatch_write(req, body, noted), replayable=True)
        else:
            resp = dispatch(req)
    except FhirError as err:
        noted[0] = False  # whatever was recorded in the transaction was rolled back with it
        resp = error_response(err)
    except Exception:  # never a stack trace to the client
        noted[0] = False
        log.exception("unhandled error in %s /fhir/%s", req.method, req.path)
        resp = error_response(FhirError("Internal server error", status=500))
    if req.on_outcome is not None and not noted[0]:
        try:
            req.on_outcome(resp, False)
        except Exception:  # no answer leaves without its audit record
            log.exception("could not record the outcome of %s /fhir/%s", req.method, req.path)
            return error_response(FhirError("Internal server error", status=500))
    return resp


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _single_resource_body(req: FhirRequest) -> dict | None:
    """The parsed body of a create (POST [type]) or update (PUT [type]/[id]), else None."""
    parts = req.parts
    if not (
        (req.method == "POST" and len(parts) == 1 and not parts[0].startswith(("$", "_")))
        or (req.method == "PUT" and len(parts) == 2 and not parts[1].startswith(("$", "_")))
    ):
        return None
    body = parse_body(req)
    return body if isinstance(body, dict) else None


def _dispatch_write(req: FhirRequest, body: dict | None, noted: list[bool]) -> FhirResponse:
    """A write request as one unit: an error answer rolls back whatever it had written, and a
    successful one is recorded (``on_outcome``) in the same transaction."""
    noted[0] = False
    resp = dispatch(req, body)
    if resp.status >= 400:
        raise _ErrorAnswer(resp)
    if req.on_outcome is not None:
        req.on_outcome(resp, True)
        noted[0] = True
    return resp


class _ErrorAnswer(FhirError):
    def __init__(self, resp: FhirResponse):
        super().__init__("error answer", status=resp.status)
        self.response = resp


def error_response(err: FhirError) -> FhirResponse:
    if isinstance(err, _ErrorAnswer):
        return err.response
    return FhirResponse.json(err.status, oo.from_error(err))


def _check_format(req: FhirRequest) -> None:
    fmt = req.param("_format") or ""
    accept = req.header("accept") or ""
    if "xml" in fmt or ("xml" in accept and "json" not in accept and "*/*" not in accept):
        raise FhirError("Only JSON is supported (application/fhir+json)", status=406)


def dispatch(req: FhirRequest, body: object | None = None) -> FhirResponse:
    parts = req.parts
    method = "GET" if req.method == "HEAD" else req.method
    if not parts:
        if method == "POST":
            from ehr.fhir.api.bundles import process_bundle

            return process_bundle(req)
        if method == "GET":
            return search_type(req, None, req.query)
        raise MethodNotAllowed(f"{req.method} is not allowed on the base URL")
    head = parts[0]
    if head == "metadata":
        _only(method, "GET")
        from ehr.fhir.api.capability import capability_statement

        return _json(200, capability_statement(req.base_url), req)
    if head == "_history":
        _only(method, "GET")
        return history(req, None, None)
    if head == "$validate":
        return validate_operation(req, None, None)
    if head == "_search":
        _only(method, "POST")
        form = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        return search_type(req, None, req.query + form)
    if head.startswith("$"):
        raise NotFound(f"Operation '{head}' is not supported")
    rtype = head
    repo.check_type(rtype)
    if len(parts) == 1:
        if method == "GET":
            return search_type(req, rtype, req.query)
        if method == "POST":
            return create(req, rtype, body)
        if method == "PUT":
            return conditional_update(req, rtype)
        if method == "DELETE":
            return conditional_delete(req, rtype)
        if method == "PATCH":
            return conditional_patch(req, rtype)
        raise MethodNotAllowed(f"{req.method} is not allowed on /{rtype}")
    second = parts[1]
    if len(parts) == 2:
        if second == "_search":
            _only(method, "POST")
            form = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
            return search_type(req, rtype, req.query + form)
        if second == "_history":
            _only(method, "GET")
            return history(req, rtype, None)
        if second == "$validate":
            return validate_operation(req, rtype, None)
        if second == "$everything":
            _only(method, "GET")
            from ehr.fhir.operations.everything import everything

            return everything(req, rtype, None)
        if second.startswith("$"):
            raise NotFound(f"Operation '{second}' is not supported on {rtype}")
        if method == "GET":
            return read(req, rtype, second)
        if method == "PUT":
            return update(req, rtype, second, body)
        if method == "PATCH":
            return patch(req, rtype, second)
        if method == "DELETE":
            return delete(req, rtype, second)
        raise MethodNotAllowed(f"{req.method} is not allowed on /{rtype}/{second}")
    if parts[2] == "$validate" and len(parts) == 3:
        return validate_operation(req, rtype, second)
    if parts[2] == "$everything" and len(parts) == 3:
        _only(method, "GET")
        from ehr.fhir.operations.everything import everything

        return everything(req, rtype, second)
    if len(parts) in (3, 4) and definitions.is_resource_type(parts[2]):
        # compartment search: /Patient/123/Observation[/_search]
        if len(parts) == 4 and parts[3] != "_search":
            raise NotFound(f"Unknown path /fhir/{req.path}")
        params = req.query
        if len(parts) == 4:
            _only(method, "POST")
            params = params + parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        else:
            _only(method, "GET")
        return search_type(req, parts[2], params, compartment=(rtype, second))
    if parts[2] == "_history":
        _only(method, "GET")
        if len(parts) == 3:
            return history(req, rtype, second)
        if len(parts) == 4:
            return vread(req, rtype, second, parts[3])
    raise NotFound(f"Unknown path /fhir/{req.path}")


def validate_operation(req: FhirRequest, rtype: str | None, rid: str | None) -> FhirResponse:
    """POST [type]/$validate, POST /$validate, and GET/POST [type]/[id]/$validate."""
    from ehr.fhir.operations import validate as validate_op

    method = "GET" if req.method == "HEAD" else req.method
    profiles = [v for k, v in req.query if k == "profile"]
    if method == "GET":
        if rid is None:
            raise MethodNotAllowed("$validate needs a resource: POST it, or name a stored one")
        body = repo.read(rtype, rid).resource()
    elif method == "POST":
        body = parse_body(req)
    else:
        raise MethodNotAllowed(f"{req.method} is not allowed on $validate")
    return _json(200, validate_op.run(body, rtype, profiles), req)


def _only(method: str, allowed: str) -> None:
    if method != allowed:
        raise MethodNotAllowed(f"{method} is not allowed here; use {allowed}")


# ---------------------------------------------------------------------------- shaping answers


def _json(
    status: int, resource: dict, req: FhirRequest, headers: dict | None = None
) -> FhirResponse:
    if _pretty(req):
        return FhirResponse(status, jsonio.dumps(resource, pretty=True), headers or {}, resource)
    return FhirResponse.json(status, resource, headers)


def _pretty(req: FhirRequest) -> bool:
    return req.param("_pretty") == "true"


def _version_headers(stored: Stored, req: FhirRequest, location: bool = False) -> dict[str, str]:
    h = {"ETag": stored.etag, "Last-Modified": http_date(stored.updated_us)}
    if location:
        h["Location"] = (
            f"{req.base_url}/{stored.resource_type}/{stored.id}/_history/{stored.version}"
        )
    return h


def _resource_response(req: FhirRequest, stored: Stored, status: int = 200, **kw) -> FhirResponse:
    """Stored bytes as is, unless the client asked for a subset or pretty printing."""
    headers = _version_headers(stored, req, **kw)
    summary = req.param("_summary")
    check_summary(summary)
    elems = req.param("_elements")
    if summary in (None, "false") and not elems and not _pretty(req):
        return FhirResponse(status, stored.content.encode(), headers)
    resource = stored.resource()
    if summary and summary != "false":
        resource = summarize(resource, summary)
    elif elems:
        resource = elements(resource, [e.strip() for e in elems.split(",") if e.strip()])
    return _json(status, resource, req, headers)


def _write_response(req: FhirRequest, stored: Stored, status: int) -> FhirResponse:
    prefer = _prefer_return(req)
    headers = _version_headers(stored, req, location=True)
    if prefer == "minimal":
        return FhirResponse(status, None, headers, stored=stored)
    if prefer == "OperationOutcome":
        verb = "created" if status == 201 else "updated"
        msg = f"{stored.resource_type}/{stored.id} {verb}, version {stored.version}"
        return _json(status, oo.information(msg), req, headers)
    return FhirResponse(status, stored.content.encode(), headers, stored=stored)


def _prefer_return(req: FhirRequest) -> str:
    prefer = req.header("prefer") or ""
    for token in prefer.split(","):
        key, _, value = token.strip().partition("=")
        if key.strip() == "return":
            return value.strip().strip('"')
    return "representation"


# ---------------------------------------------------------------------------- bodies


def parse_body(req: FhirRequest) -> object:
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    if ctype and ctype not in JSON_TYPES:
        raise FhirError(
            f"Unsupported content type '{ctype}'; send application/fhir+json", status=415
        )
    if not req.body:
        raise FhirError("The request has no body")
    try:
        return jsonio.loads(req.body)
    except jsonio.JSONDecodeError as exc:
        raise FhirError(f"Malformed JSON: {exc}") from None


def _parse_version(value: str | None, header: str) -> int | None:
    if value is None:
        return None
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    v = v.strip('"')
    try:
        return int(v)
    except ValueError:
        raise FhirError(f"{header} must be a version tag such as W/\"3\", got '{value}'") from None


# ---------------------------------------------------------------------------- interactions


def read(req: FhirRequest, rtype: str, rid: str) -> FhirResponse:
    stored = repo.read(rtype, rid)
    if _not_modified(req, stored):
        return FhirResponse(304, None, _version_headers(stored, req))
    return _resource_response(req, stored)


def _not_modified(req: FhirRequest, stored: Stored) -> bool:
    inm = req.header("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/").strip('"') for t in inm.split(",")}
        return str(stored.version) in tags or "*" in tags
    ims = req.header("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return stored.updated_us // 1_000_000 <= int(since.timestamp())
    return False


def vread(req: FhirRequest, rtype: str, rid: str, vid: str) -> FhirResponse:
    try:
        version = int(vid)
    except ValueError:
        raise NotFound(f"Version '{vid}' of {rtype}/{rid} not found") from None
    return _resource_response(req, repo.vread(rtype, rid, version))


def create(req: FhirRequest, rtype: str, body: object | None = None) -> FhirResponse:
    resource = parse_body(req) if body is None else body
    if isinstance(resource, dict) and resource.get("resourceType") != rtype:
        raise FhirError(
            f"resourceType '{resource.get('resourceType')}' does not match "
            f"the URL's type '{rtype}'",
            expression="resourceType",
        )
    condition = req.header("if-none-exist")
    if condition:
        with atomic():
            params = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
            lock_key(search_lock(rtype, params))
            matches = search.match_ids(rtype, params)
            if len(matches) > 1:
                raise MultipleMatches(f"If-None-Exist '{condition}' matches several {rtype}")
            if matches:
                stored = repo.read(rtype, matches[0])
                return _write_response(req, stored, 200)
            stored = repo.create(resource)
        return _write_response(req, stored, 201)
    return _write_response(req, repo.create(resource), 201)


def search_lock(rtype: str, params: list[tuple[str, str]]) -> int:
    return hash64("conditional", rtype, urlencode(sorted(params)))


def update(req: FhirRequest, rtype: str, rid: str, body: object | None = None) -> FhirResponse:
    resource = parse_body(req) if body is None else body
    if_match = _parse_version(req.header("if-match"), "If-Match")
    stored, created = repo.update(rtype, rid, resource, if_match=if_match)
    return _write_response(req, stored, 201 if created else 200)


def conditional_update(req: FhirRequest, rtype: str, body: object | None = None) -> FhirResponse:
    resource = parse_body(req) if body is None else body
    if not req.query:
        raise MethodNotAllowed(f"PUT /{rtype} needs an id or search criteria")
    with atomic():
        lock_key(search_lock(rtype, req.query))
        matches = search.match_ids(rtype, req.query)
        if len(matches) > 1:
            raise MultipleMatches(f"The criteria match several {rtype}; nothing was updated")
        if not isinstance(resource, dict):
            raise FhirError("The body must be a JSON object holding one FHIR resource")
        if matches:
            body_id = resource.get("id")
            if body_id is not None and body_id != matches[0]:
                raise FhirError(
                    f"The body's id '{body_id}' differs from the matching resource '{matches[0]}'",
                    expression="id",
                )
            resource["id"] = matches[0]
            rid = matches[0]
        else:
            rid = resource.get("id") or repo.new_id()
            resource["id"] = rid
        return update(req, rtype, rid, resource)


def delete(req: FhirRequest, rtype: str, rid: str) -> FhirResponse:
    repo.check_id(rid)
    stored = repo.delete(rtype, rid)
    headers = {"ETag": stored.etag} if stored else {}
    return FhirResponse(204, None, headers)


def conditional_delete(req: FhirRequest, rtype: str) -> FhirResponse:
    if not req.query:
        raise MethodNotAllowed(f"DELETE /{rtype} needs search criteria")
    with atomic():
        lock_key(search_lock(rtype, req.query))
        matches = search.match_ids(rtype, req.query)
        if len(matches) > 1:
            raise MultipleMatches(f"The criteria match several {rtype}; nothing was deleted")
        if not matches:
            return FhirResponse(204)
        return delete(req, rtype, matches[0])


def patch(req: FhirRequest, rtype: str, rid: str, body: object | None = None) -> FhirResponse:
    ops = parse_body(req) if body is None else body
    if not isinstance(ops, list):
        raise FhirError(
            "PATCH expects a JSON Patch document (an array of operations, "
            "Content-Type application/json-patch+json)"
        )
    if_match = _parse_version(req.header("if-match"), "If-Match")
    with atomic():
        current = repo.read(rtype, rid)
        if if_match is not None and if_match != current.version:
            raise PreconditionFailed(
                f"Version conflict: If-Match asks for version {if_match}, "
                f"current version is {current.version}"
            )
        try:
            patched = jsonpatch.apply_patch(current.resource(), ops)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise FhirError(f"The patch cannot be applied: {exc}", status=422) from None
        except (TypeError, KeyError, ValueError) as exc:
            raise FhirError(f"Malformed JSON Patch: {exc}") from None
        if not isinstance(patched, dict) or patched.get("resourceType") != rtype:
            raise FhirError("A patch may not change the resourceType", status=422)
        if patched.get("id") != rid:
            raise FhirError("A patch may not change the id", status=422)
        stored, _ = repo.update(rtype, rid, patched, if_match=current.version)
    return _write_response(req, stored, 200)


def conditional_patch(req: FhirRequest, rtype: str) -> FhirResponse:
    if not req.query:
        raise MethodNotAllowed(f"PATCH /{rtype} needs an id or search criteria")
    with atomic():
        matches = search.match_ids(rtype, req.query)
        if len(matches) != 1:
            raise PreconditionFailed(
                f"A conditional patch needs exactly one match; the criteria match {len(matches)}"
            )
        return patch(req, rtype, matches[0])


# ---------------------------------------------------------------------------- search and history


def _bundle_entry(req: FhirRequest, stored: Stored, extra: dict | None = None) -> dict:
    entry: dict = {"fullUrl": f"{req.base_url}/{stored.resource_type}/{stored.id}"}
    if stored.content is not None:
        entry["resource"] = orjson.Fragment(stored.content)
    if extra:
        entry.update(extra)
    return entry


def _link(req: FhirRequest, relation: str, path: str, params: list[tuple[str, str]]) -> dict:
    qs = urlencode(params)
    return {"relation": relation, "url": f"{req.base_url}/{path}" + (f"?{qs}" if qs else "")}


def search_type(
    req: FhirRequest,
    rtype: str | None,
    params: list[tuple[str, str]],
    *,
    compartment: tuple[str, str] | None = None,
) -> FhirResponse:
    """Type, system (``rtype`` None) and compartment searches: a searchset Bundle."""
    summary = req.param("_summary")
    check_summary(summary)
    strict = "handling=strict" in (req.header("prefer") or "").replace(" ", "")
    token = BASE_URL.set(req.base_url)
    try:
        return _search(req, rtype, params, compartment, summary, strict)
    finally:
        BASE_URL.reset(token)


def _search(req, rtype, params, compartment, summary, strict) -> FhirResponse:
    sreq = engine.parse(rtype, params, strict=strict)
    # links carry the page size used: a _count past the largest page is cut to it
    params = [(k, str(sreq.count) if k == "_count" else v) for k, v in params]
    path = rtype or ""
    if compartment is not None:
        ctype, cid = compartment
        path = f"{ctype}/{cid}/{rtype}"
        cond = engine.compartment_condition(ctype, cid, rtype)
        if cond is None:
            raise NotFound(f"{rtype} resources are not part of the {ctype} compartment")
        sreq.extra.append(cond)
    if summary == "count":
        sreq.count = 0
    page = engine.run(sreq)
    links = [_link(req, "self", path, params)]
    base = [(k, v) for k, v in params if k not in ("_offset", "_cursor", "_before")]
    sorted_paging = bool(sreq.sort or sreq.offset)
    if sorted_paging:
        links.append(_link(req, "first", path, base))
        if page.has_more:
            links.append(
                _link(req, "next", path, [*base, ("_offset", str(sreq.offset + sreq.count))])
            )
        if sreq.offset > 0:
            prev = max(0, sreq.offset - sreq.count)
            links.append(_link(req, "previous", path, [*base, ("_offset", str(prev))]))
    else:
        links.append(_link(req, "first", path, base))
        if page.has_more and page.after is not None:
            after = engine.cursor_text(page.after)
            links.append(_link(req, "next", path, [*base, ("_cursor", after)]))
        if page.before is not None:
            before = engine.cursor_text(page.before)
            links.append(_link(req, "previous", path, [*base, ("_before", before)]))
    subset = summary not in (None, "false", "count") or req.param("_elements")
    entries = [_search_entry(req, s, "match", summary, subset) for s in page.rows]
    entries += [_search_entry(req, s, "include", summary, subset) for s in page.included]
    if sreq.unsupported:
        warning = oo.outcome(
            *[
                oo.issue(
                    "warning",
                    "not-supported",
                    f"Search parameter '{n}' is not supported and was ignored",
                    n,
                )
                for n in sreq.unsupported
            ]
        )
        entries.append({"resource": warning, "search": {"mode": "outcome"}})
    bundle: dict = {"resourceType": "Bundle", "type": "searchset"}
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = links
    bundle["entry"] = entries
    return _json(200, bundle, req)


def _search_entry(req: FhirRequest, stored: Stored, mode: str, summary, subset) -> dict:
    extra = {"search": {"mode": mode}}
    if not subset:
        return _bundle_entry(req, stored, extra)
    res = stored.resource()
    if summary and summary != "false":
        res = summarize(res, summary)
    else:
        res = elements(res, req.param("_elements").split(","))
    return {
        "fullUrl": f"{req.base_url}/{stored.resource_type}/{stored.id}",
        "resource": res,
        **extra,
    }


def _parse_instant(value: str, name: str) -> int:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(f"{name} must be a FHIR instant, got '{value}'", expression=name) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000)


def history(req: FhirRequest, rtype: str | None, rid: str | None) -> FhirResponse:
    since = req.param("_since")
    at = req.param("_at")
    count = engine._int("_count", req.param("_count") or "50", 1, engine.MAX_COUNT)
    cursor = req.param("_cursor")
    before = None
    if cursor is not None:
        try:
            before = int(cursor)
        except ValueError:
            raise FhirError("_cursor must come from a paging link", expression="_cursor") from None
    if rid is not None and repo.read_any(rtype, rid) is None:
        raise NotFound(f"{rtype}/{rid} not found")
    if rid is not None:
        repo.check_visible(rtype, rid)
    elif access.patient() is not None:
        raise Forbidden("History across resources is not available with a patient context")
    elif rtype is not None:
        access.require("r", rtype)
    items = repo.history(
        rtype,
        rid,
        since_us=_parse_instant(since, "_since") if since else None,
        at_most_us=_parse_instant(at, "_at") if at else None,
        before_key=before,
        count=count + 1,
    )
    more = len(items) > count
    items = items[:count]
    if rtype is None and access.current() is not None:
        items = [i for i in items if access.permits("r", i.stored.resource_type)]
    path = "/".join(p for p in (rtype, rid, "_history") if p)
    params = [(k, v) for k, v in req.query if k != "_cursor"]
    links = [_link(req, "self", path, req.query), _link(req, "first", path, params)]
    if more:
        links.append(_link(req, "next", path, [*params, ("_cursor", str(items[-1].key))]))
    entries = []
    for item in items:
        s = item.stored
        request = {"method": item.method, "url": f"{s.resource_type}/{s.id}"}
        if item.method == "POST":
            request["url"] = s.resource_type
        status = {"POST": "201 Created", "PUT": "200 OK", "DELETE": "204 No Content"}[item.method]
        if item.method == "PUT" and s.version == 1:
            status = "201 Created"
        entry = _bundle_entry(
            req,
            s,
            {
                "request": request,
                "response": {
                    "status": status,
                    "etag": s.etag,
                    "lastModified": s.last_updated,
                },
            },
        )
        entries.append(entry)
    bundle = {"resourceType": "Bundle", "type": "history", "link": links, "entry": entries}
    return _json(200, bundle, req)
