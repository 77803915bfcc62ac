"""Validation against the official R4 definitions (structure, bindings, invariants, profiles)."""

from __future__ import annotations

import os


def validation_enabled() -> bool:
    """On unless the operator sets ``EHR_VALIDATION=off`` (for measurements only)."""
    return _ENABLED


_ENABLED = os.environ.get("EHR_VALIDATION", "on").lower() not in ("off", "0", "false", "no")
