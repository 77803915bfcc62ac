"""Writes of the events screens: each engine call and its audit record in one transaction, and
the ``.ics`` import preview (the real import, rolled back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ehr.audit.events import record_event
from ehr.fhir.storage import repository
from ehr.fhir.storage.db import atomic, isolated
from ehr.practice_calendar import calendar as cal
from ehr.scheduling import events, ical


def _audit(action: str, principal: Any, event_id: str, detail: str) -> None:
    record_event(
        action, principal, resource_type="Appointment", resource_id=event_id, detail=detail
    )


def create(fields: dict, principal: Any) -> dict:
    with atomic():
        event = events.create_event(**fields)
        _audit("create", principal, event["id"], f"practice event: {fields['title']}")
    return event


def update(event_id: str, fields: dict, principal: Any) -> dict:
    with atomic():
        event = events.update_event(event_id, **fields)
        _audit("update", principal, event_id, f"practice event: {fields['title']}")
    return event


def cancel(event_id: str, reason: str, principal: Any) -> dict:
    with atomic():
        event = events.cancel_event(event_id, reason)
        _audit("update", principal, event_id, "practice event cancelled")
    return event


def delete(event_id: str, principal: Any) -> None:
    with atomic():
        events.delete_event(event_id)
        _audit("delete", principal, event_id, "practice event deleted")


@dataclass
class Preview:
    created: list[cal.EventRow] = field(default_factory=list)
    updated: list[cal.EventRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.created) + len(self.updated)


class _DryRun(Exception):
    pass


def preview_import(data: bytes) -> Preview:
    """What ``ical.import_ics`` would create, update and skip: the engine's own import, run
    and rolled back, so the preview can never disagree with the real thing. Raises
    ``SchedulingError`` for a file that is not iCalendar."""
    out = Preview()
    try:
        with isolated():
            result = ical.import_ics(data)
            made = [repository.read("Appointment", i).resource() for i in result.created]
            changed = [repository.read("Appointment", i).resource() for i in result.updated]
            out.created = cal.ordered(cal.rows(made)) if made else []
            out.updated = cal.ordered(cal.rows(changed)) if changed else []
            out.skipped = list(result.skipped)
            raise _DryRun
    except _DryRun:
        pass
    return out


def run_import(data: bytes, principal: Any, filename: str) -> ical.ImportResult:
    with atomic():
        result = ical.import_ics(data)
        record_event(
            "create",
            principal,
            resource_type="Appointment",
            detail=f"practice events .ics import ({filename}): {len(result.created)} created, "
            f"{len(result.updated)} updated, {len(result.skipped)} skipped",
        )
    return result
