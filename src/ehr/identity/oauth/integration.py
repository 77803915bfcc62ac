"""The few things this app needs from accounts (ehr.identity) and the audit trail (ehr.audit).

Both are built in parallel; every use goes through here and degrades gracefully until they land:
role and fhirUser come from ``user.account`` when it exists, audit events go to the
``ehr.audit`` logger when ``ehr.audit.events.record_event`` does not exist yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

log = logging.getLogger("ehr.audit")


@cache
def _record_event() -> Callable[..., Any] | None:
    try:
        from ehr.audit.events import record_event
    except ImportError:
        return None
    return record_event


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
    fn = _record_event()
    if fn is None:
        log.info("audit %s %s %s %s", action, outcome, getattr(principal, "username", None), detail)
        return
    try:
        fn(
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
    """Admin-only screens: ``ehr.identity``'s role decorator, or a local stand-in without it."""
    try:
        from ehr.identity.decorators import require_role
    except ImportError:
        pass
    else:
        return require_role("admin")(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        role, _ = account_of(request.user)
        if role != "admin":
            return HttpResponseForbidden("Only administrators may manage OAuth clients.")
        return view(request, *args, **kwargs)

    return wrapper
