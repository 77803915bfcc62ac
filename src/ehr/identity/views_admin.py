"""Administration: users and the role permission grid (admin role only)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from ehr.identity import mfa, sessions
from ehr.identity.accounts import account_of, create_user
from ehr.identity.audit_hook import audit
from ehr.identity.decorators import require_role
from ehr.identity.forms import RoleGridForm, UserCreateForm, UserEditForm
from ehr.identity.models import AdminNotification, BreakGlassGrant, UserSession
from ehr.identity.permissions import (
    ACTION_NAMES,
    ACTIONS,
    grid_for,
    grouped_types,
    set_role_grid,
)
from ehr.identity.principal import ROLES

admin_only = require_role("admin")


def _user_or_404(user_id: int):
    user = get_user_model().objects.select_related("account").filter(pk=user_id).first()
    if user is None or account_of(user) is None:
        raise Http404("No such user")
    return user


@never_cache
@admin_only
def users(request: HttpRequest) -> HttpResponse:
    rows = get_user_model().objects.select_related("account").order_by("username")
    counts: dict[int, int] = {}
    for uid in UserSession.objects.values_list("user_id", flat=True):
        counts[uid] = counts.get(uid, 0) + 1
    listing = [(u, account_of(u), counts.get(u.pk, 0)) for u in rows]
    return render(request, "identity/admin/users.html", {"listing": listing})


@sensitive_post_parameters("password1", "password2")
@never_cache
@admin_only
def user_new(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        user = create_user(
            d["username"],
            d["role"],
            password=d["password1"],
            email=d["email"],
            fhir_user=d["fhir_user"].strip(),
            proxy_patients=d["proxy_patients"],
            first_name=d["first_name"],
            last_name=d["last_name"],
            check_policy=False,  # the form already checked it
        )
        audit("account-change", request.principal,
              detail=f"created user {user.username}, role {d['role']}")  # fmt: skip
        messages.success(request, f"User {user.username} created.")
        return HttpResponseRedirect(f"/admin/users/{user.pk}/")
    return render(request, "identity/admin/user_new.html", {"form": form})


@never_cache
@admin_only
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(user_id)
    account = account_of(user)
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": account.role,
        "fhir_user": account.fhir_user,
        "proxy_patients": account.proxy_patients,
    }
    form = UserEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        changed = [k for k in initial if str(d[k]).strip() != str(initial[k])]
        with transaction.atomic():
            user.first_name, user.last_name, user.email = (
                d["first_name"],
                d["last_name"],
                d["email"],
            )
            user.save(update_fields=["first_name", "last_name", "email"])
            account.role = d["role"]
            account.fhir_user = d["fhir_user"].strip()
            account.proxy_patients = d["proxy_patients"]
            account.save(update_fields=["role", "fhir_user", "proxy_patients"])
        if changed:
            detail = f"user {user.username}: {', '.join(changed)}"
            if "role" in changed:
                detail += f"; role {initial['role']} -> {d['role']}"
            audit("account-change", request.principal, detail=detail)
        messages.success(request, "Saved.")
        return HttpResponseRedirect(f"/admin/users/{user.pk}/")
    context = {
        "form": form,
        "subject": user,
        "account": account,
        "session_rows": sessions.active_sessions(user),
        "grants": BreakGlassGrant.objects.filter(user=user)[:10],
    }
    return render(request, "identity/admin/user_edit.html", context)


@require_POST
@admin_only
def user_action(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(user_id)
    account = account_of(user)
    action = request.POST.get("action", "")
    if action == "deactivate":
        if user.pk == request.user.pk:
            messages.error(request, "You cannot deactivate your own account.")
        else:
            user.is_active = False
            user.save(update_fields=["is_active"])
            sessions.revoke_all(user)
            messages.success(request, f"{user.username} is deactivated and signed out.")
    elif action == "activate":
        user.is_active = True
        user.save(update_fields=["is_active"])
        messages.success(request, f"{user.username} is active again.")
    elif action == "reset-mfa":
        mfa.reset(account)
        sessions.revoke_all(user)
        messages.success(
            request, f"Two-step verification reset; {user.username} enrols again at next sign-in."
        )
    elif action == "revoke-sessions":
        n = sessions.revoke_all(user, except_key=request.session.session_key)
        messages.success(request, f"Signed {user.username} out of {n} sessions.")
    else:
        raise Http404("Unknown action")
    kind = "mfa-change" if action == "reset-mfa" else "account-change"
    audit(kind, request.principal, detail=f"{action}: user {user.username}")
    return HttpResponseRedirect(f"/admin/users/{user.pk}/")


@never_cache
@admin_only
def roles(request: HttpRequest) -> HttpResponse:
    role = request.GET.get("role") or request.POST.get("role") or "provider"
    if role not in ROLES:
        raise Http404("Unknown role")
    current = grid_for(role)
    if request.method == "POST":
        form = RoleGridForm(request.POST)
        if form.is_valid():
            changes = set_role_grid(role, form.grid())
            for rtype, before, after in changes:
                audit(
                    "permission-change",
                    request.principal,
                    detail=f"role {role}: {rtype} '{before}' -> '{after}'",
                    resource_type=rtype,
                )
            messages.success(request, f"Saved {len(changes)} changes for {role}.")
            return HttpResponseRedirect(f"/admin/roles/?role={role}")
    else:
        form = RoleGridForm(initial={t: list(a) for t, a in current.items()})
    chosen = {
        t: set(form.data.getlist(t)) if form.is_bound else set(current.get(t, ""))
        for t in form.fields
    }
    groups = [
        (name, [(t, [(a, a in chosen[t]) for a in ACTIONS]) for t in types])
        for name, types in grouped_types()
        if types
    ]
    context = {
        "role": role,
        "roles": ROLES,
        "groups": groups,
        "actions": [(a, ACTION_NAMES[a]) for a in ACTIONS],
    }
    return render(request, "identity/admin/roles.html", context)


@require_POST
@admin_only
def dismiss_notification(request: HttpRequest, note_id: int) -> HttpResponse:
    AdminNotification.objects.filter(pk=note_id, dismissed=None).update(dismissed=timezone.now())
    return HttpResponseRedirect("/")
