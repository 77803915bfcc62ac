"""The few things this app needs from accounts (ehr.identity) and the audit trail (ehr.audit),
in one place: role and fhirUser from ``user.account``, audit events that never break an OAuth
exchange, and the administrators-only decorator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpResponse

log = logging.getLogger("ehr.audit")


def audit(
    action: str,
    principal: Any = None,
    *,
    outcome: str = "success",
    detail: str = "",
    resource_type: str | None = None,
    resource_id: str | None = None,
    patient: str | None = None,
) -> None:
    """Record an audit event; never lets an audit problem break the OAuth exchange."""
    from ehr.audit.events import record_event

    try:
        record_event(
            action,
            principal,
            outcome=outcome,
            detail=detail,
            resource_type=resource_type,
            resource_id=resource_id,
            patient=patient,
        )
    except Exception:  # the audit engineer's errors must not become token errors
        log.exception("audit event %s could not be recorded", action)


def account_of(user: Any) -> tuple[str | None, str | None]:
    """(role, fhir_user) of a Django user from their Account, or (None, None) without one."""
    if user is None:
        return None, None
    try:
        account = user.account
    except Exception:  # RelatedObjectDoesNotExist, AttributeError before the model exists
        account = None
    role = getattr(account, "role", None)
    fhir_user = getattr(account, "fhir_user", None) or None
    if role is None and getattr(user, "is_superuser", False):
        role = "admin"
    return role, fhir_user


def principal_for(user: Any, **extra: Any) -> Any:
    """A Principal for audit records about a logged-in user."""
    from ehr.identity.principal import Principal

    if user is None or not getattr(user, "is_authenticated", False):
        return Principal(kind="system", username="anonymous", **extra)
    role, fhir_user = account_of(user)
    return Principal(
        kind="user",
        username=user.get_username(),
        role=role,
        user_id=user.pk,
        fhir_user=fhir_user,
        **extra,
    )


def client_principal(client_id: str, **extra: Any) -> Any:
    from ehr.identity.principal import Principal

    return Principal(kind="client", username=client_id, client_id=client_id, **extra)


def login_url() -> str:
    url = getattr(settings, "LOGIN_URL", "/login/")
    return "/login/" if url == "/accounts/login/" else url


def require_admin(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Admin-only screens, through the identity app's role decorator."""
    from ehr.identity.decorators import require_role

    return require_role("admin")(view)
