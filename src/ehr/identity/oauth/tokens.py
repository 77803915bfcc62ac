"""Issuing, refreshing, revoking and describing tokens; EHR launch contexts.

Access tokens are opaque random strings; the database keeps only their SHA-256. Refresh tokens
are issued for ``offline_access`` (long-lived) and ``online_access`` (valid while the user's
login session lives); both are rotated on use, and presenting an already-rotated refresh token
revokes the whole family (it was stolen or replayed).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from ehr.identity.oauth import bearer
from ehr.identity.oauth.errors import OAuthError
from ehr.identity.oauth.integration import account_of, audit, client_principal, principal_for
from ehr.identity.oauth.keys import ALG, signing_key
from ehr.identity.oauth.models import Client, Launch, Token, digest, new_secret
from ehr.identity.oauth.scopes import ScopeSet

ACCESS_SECONDS = int(os.environ.get("EHR_ACCESS_TOKEN_SECONDS", "3600"))
OFFLINE_REFRESH_DAYS = int(os.environ.get("EHR_REFRESH_TOKEN_DAYS", "90"))
ONLINE_REFRESH_HOURS = 12  # upper bound; the login session usually ends sooner
LAUNCH_SECONDS = 600


@dataclass
class Grant:
    """What an authorization decided: who, which client, which scopes, which context."""

    scopes: ScopeSet
    client: Client | None = None
    user: Any = None
    patient: str = ""
    encounter: str = ""
    fhir_user: str = ""
    session_key: str = ""
    nonce: str = ""
    family: str = ""
    principal_kind: str = "user"


def _new_token(
    grant: Grant, kind: str, lifetime: timedelta, *, scope: str | None = None
) -> tuple[str, Token]:
    value = new_secret()
    row = Token.objects.create(
        token_hash=digest(value),
        kind=kind,
        principal_kind=grant.principal_kind,
        client=grant.client,
        user=grant.user,
        scope=scope if scope is not None else str(grant.scopes),
        patient=grant.patient,
        encounter=grant.encounter,
        fhir_user=grant.fhir_user,
        session_key=grant.session_key if kind == Token.REFRESH else "",
        family=grant.family,
        expires_at=timezone.now() + lifetime,
    )
    return value, row


def issue(grant: Grant, *, issuer: str | None = None, refresh: bool = True) -> dict[str, Any]:
    """Mint the token response (RFC 6749 5.1 plus SMART context) for a grant."""
    grant.family = grant.family or secrets.token_hex(16)
    with transaction.atomic():
        access, row = _new_token(grant, Token.ACCESS, timedelta(seconds=ACCESS_SECONDS))
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_SECONDS,
            "scope": str(grant.scopes),
        }
        if refresh and grant.user is not None:
            if grant.scopes.has("offline_access"):
                value, _ = _new_token(grant, Token.REFRESH, timedelta(days=OFFLINE_REFRESH_DAYS))
                body["refresh_token"] = value
            elif grant.scopes.has("online_access") and grant.session_key:
                value, _ = _new_token(grant, Token.REFRESH, timedelta(hours=ONLINE_REFRESH_HOURS))
                body["refresh_token"] = value
    if grant.patient:
        body["patient"] = grant.patient
    if grant.encounter:
        body["encounter"] = grant.encounter
    if grant.fhir_user and grant.scopes.has("fhirUser"):
        body["fhirUser"] = f"{issuer}/{grant.fhir_user}" if issuer else grant.fhir_user
    if grant.scopes.has("openid") and grant.user is not None and grant.client and issuer:
        body["id_token"] = id_token(grant, issuer)
    who = (
        principal_for(grant.user, client_id=grant.client.client_id if grant.client else None)
        if grant.user is not None
        else client_principal(grant.client.client_id if grant.client else "system")
    )
    audit(
        "token-issued",
        who,
        detail=f"token {row.pk} scope '{body['scope']}'"
        + (f" client {grant.client.client_id}" if grant.client else ""),
        patient=grant.patient or None,
    )
    return body


def id_token(grant: Grant, issuer: str) -> str:
    """OpenID Connect id_token (RS256) with ``fhirUser`` when that scope was granted."""
    key = signing_key()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": str(grant.user.pk),
        "aud": grant.client.client_id if grant.client else "",
        "iat": now,
        "exp": now + ACCESS_SECONDS,
    }
    if grant.nonce:
        claims["nonce"] = grant.nonce
    if grant.scopes.has("fhirUser") and grant.fhir_user:
        claims["fhirUser"] = f"{issuer}/{grant.fhir_user}"
    if grant.scopes.has("profile"):
        claims["preferred_username"] = grant.user.get_username()
        full = grant.user.get_full_name() if hasattr(grant.user, "get_full_name") else ""
        if full:
            claims["name"] = full
    return jwt.encode(claims, key.private_key, algorithm=ALG, headers={"kid": key.kid})


def grant_for_user(user: Any, scopes: ScopeSet, **context: Any) -> Grant:
    _, fhir_user = account_of(user)
    return Grant(scopes=scopes, user=user, fhir_user=fhir_user or "", **context)


# -- refresh --------------------------------------------------------------------------------------


def _session_alive(session_key: str) -> bool:
    from django.conf import settings

    if not session_key:
        return False
    store: type[SessionBase] = import_string(settings.SESSION_ENGINE + ".SessionStore")
    return store().exists(session_key)


def refresh(
    client: Client, value: str, requested: str | None, *, issuer: str | None
) -> dict[str, Any]:
    """Exchange a refresh token for a new access token and a new refresh token."""
    replayed = Token.objects.filter(
        token_hash=digest(value), kind=Token.REFRESH, rotated=True, client=client
    ).first()
    if replayed is not None:  # outside the transaction below: the revocation must stay
        revoke_family(replayed.family)
        audit(
            "token-refused",
            client_principal(client.client_id),
            outcome="failed",
            detail=f"refresh token {replayed.pk} reused after rotation; family revoked",
        )
        raise OAuthError("invalid_grant", "This refresh token was already used.")
    with transaction.atomic():
        row = (
            Token.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(token_hash=digest(value), kind=Token.REFRESH)
            .first()
        )
        if row is None or row.client_id != client.pk:
            raise OAuthError("invalid_grant", "Unknown refresh token.")
        if row.rotated:  # a concurrent exchange of the same token won
            raise OAuthError("invalid_grant", "This refresh token was already used.")
        if row.revoked or row.expires_at <= timezone.now():
            raise OAuthError("invalid_grant", "The refresh token is expired or revoked.")
        if row.session_key and not _session_alive(row.session_key):
            raise OAuthError("invalid_grant", "online_access ended with the user's session.")
        if row.user is not None and not row.user.is_active:
            raise OAuthError("invalid_grant", "The user's account is disabled.")
        granted = ScopeSet.parse(row.scope)
        scopes = granted
        if requested:
            asked = ScopeSet.parse(requested)
            if not asked.issubset(granted):
                raise OAuthError("invalid_scope", "A refresh cannot widen the granted scopes.")
            scopes = asked
        Token.objects.filter(pk=row.pk).update(rotated=True, revoked=True)
        grant = Grant(
            scopes=scopes,
            client=client,
            user=row.user,
            patient=row.patient,
            encounter=row.encounter,
            fhir_user=row.fhir_user,
            session_key=row.session_key,
            family=row.family,
        )
        body = issue(grant, issuer=issuer, refresh=False)
        lifetime = row.expires_at - timezone.now()  # rotation keeps the original lifetime
        new_value, _ = _new_token(grant, Token.REFRESH, lifetime, scope=row.scope)
        body["refresh_token"] = new_value
    return body


# -- revocation and introspection ----------------------------------------------------------------


def revoke_family(family: str) -> None:
    hashes = list(Token.objects.filter(family=family).values_list("token_hash", flat=True))
    Token.objects.filter(family=family).update(revoked=True)
    for h in hashes:
        bearer.forget(h)


def revoke(value: str, client: Client | None, *, actor: Any = None) -> bool:
    """RFC 7009: revoke a token the client owns. Refresh tokens take their family along."""
    h = digest(value)
    row = Token.objects.filter(token_hash=h).first()
    if row is None or (client is not None and row.client_id != client.pk):
        return False
    if row.kind == Token.REFRESH:
        revoke_family(row.family)
    else:
        Token.objects.filter(pk=row.pk).update(revoked=True)
        bearer.forget(h)
    audit(
        "token-revoked",
        actor or client_principal(client.client_id if client else "system"),
        detail=f"{row.kind} token {row.pk}",
    )
    return True


def introspect(value: str, *, issuer: str | None = None) -> dict[str, Any]:
    """RFC 7662 answer for a token (access or refresh)."""
    row = Token.objects.select_related("user", "client").filter(token_hash=digest(value)).first()
    if row is None or row.revoked or row.expires_at <= timezone.now():
        return {"active": False}
    if row.user is not None and not row.user.is_active:
        return {"active": False}
    if row.kind == Token.REFRESH and row.session_key and not _session_alive(row.session_key):
        return {"active": False}
    out: dict[str, Any] = {
        "active": True,
        "scope": row.scope,
        "token_type": "Bearer" if row.kind == Token.ACCESS else "refresh_token",
        "exp": int(row.expires_at.timestamp()),
        "iat": int(row.created.timestamp()),
    }
    if row.client is not None:
        out["client_id"] = row.client.client_id
    if row.user is not None:
        out["username"] = row.user.get_username()
        out["sub"] = str(row.user.pk)
    if issuer:
        out["iss"] = issuer
    if row.patient:
        out["patient"] = row.patient
    if row.encounter:
        out["encounter"] = row.encounter
    if row.fhir_user:
        out["fhirUser"] = f"{issuer}/{row.fhir_user}" if issuer else row.fhir_user
    return out


# -- EHR launch -----------------------------------------------------------------------------------


def create_launch(user: Any, patient_id: str, encounter_id: str | None = None) -> str:
    """A launch handle for an EHR launch: the app passes it back as ``launch`` to authorize.

    Valid for ten minutes and only for the same user.
    """
    handle = new_secret(24)
    Launch.objects.create(
        handle_hash=digest(handle),
        user=user,
        patient=patient_id,
        encounter=encounter_id or "",
        expires_at=timezone.now() + timedelta(seconds=LAUNCH_SECONDS),
    )
    return handle


def resolve_launch(handle: str, user: Any) -> Launch | None:
    launch = Launch.objects.filter(handle_hash=digest(handle)).first()
    if launch is None or launch.user_id != user.pk or launch.expires_at <= timezone.now():
        return None
    return launch


def mint(
    *,
    scopes: ScopeSet,
    user: Any = None,
    client: Client | None = None,
    patient: str = "",
    minutes: int = 60,
    system: bool = False,
) -> tuple[str, Token]:
    """A token for local scripting (``ehr token``); no refresh token."""
    if system:
        grant = Grant(scopes=scopes, client=client, principal_kind="system")
    else:
        grant = grant_for_user(user, scopes, client=client, patient=patient)
    grant.family = secrets.token_hex(16)
    value, row = _new_token(grant, Token.ACCESS, timedelta(minutes=minutes))
    audit(
        "token-issued",
        principal_for(user) if user is not None else client_principal("system"),
        detail=f"token {row.pk} minted on the command line, scope '{scopes}'",
        patient=patient or None,
    )
    return value, row
