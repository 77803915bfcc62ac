"""Audit records as read-only FHIR R4 AuditEvent resources: read and search.

The caller (the FHIR API's router) decides who may reach this (administrators only) and
audits the access like any other read or search; this module does neither.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import orjson
from django.db.models import Q, QuerySet

from ehr.audit.codes import (
    ACTION_SYSTEM,
    actions_for_crude,
    actions_for_subtype,
    codes_for,
    outcome_code,
)
from ehr.audit.models import AuditRecord
from ehr.fhir.api import outcome as oo
from ehr.fhir.api.http import FhirRequest, FhirResponse, http_date
from ehr.fhir.errors import FhirError, MethodNotAllowed, NotFound

RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SECURITY_SOURCE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
CLIENT_SYSTEM = "urn:ehr:oauth-client"
USER_SYSTEM = "urn:ehr:username"

DEFAULT_COUNT = 50
MAX_COUNT = 1000
_IGNORED = frozenset({"_format", "_pretty", "_summary", "_elements", "_total"})


def instant(us: int) -> str:
    """FHIR instant with microseconds, in UTC."""
    dt = datetime.fromtimestamp(us / 1_000_000, UTC).replace(microsecond=us % 1_000_000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def audit_event_resource(row: AuditRecord) -> dict:
    """The AuditEvent for one stored record."""
    crude, type_coding, subtype = codes_for(row.action)
    if subtype and row.action == "search" and not row.resource_type:
        subtype = {**subtype, "code": "search-system"}
    elif subtype and row.action == "history":
        level = "instance" if row.resource_id else "type" if row.resource_type else "system"
        subtype = {**subtype, "code": f"history-{level}"}
    subtypes = [subtype] if subtype else []
    subtypes.append({"system": ACTION_SYSTEM, "code": row.action})

    user: dict = {
        "type": {"coding": [{"system": ROLE_TYPE, "code": "humanuser", "display": "human user"}]},
        "who": (
            {"reference": row.fhir_user, "display": row.username}
            if row.fhir_user
            else {"identifier": {"system": USER_SYSTEM, "value": row.username}}
        ),
        "altId": row.username,
        "name": row.username,
        "requestor": True,
    }
    if row.role:
        user["role"] = [{"text": row.role}]
    if row.source:
        user["network"] = {"address": row.source, "type": "2"}  # 2 = IP address
    agents = [user]
    if row.client_id:
        agents.append(
            {
                "type": {"coding": [{"system": DCM, "code": "110150", "display": "Application"}]},
                "who": {"identifier": {"system": CLIENT_SYSTEM, "value": row.client_id}},
                "name": row.client_id,
                "requestor": False,
            }
        )

    entities = []
    if row.resource_type or row.query:
        entity: dict = {}
        if row.resource_type and row.resource_id:
            ref = f"{row.resource_type}/{row.resource_id}"
            if row.version:
                ref += f"/_history/{row.version}"
            entity["what"] = {"reference": ref}
        if row.resource_type:
            entity["type"] = {"system": RESOURCE_TYPES, "code": row.resource_type}
            entity["role"] = {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"}
        if row.query:
            entity["query"] = base64.b64encode(row.query.encode("utf-8")).decode("ascii")
        entities.append(entity)
    if row.patient:
        entities.append(
            {
                "what": {"reference": f"Patient/{row.patient}"},
                "type": {"system": RESOURCE_TYPES, "code": "Patient"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )

    event: dict = {
        "resourceType": "AuditEvent",
        "id": str(row.seq),
        "meta": {"versionId": "1", "lastUpdated": instant(row.recorded)},
        "type": type_coding,
        "subtype": subtypes,
        "action": crude,
        "recorded": instant(row.recorded),
        "outcome": outcome_code(row.outcome, row.status),
    }
    desc = f"{row.outcome} (HTTP {row.status})"
    event["outcomeDesc"] = f"{desc}: {row.detail}" if row.detail else desc
    event["agent"] = agents
    event["source"] = {
        "site": "EHR",
        "observer": {"display": "EHR audit trail"},
        "type": [{"system": SECURITY_SOURCE, "code": "4", "display": "Application Server"}],
    }
    if entities:
        event["entity"] = entities
    return event


# --- search -------------------------------------------------------------------------------


def _date_range(value: str) -> tuple[int, int]:
    """The half-open range [lo, hi) in UTC microseconds that a FHIR date/dateTime covers."""
    try:
        if len(value) == 4:
            lo = datetime(int(value), 1, 1, tzinfo=UTC)
            hi = datetime(int(value) + 1, 1, 1, tzinfo=UTC)
        elif len(value) == 7:
            y, m = int(value[:4]), int(value[5:7])
            lo = datetime(y, m, 1, tzinfo=UTC)
            hi = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
        elif len(value) == 10:
            lo = datetime.fromisoformat(value).replace(tzinfo=UTC)
            hi = lo + timedelta(days=1)
        else:
            lo = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if lo.tzinfo is None:
                lo = lo.replace(tzinfo=UTC)
            step = timedelta(microseconds=1) if "." in value else timedelta(seconds=1)
            if value.count(":") == 1 and "." not in value:  # hh:mm without seconds
                step = timedelta(minutes=1)
            hi = lo + step
    except ValueError as exc:
        raise FhirError(f"'{value}' is not a valid date or dateTime", expression="date") from exc
    return _us(lo), _us(hi)


def _us(dt: datetime) -> int:
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _date_filter(value: str) -> Q:
    prefix = value[:2] if value[:2] in ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb") else ""
    lo, hi = _date_range(value[len(prefix) :])
    if prefix in ("", "eq"):
        return Q(recorded__gte=lo, recorded__lt=hi)
    if prefix == "ne":
        return ~Q(recorded__gte=lo, recorded__lt=hi)
    if prefix in ("gt", "sa"):
        return Q(recorded__gte=hi)
    if prefix in ("lt", "eb"):
        return Q(recorded__lt=lo)
    if prefix == "ge":
        return Q(recorded__gte=lo)
    return Q(recorded__lt=hi)  # le


def _token(value: str) -> str:
    return value.rsplit("|", 1)[-1]


def _any_of(values: str, build) -> Q:
    q = Q(pk__in=[])
    for v in values.split(","):
        q |= build(v.strip())
    return q


def _outcome_q(code: str) -> Q:
    code = _token(code)
    if code in ("0", "success"):
        return Q(outcome="success")
    if code == "4":
        return ~Q(outcome="success") & Q(status__lt=500)
    if code == "8":
        return ~Q(outcome="success") & Q(status__gte=500)
    if code == "12":
        return Q(pk__in=[])  # never recorded: a major failure stops the server before it
    return Q(outcome=code)


def _agent_q(value: str) -> Q:
    if "/" in value:
        return Q(fhir_user=value)
    return Q(username=value) | Q(client_id=value)


def _action_q(value: str) -> Q:
    value = _token(value)
    acts = actions_for_crude(value) if value in ("C", "R", "U", "D", "E") else [value]
    return Q(action__in=acts)


FILTERS = {
    "date": _date_filter,
    "agent": lambda v: _any_of(v, _agent_q),
    "agent-name": lambda v: _any_of(v, lambda x: Q(username__iexact=x)),
    "patient": lambda v: _any_of(v, lambda x: Q(patient=x.removeprefix("Patient/"))),
    "action": lambda v: _any_of(v, _action_q),
    "subtype": lambda v: _any_of(v, lambda x: Q(action__in=actions_for_subtype(_token(x)))),
    "outcome": lambda v: _any_of(v, _outcome_q),
    "entity-type": lambda v: _any_of(v, lambda x: Q(resource_type=_token(x))),
    "entity": lambda v: _any_of(v, _entity_q),
    "address": lambda v: _any_of(v, lambda x: Q(source=x)),
}


def _entity_q(value: str) -> Q:
    rtype, _, rid = value.partition("/")
    return Q(resource_type=rtype, resource_id=rid.split("/_history/")[0])


def _encode_cursor(recorded: int, seq: int) -> str:
    raw = orjson.dumps([recorded, seq])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(value: str) -> tuple[int, int]:
    try:
        recorded, seq = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return int(recorded), int(seq)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise FhirError("The _cursor is not valid", expression="_cursor") from exc


def search(req: FhirRequest) -> FhirResponse:
    qs: QuerySet = AuditRecord.objects.all()
    unsupported: list[str] = []
    count, descending, cursor = DEFAULT_COUNT, True, None
    for name, value in req.query:
        base = name.split(":", 1)[0]
        if base in FILTERS:
            qs = qs.filter(FILTERS[base](value))
        elif name == "_id":
            qs = qs.filter(seq__in=[int(v) for v in value.split(",") if v.strip().isdigit()])
        elif name == "_count":
            if not value.isdigit():
                raise FhirError("_count must be a whole number", expression="_count")
            count = min(int(value), MAX_COUNT)
        elif name == "_sort":
            if value not in ("date", "-date"):
                raise FhirError("AuditEvent sorts by date or -date", expression="_sort")
            descending = value == "-date"
        elif name == "_cursor":
            cursor = _decode_cursor(value)
        elif name not in _IGNORED:
            unsupported.append(name)
    if cursor is not None:
        r, s = cursor
        if descending:
            qs = qs.filter(Q(recorded__lt=r) | Q(recorded=r, seq__lt=s))
        else:
            qs = qs.filter(Q(recorded__gt=r) | Q(recorded=r, seq__gt=s))
    order = ("-recorded", "-seq") if descending else ("recorded", "seq")
    rows = list(qs.order_by(*order)[: count + 1]) if count else []
    more = len(rows) > count
    rows = rows[:count]

    base_url = req.base_url.rstrip("/")
    kept = [(k, v) for k, v in req.query if k != "_cursor"]

    def link(relation: str, params: list[tuple[str, str]]) -> dict:
        qs_text = urlencode(params)
        return {
            "relation": relation,
            "url": f"{base_url}/AuditEvent" + (f"?{qs_text}" if qs_text else ""),
        }

    links = [link("self", req.query), link("first", kept)]
    if more and rows:
        links.append(
            link("next", [*kept, ("_cursor", _encode_cursor(rows[-1].recorded, rows[-1].seq))])
        )
    entries = [
        {
            "fullUrl": f"{base_url}/AuditEvent/{row.seq}",
            "resource": audit_event_resource(row),
            "search": {"mode": "match"},
        }
        for row in rows
    ]
    if unsupported:
        warning = oo.outcome(
            *[
                oo.issue(
                    "warning",
                    "not-supported",
                    f"Search parameter '{n}' is not supported and was ignored",
                    n,
                )
                for n in unsupported
            ]
        )
        entries.append({"resource": warning, "search": {"mode": "outcome"}})
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    return FhirResponse.json(200, bundle)


def read(seq_text: str) -> FhirResponse:
    row = AuditRecord.objects.filter(seq=int(seq_text)).first() if seq_text.isdigit() else None
    if row is None:
        raise NotFound(f"AuditEvent/{seq_text} is not known")
    resource = audit_event_resource(row)
    headers = {"ETag": 'W/"1"', "Last-Modified": http_date(row.recorded)}
    return FhirResponse.json(200, resource, headers)


def handle_audit_event(req: FhirRequest) -> FhirResponse:
    """Answer ``GET AuditEvent``, ``GET AuditEvent/{id}`` (and its only version); nothing else.

    Errors come back as OperationOutcome responses; no write of any kind is possible.
    """
    try:
        parts = req.parts
        if not parts or parts[0] != "AuditEvent":
            raise NotFound("This handler serves AuditEvent only")
        method = "GET" if req.method == "HEAD" else req.method
        if method == "POST" and parts[1:] == ["_search"]:
            return search(req)  # form-encoded parameters arrive in req.query from the router
        if method != "GET":
            raise MethodNotAllowed(
                "The audit trail is read-only: AuditEvent cannot be created, changed or deleted"
            )
        if len(parts) == 1:
            return search(req)
        if len(parts) == 2:
            return read(parts[1])
        if len(parts) == 4 and parts[2] == "_history":
            if parts[3] != "1":
                raise NotFound(f"AuditEvent/{parts[1]} has only version 1")
            return read(parts[1])
        if len(parts) == 3 and parts[2] == "_history":
            raise MethodNotAllowed("AuditEvent records have no history beyond version 1")
        raise NotFound(f"Unknown path {req.path}")
    except FhirError as err:
        resp = FhirResponse.json(err.status, oo.from_error(err))
        if err.status == 405:
            resp.headers["Allow"] = "GET, HEAD"
        return resp
