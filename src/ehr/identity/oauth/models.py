"""OAuth clients, launch contexts, authorization codes and tokens.

Secrets (client secrets, codes, tokens, launch handles) are stored only as SHA-256 hashes: they
are long random strings, so a fast hash is enough and a stolen database yields nothing usable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

PUBLIC, CONFIDENTIAL = "public", "confidential"
AUTH_NONE = "none"
AUTH_BASIC = "client_secret_basic"
AUTH_POST = "client_secret_post"
AUTH_JWT = "private_key_jwt"
AUTH_METHODS = (AUTH_NONE, AUTH_BASIC, AUTH_POST, AUTH_JWT)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


class Client(models.Model):
    client_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    client_type = models.CharField(
        max_length=20, choices=[(PUBLIC, "Public"), (CONFIDENTIAL, "Confidential")]
    )
    secret_hash = models.CharField(max_length=64, blank=True, default="")
    token_endpoint_auth_method = models.CharField(
        max_length=40, choices=[(m, m) for m in AUTH_METHODS], default=AUTH_NONE
    )
    redirect_uris = models.JSONField(default=list, blank=True)
    allowed_scopes = models.TextField(blank=True, default="")
    jwks = models.JSONField(null=True, blank=True)
    jwks_url = models.URLField(max_length=500, blank=True, default="")
    launch_url = models.URLField(max_length=500, blank=True, default="")
    active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "oauth_client"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"

    @property
    def is_public(self) -> bool:
        return self.client_type == PUBLIC

    def set_secret(self) -> str:
        """Make a new secret, keep its hash, return it (shown once)."""
        secret = new_secret()
        self.secret_hash = digest(secret)
        return secret

    def check_secret(self, secret: str) -> bool:
        return bool(self.secret_hash) and hmac.compare_digest(self.secret_hash, digest(secret))


class Launch(models.Model):
    """An EHR launch: the patient (and encounter) a staff user opened an app from."""

    handle_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    patient = models.CharField(max_length=64)
    encounter = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "oauth_launch"


class AuthorizationCode(models.Model):
    code_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    redirect_uri = models.TextField()
    scope = models.TextField()
    code_challenge = models.CharField(max_length=128, blank=True, default="")
    nonce = models.CharField(max_length=255, blank=True, default="")
    patient = models.CharField(max_length=64, blank=True, default="")
    encounter = models.CharField(max_length=64, blank=True, default="")
    session_key = models.CharField(max_length=64, blank=True, default="")
    family = models.CharField(max_length=32, default="")  # tokens issued from this code
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used = models.BooleanField(default=False)

    class Meta:
        db_table = "oauth_code"


class Token(models.Model):
    """An access or refresh token. ``family`` ties every token of one authorization together,
    so a revoked or replayed refresh token can take the whole chain down."""

    ACCESS, REFRESH = "access", "refresh"

    token_hash = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=10, choices=[(ACCESS, ACCESS), (REFRESH, REFRESH)])
    principal_kind = models.CharField(max_length=10, default="user")  # user, client, system
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.CASCADE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    scope = models.TextField()
    patient = models.CharField(max_length=64, blank=True, default="")
    encounter = models.CharField(max_length=64, blank=True, default="")
    fhir_user = models.CharField(max_length=200, blank=True, default="")
    session_key = models.CharField(max_length=64, blank=True, default="")  # online_access
    family = models.CharField(max_length=32, db_index=True)
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    rotated = models.BooleanField(default=False)  # a refresh token already exchanged

    class Meta:
        db_table = "oauth_token"


class UsedAssertion(models.Model):
    """``jti`` values of client assertions seen, kept until the assertion expires (replay)."""

    client_id = models.CharField(max_length=100)
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "oauth_used_assertion"
        constraints = [models.UniqueConstraint(fields=["client_id", "jti"], name="oauth_jti_once")]
