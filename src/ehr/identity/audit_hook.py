"""Security events of the identity app (sign-in, MFA, permissions, emergency access) go to the
audit trail. Never pass passwords, codes or health data in ``detail``."""

from __future__ import annotations

from typing import Any

from ehr.audit.events import record_event
from ehr.identity.principal import Principal


def audit(action: str, principal: Principal, **kw: Any) -> None:
    """Record one security event; ``kw`` as for ``record_event`` (outcome, detail, resource_*)."""
    record_event(action, principal, **kw)
