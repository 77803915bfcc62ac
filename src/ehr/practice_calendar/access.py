"""The events calendar screens read practice events under ``EventsReaderPolicy``, which lives
with the scheduling engine (the calendar feeds use it too)."""

from ehr.scheduling.events_access import EVENTS_ONLY, EventsReaderPolicy, reading_events

__all__ = ["EVENTS_ONLY", "EventsReaderPolicy", "reading_events"]
