"""Time-based one-time passwords (RFC 6238) and single-use recovery codes."""

from __future__ import annotations

import secrets
import time

import pyotp
import segno
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from ehr.identity.models import Account, RecoveryCode

ISSUER = "EHR"
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(account: Account, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account.user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as an inline ``<svg>`` element (no script, no external image)."""
    return segno.make(uri, error="m").svg_inline(scale=5, title="Authenticator set-up code")


def _clean(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum()).lower()


def totp_counter(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), or None."""
    code = _clean(code)
    if len(code) != 6 or not code.isdigit() or not secret:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    for drift in (0, -1, 1):
        t = now + drift * totp.interval
        if secrets.compare_digest(totp.at(t), code):
            return int(t // totp.interval)
    return None


def verify_totp(account: Account, code: str) -> bool:
    """Check a code for an enrolled account; a code is accepted once (no replay)."""
    counter = totp_counter(account.mfa_secret, code)
    if counter is None:
        return False
    with transaction.atomic():
        fresh = Account.objects.select_for_update().get(pk=account.pk)
        if counter <= fresh.mfa_last_counter:
            return False
        fresh.mfa_last_counter = counter
        fresh.save(update_fields=["mfa_last_counter"])
    account.mfa_last_counter = counter
    return True


def new_recovery_codes(account: Account) -> list[str]:
    """Replace the account's recovery codes; returns the plain codes (shown once)."""
    codes = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}"
             for _ in range(RECOVERY_CODES)]  # fmt: skip
    with transaction.atomic():
        account.recovery_codes.all().delete()
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(account=account, code_hash=make_password(_clean(c))) for c in codes]
        )
    return codes


def use_recovery_code(account: Account, code: str) -> bool:
    """Accept an unused recovery code once."""
    cleaned = _clean(code)
    if len(cleaned) != 12:
        return False
    with transaction.atomic():
        for rc in account.recovery_codes.select_for_update().filter(used_at=None):
            if check_password(cleaned, rc.code_hash):
                rc.used_at = timezone.now()
                rc.save(update_fields=["used_at"])
                return True
    return False


def remaining_recovery_codes(account: Account) -> int:
    return account.recovery_codes.filter(used_at=None).count()


def enrol(account: Account, secret: str, code: str) -> bool:
    """Turn MFA on if ``code`` matches ``secret``."""
    counter = totp_counter(secret, code)
    if counter is None:
        return False
    account.mfa_secret = secret
    account.mfa_enabled = True
    account.mfa_last_counter = counter
    account.save(update_fields=["mfa_secret", "mfa_enabled", "mfa_last_counter"])
    return True


def reset(account: Account) -> None:
    """Turn MFA off (an administrator's reset); the user must enrol again if required."""
    account.mfa_secret = ""
    account.mfa_enabled = False
    account.mfa_last_counter = 0
    account.save(update_fields=["mfa_secret", "mfa_enabled", "mfa_last_counter"])
    account.recovery_codes.all().delete()
