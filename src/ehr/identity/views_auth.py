"""Sign-in (password, then the MFA code) and sign-out."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from ehr.identity import mfa, throttle
from ehr.identity.accounts import account_of, principal_for_user
from ehr.identity.audit_hook import audit
from ehr.identity.demo_accounts import demo_account_table
from ehr.identity.forms import CodeForm, LoginForm
from ehr.identity.principal import Principal
from ehr.identity.sessions import client_ip

FAILED = "Sign-in failed: the username or password is not right."
LOCKED = (
    "Sign-in is paused for this username or this computer after too many failed attempts. "
    "Try again in {minutes} minutes, or ask an administrator."
)
PENDING = "_ehr_mfa_pending"
PENDING_SECONDS = 300


def _anonymous(username: str, ip: str) -> Principal:
    return Principal(kind="user", username=username[:150], source=ip)


def _next_url(request: HttpRequest, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return "/"


def _locked_message() -> str:
    return LOCKED.format(minutes=settings.EHR_LOCKOUT_MINUTES)


def _failure(request: HttpRequest, username: str, ip: str, what: str) -> str:
    """Count a failure, audit it, and return the message to show."""
    newly_locked = throttle.record_failure(username, ip)
    audit("login-failed", _anonymous(username, ip), outcome="failed", detail=what)
    if newly_locked:
        audit("lockout", _anonymous(username, ip), outcome="denied",
              detail=f"{settings.EHR_LOCKOUT_MINUTES} minutes")  # fmt: skip
        return _locked_message()
    if throttle.locked_until([throttle.user_key(username), throttle.ip_key(ip)]):
        return _locked_message()
    return FAILED


@sensitive_post_parameters("password")
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated:
        return HttpResponseRedirect(next_url)
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"].strip()
        ip = client_ip(request)
        if throttle.locked_until([throttle.user_key(username), throttle.ip_key(ip)]):
            audit("login-failed", _anonymous(username, ip), outcome="denied", detail="locked")
            form.add_error(None, _locked_message())
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            account = account_of(user) if user is not None else None
            if user is None or account is None:
                form.add_error(None, _failure(request, username, ip, "password"))
            elif account.mfa_enabled:
                request.session.cycle_key()
                request.session[PENDING] = {
                    "uid": user.pk,
                    "backend": user.backend,
                    "at": time.time(),
                    "next": next_url,
                    "username": username,
                }
                return HttpResponseRedirect("/login/mfa/")
            else:
                throttle.clear(username)
                login(request, user)
                return HttpResponseRedirect(next_url)
    context = {"form": form, "next": next_url, "demo_accounts": None}
    if settings.EHR_DEMO:
        context["demo_accounts"] = demo_account_table()
    return render(request, "identity/login.html", context)


@sensitive_post_parameters("code")
@never_cache
def mfa_view(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        messages.info(request, "Please sign in again.")
        return HttpResponseRedirect("/login/")
    user = get_user_model().objects.filter(pk=pending["uid"], is_active=True).first()
    account = account_of(user) if user else None
    if account is None or not account.mfa_enabled:
        request.session.pop(PENDING, None)
        return HttpResponseRedirect("/login/")
    username, ip = pending["username"], client_ip(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if throttle.locked_until([throttle.user_key(username), throttle.ip_key(ip)]):
            request.session.pop(PENDING, None)
            messages.error(request, _locked_message())
            return HttpResponseRedirect("/login/")
        code = form.cleaned_data["code"]
        used_recovery = False
        ok = mfa.verify_totp(account, code)
        if not ok and mfa.use_recovery_code(account, code):
            ok = used_recovery = True
        if ok:
            request.session.pop(PENDING, None)
            throttle.clear(username)
            user.backend = pending["backend"]
            login(request, user)
            if used_recovery:
                left = mfa.remaining_recovery_codes(account)
                audit("mfa-change", principal_for_user(user, source=ip),
                      detail=f"recovery code used, {left} left")  # fmt: skip
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} are left. "
                    "Make new ones on the two-step verification page if you are running low.",
                )
            return HttpResponseRedirect(pending["next"])
        message = _failure(request, username, ip, "second step")
        if message != FAILED:
            request.session.pop(PENDING, None)
            messages.error(request, message)
            return HttpResponseRedirect("/login/")
        form.add_error("code", "That code is not right or was already used.")
    return render(request, "identity/login_mfa.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return HttpResponseRedirect("/login/")
