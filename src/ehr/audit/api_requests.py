"""Audit records for FHIR API requests: what was asked, by whom, about whom, and how it ended.

One record per request, or one per entry of a transaction or batch Bundle. A successful write
is recorded inside its own transaction; anything else is recorded (durably, by group commit)
before its answer leaves.
"""

from __future__ import annotations

from urllib.parse import urlencode

from ehr.audit.trail import AuditEntry, append, entry_for, record

_WRITE_ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_PATIENT_PARAMS = ("patient", "subject", "beneficiary", "_id")


def classify(method: str, parts: list[str]) -> tuple[str, str | None, str | None, str]:
    """``(action, resource type, id, detail)`` of a request path below /fhir."""
    method = "GET" if method == "HEAD" else method
    if not parts:
        return ("transaction" if method == "POST" else "search"), None, None, ""
    head = parts[0]
    if head == "_history":
        return "history", None, None, ""
    if head.startswith("$") or (len(parts) > 1 and parts[-1].startswith("$")):
        op = parts[-1]
        rtype = head if not head.startswith("$") else None
        rid = parts[1] if len(parts) == 3 else None
        return "operation", rtype, rid, op
    if len(parts) == 1:
        if method == "GET":
            return "search", head, None, ""
        return _WRITE_ACTIONS.get(method, method.lower()), head, None, ""
    second = parts[1]
    if second == "_search":
        return "search", head, None, ""
    if second == "_history":
        return "history", head, None, ""
    if len(parts) == 2:
        if method == "GET":
            return "read", head, second, ""
        return _WRITE_ACTIONS.get(method, method.lower()), head, second, ""
    if parts[2] == "_history":
        return ("vread" if len(parts) == 4 else "history"), head, second, ""
    return "search", parts[2], None, f"in {head}/{second}"  # compartment search


def _outcome(status: int) -> str:
    if status < 400:
        return "success"
    return "denied" if status in (401, 403) else "failed"


def _patient_of(req, rtype: str | None, rid: str | None, policy, stored) -> str | None:
    pid = getattr(policy, "patient", None) if policy is not None else None
    if pid and not pid.startswith("\x00"):
        return pid
    parts = req.parts
    if rtype == "Patient" and rid:
        return rid
    if len(parts) >= 3 and parts[0] == "Patient" and not parts[1].startswith(("$", "_")):
        return parts[1]
    if stored is not None and getattr(stored, "patient", None):
        return stored.patient
    for name, value in req.query:
        base = name.split(":", 1)[0]
        if base in _PATIENT_PARAMS and (base != "_id" or rtype == "Patient"):
            value = value.split(",", 1)[0]
            if base == "_id" or value.startswith("Patient/") or base == "patient":
                return value.removeprefix("Patient/")
    return None


def _entries(req, principal, policy, resp) -> list[AuditEntry]:
    action, rtype, rid, detail = classify(req.method, req.parts)
    stored = resp.stored
    if action == "transaction" and resp.resource and resp.status < 400:
        kind = resp.resource.get("type", "")
        action = "batch" if kind.startswith("batch") else "transaction"
        out = []
        for entry in resp.resource.get("entry") or []:
            response = entry.get("response") or {}
            location = response.get("location") or ""
            bits = location.split("/")
            status = int((response.get("status") or "0").split(" ")[0] or 0)
            if len(bits) >= 2:
                out.append(
                    entry_for(
                        principal,
                        action,
                        outcome=_outcome(status or 200),
                        status=status or 200,
                        resource_type=bits[0],
                        resource_id=bits[1],
                        version=bits[3] if len(bits) >= 4 else None,
                        patient=_patient_of(req, bits[0], bits[1], policy, None),
                    )
                )
        if out:
            return out
    if stored is not None and rid is None:
        rid = stored.id
    version = stored.version if stored is not None else None
    if action == "vread":
        version = req.parts[3]
    return [
        entry_for(
            principal,
            action,
            outcome=_outcome(resp.status),
            status=resp.status,
            resource_type=rtype,
            resource_id=rid,
            version=version,
            query=urlencode(req.query) if req.query else None,
            patient=_patient_of(req, rtype, rid, policy, stored),
            detail=detail,
        )
    ]


def recorder(req, principal, policy):
    """The ``on_outcome`` callback of one API request."""

    def on_outcome(resp, in_transaction: bool) -> None:
        entries = _entries(req, principal, policy, resp)
        if in_transaction:
            append(entries)
        else:
            record(entries)

    return on_outcome


def refused(req, principal, err, source: str | None) -> None:
    """A request turned away before it reached the engine (no or bad token, forbidden)."""
    action, rtype, rid, detail = classify(req.method, req.parts)
    entry = entry_for(
        principal,
        "access-denied",
        outcome="denied",
        status=err.status,
        resource_type=rtype,
        resource_id=rid,
        query=urlencode(req.query) if req.query else None,
        detail=f"{action} {detail}: {err.message}".strip(),
    )
    if principal is None and source:
        entry.source = source
    record([entry])
