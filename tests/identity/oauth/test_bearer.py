"""authenticate_bearer: valid, expired, revoked, malformed, and the small cache."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ehr.identity.oauth import bearer
from ehr.identity.oauth.bearer import AuthenticationFailed, authenticate_bearer
from ehr.identity.oauth.models import Token
from ehr.identity.oauth.scopes import ScopeSet
from ehr.identity.oauth.tokens import mint, revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(person):
    user = person("boss", "admin", "Practitioner/a1")
    value, row = mint(scopes=ScopeSet.parse("user/*.rs"), user=user, minutes=5)
    return value, row


def test_valid_token(token):
    value, row = token
    who = authenticate_bearer(f"Bearer {value}")
    assert (who.kind, who.username, who.role, who.fhir_user) == (
        "user", "boss", "admin", "Practitioner/a1"
    )  # fmt: skip
    assert who.token_id == str(row.pk)
    assert who.scopes.allows("user", "Encounter", "r")
    assert authenticate_bearer(f"bearer {value}") is who  # cached: the same object


def test_expired_token(token):
    value, row = token
    Token.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(AuthenticationFailed, match="expired") as err:
        authenticate_bearer(f"Bearer {value}")
    assert err.value.www_authenticate.startswith('Bearer realm="ehr", error="invalid_token"')


def test_expiry_is_checked_even_when_cached(token, monkeypatch):
    value, _ = token
    authenticate_bearer(f"Bearer {value}")
    principal, _, until = bearer._cache[next(iter(bearer._cache))]
    bearer._cache[next(iter(bearer._cache))] = (principal, 0.0, until)
    with pytest.raises(AuthenticationFailed, match="expired"):
        authenticate_bearer(f"Bearer {value}")


def test_revoked_token(token):
    value, _ = token
    authenticate_bearer(f"Bearer {value}")
    assert revoke(value, None)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate_bearer(f"Bearer {value}")


def test_revocation_in_another_process_shows_within_the_cache_ttl(token, monkeypatch):
    value, row = token
    authenticate_bearer(f"Bearer {value}")
    Token.objects.filter(pk=row.pk).update(revoked=True)  # as another process would
    authenticate_bearer(f"Bearer {value}")  # still cached
    key = next(iter(bearer._cache))
    p, exp, _ = bearer._cache[key]
    bearer._cache[key] = (p, exp, 0.0)  # the TTL has passed
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate_bearer(f"Bearer {value}")


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, None),
        ("", None),
        ("Basic dXNlcjpwdw==", "invalid_request"),
        ("Bearer", "invalid_request"),
        ("Bearer a b", "invalid_request"),
        ("Bearer not-a-real-token", "invalid_token"),
    ],
)
def test_malformed_or_unknown(header, error, db):
    with pytest.raises(AuthenticationFailed) as err:
        authenticate_bearer(header)
    assert err.value.error == error
    if error is None:
        assert err.value.www_authenticate == 'Bearer realm="ehr"'
    else:
        assert f'error="{error}"' in err.value.www_authenticate


def test_disabled_user(token):
    value, row = token
    row.user.is_active = False
    row.user.save()
    with pytest.raises(AuthenticationFailed, match="disabled"):
        authenticate_bearer(f"Bearer {value}")


def test_system_token(db):
    value, _ = mint(scopes=ScopeSet.parse("system/Patient.rs"), system=True)
    who = authenticate_bearer(f"Bearer {value}")
    assert who.kind == "system" and who.scopes.allows("system", "Patient", "r")


def test_only_the_hash_is_stored(token):
    value, row = token
    assert value not in row.token_hash and len(row.token_hash) == 64
