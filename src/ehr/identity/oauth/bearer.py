"""``authenticate_bearer``: from an ``Authorization: Bearer`` header to a Principal, fast.

Called on every FHIR request. A token is looked up once by its SHA-256 (unique index) and the
resulting Principal is kept in a small in-process cache for a few seconds
(``EHR_TOKEN_CACHE_SECONDS``, default 5), so a busy client costs a hash and a dict look-up;
revocation in this process drops the entry at once, other processes see it within the TTL.
Expiry is checked on every call, cached or not.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from ehr.identity.principal import Principal

CACHE_SECONDS = float(os.environ.get("EHR_TOKEN_CACHE_SECONDS", "5"))
CACHE_MAX = 10_000
REALM = "ehr"

# token hash -> (principal, token expiry as epoch seconds, cache entry valid until)
_cache: dict[str, tuple[Principal, float, float]] = {}


class AuthenticationFailed(Exception):
    """The request's credentials were refused. Send 401 with ``www_authenticate``."""

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        self.error = error

    @property
    def www_authenticate(self) -> str:
        if self.error is None:  # no credentials at all: RFC 6750 3.1 says no error code
            return f'Bearer realm="{REALM}"'
        description = self.message.replace("\\", "").replace('"', "'")
        return f'Bearer realm="{REALM}", error="{self.error}", error_description="{description}"'


def forget(token_hash: str) -> None:
    """Drop a token from this process's cache (after revocation)."""
    _cache.pop(token_hash, None)


def clear_cache() -> None:
    _cache.clear()


def authenticate_bearer(
    authorization_header: str | None, *, source: str | None = None
) -> Principal:
    """The Principal for an ``Authorization`` header value; raise ``AuthenticationFailed``."""
    if not authorization_header:
        raise AuthenticationFailed("No access token was sent.", error=None)
    scheme, _, value = authorization_header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        raise AuthenticationFailed(
            "The Authorization header must be 'Bearer <access token>'.", error="invalid_request"
        )
    token_hash = hashlib.sha256(value.encode()).hexdigest()
    now = time.time()
    hit = _cache.get(token_hash)
    if hit is not None and hit[2] > now:
        principal, expires, _ = hit
        if expires <= now:
            _cache.pop(token_hash, None)
            raise AuthenticationFailed("The access token has expired.")
    else:
        principal, expires = _load(token_hash, now)
        if len(_cache) >= CACHE_MAX:
            _cache.clear()
        _cache[token_hash] = (principal, expires, now + CACHE_SECONDS)
    if source is not None and principal.source != source:
        return _with_source(principal, source)
    return principal


def _with_source(principal: Principal, source: str) -> Principal:
    from dataclasses import replace

    return replace(principal, source=source)


def _load(token_hash: str, now: float) -> tuple[Principal, float]:
    from ehr.identity.oauth.integration import account_of
    from ehr.identity.oauth.models import Token
    from ehr.identity.oauth.scopes import parse_cached

    row = (
        Token.objects.select_related("user", "client")
        .filter(token_hash=token_hash, kind=Token.ACCESS)
        .first()
    )
    if row is None:
        raise AuthenticationFailed("The access token is not known.")
    if row.revoked:
        raise AuthenticationFailed("The access token was revoked.")
    expires = row.expires_at.timestamp()
    if expires <= now:
        raise AuthenticationFailed("The access token has expired.")
    if row.client is not None and not row.client.active:
        raise AuthenticationFailed("The client of this access token was deactivated.")
    client_id = row.client.client_id if row.client is not None else None
    scopes = parse_cached(row.scope)
    token_id = str(row.pk)
    if row.principal_kind == "system":
        return Principal(
            kind="system", username="system", scopes=scopes, client_id=client_id, token_id=token_id
        ), expires
    if row.user is None:
        return Principal(
            kind="client",
            username=client_id or "",
            client_id=client_id,
            scopes=scopes,
            token_id=token_id,
        ), expires
    user = row.user
    if not user.is_active:
        raise AuthenticationFailed("The user's account is disabled.")
    role, fhir_user = account_of(user)
    fhir_user = row.fhir_user or fhir_user
    patient = row.patient or None
    if role == "patient" and fhir_user and fhir_user.startswith("Patient/"):
        patient = fhir_user.split("/", 1)[1]  # a patient's token never reaches another chart
    principal: Any = Principal(
        kind="user",
        username=user.get_username(),
        role=role,
        user_id=user.pk,
        fhir_user=fhir_user,
        client_id=client_id,
        scopes=scopes,
        patient=patient,
        token_id=token_id,
    )
    return principal, expires
