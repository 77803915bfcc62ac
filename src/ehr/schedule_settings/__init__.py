"""The administrator's schedule settings: working hours, exceptions and appointment types."""
