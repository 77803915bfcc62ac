"""Security events outside the FHIR API: sign-in, sign-out, permissions, emergency access, tokens.

Callers (identity, OAuth server) pass the Principal the event concerns; for a failed sign-in
with an unknown name pass a Principal carrying the attempted name (or None). Never pass
passwords, codes or health data in ``detail``.
"""

from __future__ import annotations

from typing import Any

from ehr.audit.trail import entry_for, record

# The status an event is recorded with when the caller does not give one.
_DEFAULT_STATUS = {"success": 200, "denied": 403, "failed": 401}


def record_event(
    action: str,
    principal: Any,
    *,
    outcome: str = "success",
    detail: str = "",
    resource_type: str | None = None,
    resource_id: str | None = None,
    patient: str | None = None,
    status: int | None = None,
    query: str | None = None,
) -> None:
    """Record one event; durable when this returns (or with the caller's open transaction).

    Inside an open transaction (a permission change saved with the change itself) the record
    is stored when, and only if, that transaction commits.
    """
    record(
        [
            entry_for(
                principal,
                action,
                outcome=outcome,
                status=_DEFAULT_STATUS.get(outcome, 200) if status is None else status,
                resource_type=resource_type,
                resource_id=resource_id,
                patient=patient,
                query=query,
                detail=detail,
            )
        ]
    )
