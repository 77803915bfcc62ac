"""Every staff role may *see* the practice events, even one that may not read appointments.

Practice events are stored as ``Appointment`` resources tagged ``practice-event`` (see
``ehr.scheduling.events``). A biller's role grants no Appointment access (visits are patient
data), yet the events calendar is practice information every member of staff needs. Rather
than bypassing the engine, the screens wrap the signed-in person's policy: where the role does
not already allow reading or searching Appointments, it may read and search those carrying the
practice-event tag and nothing else. The engine enforces that limit in SQL (a granular
constraint, like a SMART scope's ``?_tag=``), so a visit can never leak through this door.
Writes are untouched: they follow the role alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ehr.fhir import access
from ehr.scheduling.common import TAG_SYSTEM

EVENTS_ONLY = [[("_tag", f"{TAG_SYSTEM}|practice-event")]]


class EventsReaderPolicy:
    """The wrapped policy, plus reading and searching practice events."""

    def __init__(self, base: access.Policy):
        self.base = base

    @property
    def patient(self) -> str | None:
        return self.base.patient

    def _widened(self, action: str, rtype: str) -> bool:
        return (
            rtype == "Appointment" and action in ("r", "s") and not self.base.permits(action, rtype)
        )

    def permits(self, action: str, resource_type: str) -> bool:
        return self.base.permits(action, resource_type) or self._widened(action, resource_type)

    def patient_for(self, action: str, resource_type: str) -> str | None:
        return self.base.patient_for(action, resource_type)

    def constraints(self, action: str, resource_type: str) -> list[list[tuple[str, str]]]:
        if self._widened(action, resource_type):
            return EVENTS_ONLY
        return self.base.constraints(action, resource_type)


@contextmanager
def reading_events() -> Iterator[None]:
    """Run a block with practice events readable (the current policy otherwise unchanged)."""
    base = access.current()
    if base is None:
        yield
        return
    with access.acting_as(EventsReaderPolicy(base)):
        yield
