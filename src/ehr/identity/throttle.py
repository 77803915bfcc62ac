"""Sign-in lockout: per username (5 failures -> 15 minutes) and per client address.

Counting is by the name typed, whether or not such an account exists, so the answers never tell
an attacker which usernames are real.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ehr.identity.models import LoginThrottle


def _limits() -> tuple[int, int, timedelta]:
    return (
        settings.EHR_LOGIN_MAX_FAILURES,
        settings.EHR_LOGIN_IP_MAX_FAILURES,
        timedelta(minutes=settings.EHR_LOCKOUT_MINUTES),
    )


def user_key(username: str) -> str:
    return "user:" + username.strip().lower()[:150]


def ip_key(ip: str) -> str:
    return "ip:" + (ip or "unknown")


def locked_until(keys: list[str], now: datetime | None = None) -> datetime | None:
    """The latest lock still running on any of ``keys``, or None."""
    now = now or timezone.now()
    rows = LoginThrottle.objects.filter(key__in=keys, locked_until__gt=now)
    return max((r.locked_until for r in rows), default=None)


def record_failure(username: str, ip: str) -> bool:
    """Count one failure for the username and the address; True if that locked the username."""
    max_user, max_ip, window = _limits()
    now = timezone.now()
    newly_locked = False
    with transaction.atomic():
        for key, limit in ((user_key(username), max_user), (ip_key(ip), max_ip)):
            row, _ = LoginThrottle.objects.select_for_update().get_or_create(key=key)
            if now - row.window_start > window or (row.locked_until and row.locked_until <= now):
                row.failures, row.window_start, row.locked_until = 0, now, None
            row.failures += 1
            if row.failures >= limit and row.locked_until is None:
                row.locked_until = now + window
                newly_locked = newly_locked or key.startswith("user:")
            row.save()
    return newly_locked


def clear(username: str) -> None:
    """A successful sign-in forgets the username's failures (not the address's)."""
    LoginThrottle.objects.filter(key=user_key(username)).delete()


def record_key_failure(key: str, limit: int) -> bool:
    """Count one failure under ``key`` (e.g. a token endpoint's client address); True if that
    locked it for the lockout period."""
    _, _, window = _limits()
    now = timezone.now()
    with transaction.atomic():
        row, _ = LoginThrottle.objects.select_for_update().get_or_create(key=key)
        if now - row.window_start > window or (row.locked_until and row.locked_until <= now):
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        locked = row.failures >= limit and row.locked_until is None
        if locked:
            row.locked_until = now + window
        row.save()
    return locked
