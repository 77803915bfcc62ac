"""Calls the audit trail (``ehr.audit.events.record_event``) when it is installed.

The audit app is built in parallel; until it lands, events are dropped here rather than
breaking sign-in. Never pass passwords, codes or health data in ``detail``.
"""

from __future__ import annotations

import logging
from typing import Any

from ehr.identity.principal import Principal

log = logging.getLogger(__name__)


def _recorder():
    try:
        from ehr.audit.events import record_event
    except ImportError:
        return None
    return record_event


def audit(action: str, principal: Principal, **kw: Any) -> None:
    """Record one security event; ``kw`` as for ``record_event`` (outcome, detail, resource_*)."""
    record = _recorder()
    if record is None:
        return
    record(action, principal, **kw)
