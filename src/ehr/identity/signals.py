"""Sign-in and sign-out bookkeeping: tracked sessions and audit events."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from ehr.identity import sessions
from ehr.identity.accounts import principal_for_user
from ehr.identity.audit_hook import audit
from ehr.identity.models import UserSession


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    row = sessions.track(request, user)
    audit("login", principal_for_user(user, source=row.ip if row else None))


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if request is None or user is None:
        return
    key = request.session.session_key
    if key:
        UserSession.objects.filter(session_key=key).delete()
    audit("logout", principal_for_user(user, source=sessions.client_ip(request)))
