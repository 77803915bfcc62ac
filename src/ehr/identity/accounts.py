"""Accounts: creating them, and turning a signed-in user into a ``Principal``."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from ehr.identity.audit_hook import audit
from ehr.identity.models import Account, AdminNotification, BreakGlassGrant
from ehr.identity.principal import ROLES, Principal

FHIR_USER_TYPES = {
    "patient": "Patient",
    "proxy": "RelatedPerson",
    "provider": "Practitioner",
    "nurse": "Practitioner",
}


def check_fhir_user(role: str, fhir_user: str) -> str | None:
    """An error message if ``fhir_user`` does not suit ``role``, else None."""
    if not fhir_user:
        return (
            "Patients and proxies need a linked record." if role in ("patient", "proxy") else None
        )
    rtype, _, rid = fhir_user.partition("/")
    if not rid or "/" in rid:
        return "Write it as Type/id, for example Practitioner/123."
    allowed = {"Patient"} if role == "patient" else {"RelatedPerson"} if role == "proxy" else {
        "Practitioner", "PractitionerRole", "Person"
    }  # fmt: skip
    if rtype not in allowed:
        return f"A {role.replace('_', ' ')} links to {' or '.join(sorted(allowed))}."
    return None


def account_of(user: AbstractBaseUser) -> Account | None:
    try:
        return user.account  # type: ignore[attr-defined]
    except Account.DoesNotExist:
        return None


@transaction.atomic
def create_user(
    username: str,
    role: str,
    *,
    password: str | None = None,
    email: str = "",
    fhir_user: str = "",
    proxy_patients: str = "",
    demo: bool = False,
    first_name: str = "",
    last_name: str = "",
    check_policy: bool = True,
):
    """Create an ``auth.User`` and its ``Account``; ``ValidationError`` if the password is weak."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    user_model = get_user_model()
    user = user_model(username=username, email=email, first_name=first_name, last_name=last_name)
    if password is None:
        user.set_unusable_password()
    else:
        if check_policy:
            validate_password(password, user)
        user.set_password(password)
    user.save()
    Account.objects.create(
        user=user, role=role, fhir_user=fhir_user, proxy_patients=proxy_patients, demo=demo
    )
    return user


def active_grant(user) -> BreakGlassGrant | None:
    now = timezone.now()
    return (
        BreakGlassGrant.objects.filter(user=user, ended=None, started__lte=now, expires__gt=now)
        .order_by("-expires")
        .first()
    )


def session_ref(session_key: str | None) -> str | None:
    """A stable, non-secret reference to a session for audit records (never the key itself)."""
    if not session_key:
        return None
    return "session:" + hashlib.sha256(session_key.encode()).hexdigest()[:16]


def principal_for_user(
    user, *, source: str | None = None, session_key: str | None = None
) -> Principal:
    """The ``Principal`` for a signed-in person (kind "user")."""
    account = account_of(user)
    role = account.role if account else None
    fhir_user = (account.fhir_user or None) if account else None
    patient = None
    extra: dict = {}
    if role == "patient" and fhir_user and fhir_user.startswith("Patient/"):
        patient = fhir_user.split("/", 1)[1]
    if role == "proxy" and account:
        extra["proxy_patients"] = account.proxy_patient_ids()
    grant = active_grant(user) if role and role not in ("patient", "proxy") else None
    if grant:
        extra["break_glass_id"] = grant.pk
        extra["break_glass_patient"] = grant.patient or None
        extra["break_glass_expires"] = grant.expires.isoformat()
    return Principal(
        kind="user",
        username=user.get_username(),
        role=role,
        user_id=user.pk,
        fhir_user=fhir_user,
        patient=patient,
        break_glass=grant is not None,
        token_id=session_ref(session_key),
        source=source,
        extra=extra,
    )


def notify_admins(kind: str, text: str) -> AdminNotification:
    """A notification row for the admin home, and an email when mail is configured."""
    note = AdminNotification.objects.create(kind=kind, text=text)
    recipients = list(
        get_user_model()
        .objects.filter(is_active=True, account__role="admin")
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if recipients and getattr(settings, "EHR_EMAIL_ALERTS", False):
        send_mail(f"[EHR] {kind}", text, None, recipients, fail_silently=True)
    return note


def start_break_glass(
    user, reason: str, patient: str = "", *, minutes: int | None = None, principal=None
) -> BreakGlassGrant:
    """Grant emergency access for ``minutes`` (default ``EHR_BREAK_GLASS_MINUTES``)."""
    minutes = minutes or settings.EHR_BREAK_GLASS_MINUTES
    now = timezone.now()
    grant = BreakGlassGrant.objects.create(
        user=user,
        reason=reason.strip(),
        patient=patient.strip(),
        started=now,
        expires=now + timedelta(minutes=minutes),
    )
    who = user.get_username()
    target = f" for Patient/{grant.patient}" if grant.patient else ""
    notify_admins(
        "break-glass",
        f"Emergency access started by {who}{target} at {now:%Y-%m-%d %H:%M} UTC for {minutes} "
        f"minutes. Reason: {grant.reason}",
    )
    audit(
        "break-glass",
        principal or principal_for_user(user),
        detail=f"grant {grant.pk}, {minutes} min; reason: {grant.reason}",
        patient=grant.patient or None,
    )
    return grant


def end_break_glass(grant: BreakGlassGrant, principal=None) -> None:
    if grant.ended is None:
        grant.ended = timezone.now()
        grant.save(update_fields=["ended"])
        audit(
            "break-glass-end",
            principal or principal_for_user(grant.user),
            detail=f"grant {grant.pk}",
            patient=grant.patient or None,
        )
