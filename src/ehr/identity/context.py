"""Template context for every screen: navigation by role, the idle timeout, emergency access."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from ehr.identity.accounts import account_of, active_grant

NAV: dict[str, list[tuple[str, str]]] = {
    "admin": [
        ("Home", "/"),
        ("Schedule", "/schedule/"),
        ("Schedule settings", "/admin/schedule/"),
        ("Events", "/events/"),
        ("Users", "/admin/users/"),
        ("Roles", "/admin/roles/"),
        ("App registry", "/admin/clients/"),
        ("Audit", "/admin/audit/"),
        ("Flow board", "/flow/"),
        ("Outbox", "/admin/outbox/"),
    ],
    "provider": [
        ("Home", "/"),
        ("Schedule", "/schedule/"),
        ("Flow board", "/flow/"),
        ("Events", "/events/"),
        ("Apps", "/apps/"),
        ("Emergency access", "/account/emergency-access/"),
    ],
    "nurse": [
        ("Home", "/"),
        ("Schedule", "/schedule/"),
        ("Flow board", "/flow/"),
        ("Events", "/events/"),
        ("Apps", "/apps/"),
        ("Emergency access", "/account/emergency-access/"),
    ],
    "front_desk": [
        ("Home", "/"),
        ("Schedule", "/schedule/"),
        ("Flow board", "/flow/"),
        ("Events", "/events/"),
        ("Apps", "/apps/"),
    ],
    "biller": [("Home", "/"), ("Events", "/events/"), ("Apps", "/apps/")],
    "patient": [("Home", "/")],
    "proxy": [("Home", "/")],
}
ACCOUNT_MENU = [
    ("Sessions", "/account/sessions/"),
    ("Two-step verification", "/account/mfa/setup/"),
]


def identity(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"ehr_demo": settings.EHR_DEMO}
    account = account_of(user)
    role = account.role if account else None
    return {
        "ehr_demo": settings.EHR_DEMO,
        "ehr_role": role,
        "ehr_nav": NAV.get(role or "", []),
        "ehr_account_menu": ACCOUNT_MENU,
        "ehr_idle_seconds": settings.EHR_IDLE_TIMEOUT_MINUTES * 60,
        "ehr_break_glass": active_grant(user)
        if role and role not in ("patient", "proxy")
        else None,
    }
