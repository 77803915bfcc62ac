"""Registering OAuth clients and authenticating them at the token endpoint.

Client authentication (RFC 6749 2.3, RFC 7523, SMART Backend Services): ``none`` for public
apps (client_id only), ``client_secret_basic`` / ``client_secret_post`` for confidential
symmetric apps, ``private_key_jwt`` with an RS384 or ES384 signed assertion verified against the
client's JWKS, given by value or fetched from its JWKS URL.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import jwt
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from ehr.identity.oauth.errors import OAuthError
from ehr.identity.oauth.integration import audit, principal_for
from ehr.identity.oauth.models import (
    AUTH_BASIC,
    AUTH_JWT,
    AUTH_METHODS,
    AUTH_NONE,
    AUTH_POST,
    CONFIDENTIAL,
    PUBLIC,
    Client,
    UsedAssertion,
)
from ehr.identity.oauth.scopes import ScopeSet

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ("RS384", "ES384")
MAX_ASSERTION_LIFETIME = 300  # SMART: exp no more than five minutes in the future
CLOCK_SKEW = 60
JWKS_CACHE_SECONDS = 300
JWKS_FETCH_TIMEOUT = 5


class ClientInputError(ValueError):
    """Registration data that cannot be accepted; the message is meant for the operator."""


def validate_registration(
    *,
    name: str,
    client_type: str,
    auth_method: str | None,
    redirect_uris: Iterable[str],
    scopes: str,
    jwks: dict | None,
    jwks_url: str,
) -> str:
    """Check registration data; return the effective token endpoint auth method."""
    if not name.strip():
        raise ClientInputError("A client needs a name.")
    if client_type not in (PUBLIC, CONFIDENTIAL):
        raise ClientInputError("The type must be public or confidential.")
    if auth_method is None:
        if client_type == PUBLIC:
            auth_method = AUTH_NONE
        else:
            auth_method = AUTH_JWT if (jwks or jwks_url) else AUTH_BASIC
    if auth_method not in AUTH_METHODS:
        raise ClientInputError(f"Unknown token endpoint auth method '{auth_method}'.")
    if (client_type == PUBLIC) != (auth_method == AUTH_NONE):
        raise ClientInputError(
            "Public clients authenticate with 'none'; confidential clients need a secret or keys."
        )
    if auth_method == AUTH_JWT and not (jwks or jwks_url):
        raise ClientInputError("private_key_jwt needs a JWKS (by value) or a JWKS URL.")
    if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
        raise ClientInputError('The JWKS must be a JSON object with a "keys" list.')
    for uri in redirect_uris:
        parts = urlsplit(uri)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
            raise ClientInputError(
                f"Redirect URI '{uri}' must be an absolute http(s) URL without a fragment."
            )
    ScopeSet.parse(scopes)  # raises ScopeError with a clear message
    return auth_method


def create_client(
    *,
    name: str,
    client_type: str,
    redirect_uris: Iterable[str] = (),
    scopes: str = "",
    auth_method: str | None = None,
    jwks: dict | None = None,
    jwks_url: str = "",
    launch_url: str = "",
    actor: object = None,
) -> tuple[Client, str | None]:
    """Register a client. Returns it and its secret (only for symmetric clients, shown once)."""
    uris = [u.strip() for u in redirect_uris if u.strip()]
    method = validate_registration(
        name=name,
        client_type=client_type,
        auth_method=auth_method,
        redirect_uris=uris,
        scopes=scopes,
        jwks=jwks,
        jwks_url=jwks_url,
    )
    client = Client(
        client_id=secrets.token_urlsafe(16),
        name=name.strip(),
        client_type=client_type,
        token_endpoint_auth_method=method,
        redirect_uris=uris,
        allowed_scopes=str(ScopeSet.parse(scopes)),
        jwks=jwks,
        jwks_url=jwks_url,
        launch_url=launch_url,
    )
    secret = client.set_secret() if method in (AUTH_BASIC, AUTH_POST) else None
    client.save()
    audit(
        "client-change",
        actor if actor is not None else principal_for(None),
        detail=f"client {client.client_id} '{client.name}' ({client_type}, {method})",
    )
    return client, secret


# -- authentication at the token, introspection and revocation endpoints -----------------------


def _basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client("The Basic credentials are not valid base64.", basic=True) from None
    cid, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid_client("The Basic credentials need client_id:secret.", basic=True)
    return unquote(cid), unquote(secret)


def _invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    headers = {"WWW-Authenticate": 'Basic realm="ehr"'} if basic else {}
    return OAuthError("invalid_client", description, status=401, headers=headers)


def authenticate_client(
    request: HttpRequest, audiences: Iterable[str], *, required: bool = True
) -> Client | None:
    """The client making this request, authenticated by its registered method.

    ``audiences``: acceptable ``aud`` values of a client assertion (the token endpoint URL).
    ``required=False`` returns None when no client credentials at all were sent.
    """
    form = request.POST
    basic = _basic_credentials(request)
    assertion = form.get("client_assertion")
    if assertion is not None or form.get("client_assertion_type"):
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise _invalid_client(f"client_assertion_type must be {ASSERTION_TYPE}.")
        client = verify_assertion(assertion or "", list(audiences))
        _check_method(client, AUTH_JWT)
        return client
    if basic is not None:
        cid, secret = basic
        client = _active_client(cid, basic=True)
        _check_method(client, AUTH_BASIC, basic=True)
        if not client.check_secret(secret):
            raise _invalid_client("The client secret is wrong.", basic=True)
        return client
    cid = form.get("client_id")
    if not cid:
        if required:
            raise _invalid_client("The client did not identify itself (client_id).")
        return None
    client = _active_client(cid)
    if "client_secret" in form:
        _check_method(client, AUTH_POST)
        if not client.check_secret(form["client_secret"]):
            raise _invalid_client("The client secret is wrong.")
        return client
    _check_method(client, AUTH_NONE)
    return client


def _active_client(cid: str, *, basic: bool = False) -> Client:
    client = Client.objects.filter(client_id=cid).first()
    if client is None or not client.active:
        raise _invalid_client(f"Unknown or inactive client '{cid}'.", basic=basic)
    return client


def _check_method(client: Client, used: str, *, basic: bool = False) -> None:
    if client.token_endpoint_auth_method != used:
        raise _invalid_client(
            f"This client is registered to authenticate with "
            f"{client.token_endpoint_auth_method}, not {used}.",
            basic=basic,
        )


# -- client assertions (private_key_jwt) ---------------------------------------------------------

_jwks_clients: dict[str, jwt.PyJWKClient] = {}
_jwks_lock = threading.Lock()


def _jwks_client(url: str) -> jwt.PyJWKClient:
    with _jwks_lock:
        found = _jwks_clients.get(url)
        if found is None:
            found = jwt.PyJWKClient(
                url, cache_jwk_set=True, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_FETCH_TIMEOUT
            )
            _jwks_clients[url] = found
        return found


def _candidate_keys(client: Client, header: dict, assertion: str) -> list[jwt.PyJWK]:
    kid = header.get("kid")
    if client.jwks:
        try:
            keyset = jwt.PyJWKSet.from_dict(client.jwks)
        except jwt.PyJWKSetError as e:
            raise _invalid_client(f"The client's registered JWKS is unusable: {e}") from None
        keys = list(keyset.keys)
    elif client.jwks_url:
        try:
            keys = _jwks_client(client.jwks_url).get_signing_keys(refresh=False)
            if kid and not any(k.key_id == kid for k in keys):
                keys = _jwks_client(client.jwks_url).get_signing_keys(refresh=True)
        except jwt.PyJWKClientError as e:
            raise _invalid_client(f"The client's JWKS could not be fetched: {e}") from None
    else:
        raise _invalid_client("The client has no keys registered.")
    if kid:
        keys = [k for k in keys if k.key_id == kid]
    want_kty = "RSA" if header.get("alg", "").startswith("RS") else "EC"
    keys = [k for k in keys if k.key_type == want_kty]
    if not keys:
        raise _invalid_client(f"No registered key matches kid '{kid}' and alg {header.get('alg')}.")
    return keys


def verify_assertion(assertion: str, audiences: list[str]) -> Client:
    """Verify a client assertion JWT (RFC 7523) and record its jti; return the client."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as e:
        raise _invalid_client(f"The client assertion is not a JWT: {e}") from None
    alg = header.get("alg")
    if alg not in ASSERTION_ALGS:
        raise _invalid_client(f"Client assertions must be signed RS384 or ES384, not {alg}.")
    iss, sub = unverified.get("iss"), unverified.get("sub")
    if not iss or iss != sub:
        raise _invalid_client("The client assertion needs iss and sub, both the client_id.")
    client = _active_client(str(iss))
    last_error: Exception | None = None
    claims: dict | None = None
    for key in _candidate_keys(client, header, assertion):
        try:
            claims = jwt.decode(
                assertion,
                key=key,
                algorithms=[alg],
                audience=audiences,
                issuer=client.client_id,
                leeway=CLOCK_SKEW,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
            break
        except jwt.InvalidSignatureError as e:
            last_error = e
        except jwt.PyJWTError as e:
            raise _invalid_client(f"The client assertion was refused: {e}") from None
    if claims is None:
        raise _invalid_client(f"The client assertion signature does not verify: {last_error}")
    now = time.time()
    exp = float(claims["exp"])
    if exp > now + MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
        raise _invalid_client("The client assertion's exp is more than five minutes away.")
    _remember_jti(client.client_id, str(claims["jti"]), exp)
    return client


def _remember_jti(client_id: str, jti: str, exp: float) -> None:
    expires = datetime.fromtimestamp(exp, tz=UTC) + timedelta(seconds=CLOCK_SKEW)
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(client_id=client_id, jti=jti[:255], expires_at=expires)
    except IntegrityError:
        raise _invalid_client("This client assertion (jti) was already used.") from None
    if secrets.randbelow(50) == 0:  # now and then, forget assertions that can no longer be replayed
        UsedAssertion.objects.filter(expires_at__lt=timezone.now()).delete()
