"""Tracked sign-in sessions: listing and revocation."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.http import HttpRequest

from ehr.identity.models import UserSession

_engine = import_module(settings.SESSION_ENGINE)


def client_ip(request: HttpRequest) -> str:
    """The client address (the proxy's X-Forwarded-For only when ``EHR_TRUST_PROXY=1``)."""
    if settings.EHR_TRUST_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def track(request: HttpRequest, user) -> UserSession | None:
    key = request.session.session_key
    if not key:
        request.session.save()
        key = request.session.session_key
    if not key:
        return None
    row, _ = UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "ip": client_ip(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
        },
    )
    return row


def revoke(session_key: str) -> None:
    """End one session: its stored data is deleted, so the browser is signed out at once."""
    _engine.SessionStore(session_key).delete()
    UserSession.objects.filter(session_key=session_key).delete()


def revoke_all(user, *, except_key: str | None = None) -> int:
    keys = list(
        UserSession.objects.filter(user=user)
        .exclude(session_key=except_key or "")
        .values_list("session_key", flat=True)
    )
    for key in keys:
        revoke(key)
    return len(keys)


def active_sessions(user) -> list[UserSession]:
    """The user's tracked sessions that still exist in the session store."""
    out = []
    for row in UserSession.objects.filter(user=user):
        if _engine.SessionStore().exists(row.session_key):
            out.append(row)
        else:
            row.delete()  # expired or flushed elsewhere
    return out
