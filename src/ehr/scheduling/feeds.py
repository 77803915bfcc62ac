"""Secret feed tokens for calendar subscriptions.

Calendar apps cannot sign in, so a feed URL carries a per-user secret (``?token=...``). Only
its SHA-256 is stored (a leaked database does not leak working URLs); it can be revoked; it is
honoured only while its account is active and of a staff role. The feeds themselves carry no
patient data (see ``ical``), which keeps the damage of a leaked URL small.
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from ehr.scheduling.models import FeedToken

STAFF_ROLES = ("admin", "provider", "nurse", "front_desk", "biller")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(user: AbstractBaseUser, label: str = "") -> tuple[FeedToken, str]:
    """A new feed token; the secret is returned once and never stored."""
    secret = secrets.token_urlsafe(32)
    token = FeedToken.objects.create(user=user, token_hash=_hash(secret), label=label)
    return token, secret


def revoke(token: FeedToken | int) -> None:
    FeedToken.objects.filter(pk=getattr(token, "pk", token), revoked__isnull=True).update(
        revoked=timezone.now()
    )


def user_for(secret: str | None) -> AbstractBaseUser | None:
    """The account a secret belongs to, if the token is live and the account may see feeds."""
    if not secret or len(secret) > 200:
        return None
    token = (
        FeedToken.objects.select_related("user")
        .filter(token_hash=_hash(secret), revoked__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    account = getattr(token.user, "account", None)
    if account is None or account.role not in STAFF_ROLES:
        return None
    FeedToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
    return token.user
