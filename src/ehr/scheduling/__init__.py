"""Scheduling: working hours, appointment types, bookings, recurring series, the flow board,
the practice events calendar and iCalendar feeds. See docs/scheduling.md."""
