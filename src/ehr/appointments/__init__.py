"""The appointment book screens: day, multi-provider, week and month views, booking,
the appointment page and drag-and-drop moves, on top of ``ehr.scheduling``."""
