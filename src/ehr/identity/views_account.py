"""The signed-in user's own pages: MFA, sessions, emergency access, keep-alive."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from ehr.identity import mfa, sessions
from ehr.identity.accounts import (
    account_of,
    active_grant,
    end_break_glass,
    start_break_glass,
)
from ehr.identity.audit_hook import audit
from ehr.identity.decorators import require_role, signed_in
from ehr.identity.forms import BreakGlassForm, EnrolForm
from ehr.identity.models import STAFF_ROLES, UserSession

SETUP_SECRET = "_ehr_mfa_setup_secret"
SHOW_CODES = "_ehr_recovery_codes"


@sensitive_post_parameters("code")
@never_cache
@signed_in
def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Enrol in TOTP: scan the QR code (or type the key), confirm with a code."""
    account = account_of(request.user)
    secret = request.session.get(SETUP_SECRET)
    if not secret:
        secret = request.session[SETUP_SECRET] = mfa.new_secret()
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if mfa.enrol(account, secret, form.cleaned_data["code"]):
            del request.session[SETUP_SECRET]
            request.session[SHOW_CODES] = mfa.new_recovery_codes(account)
            audit("mfa-change", request.principal, detail="enrolled")
            return HttpResponseRedirect("/account/mfa/recovery-codes/")
        form.add_error("code", "That code does not match. Check the time on your phone and retry.")
    uri = mfa.provisioning_uri(account, secret)
    context = {
        "form": form,
        "qr_svg": mfa.qr_svg(uri),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "account": account,
        "required": account.mfa_required,
        "recovery_left": mfa.remaining_recovery_codes(account) if account.mfa_enabled else 0,
    }
    return render(request, "identity/mfa_setup.html", context)


@never_cache
@signed_in
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Shows freshly made recovery codes once; a POST makes a new set."""
    account = account_of(request.user)
    if request.method == "POST":
        if not account.mfa_enabled:
            return HttpResponseRedirect("/account/mfa/setup/")
        request.session[SHOW_CODES] = mfa.new_recovery_codes(account)
        audit("mfa-change", request.principal, detail="recovery codes renewed")
        return HttpResponseRedirect("/account/mfa/recovery-codes/")
    codes = request.session.pop(SHOW_CODES, None)
    if not codes:
        messages.info(request, "Recovery codes are shown only once, right after they are made.")
        return HttpResponseRedirect("/account/mfa/setup/")
    return render(request, "identity/recovery_codes.html", {"codes": codes})


@require_POST
@signed_in
def keepalive(request: HttpRequest) -> HttpResponse:
    """Called by the idle warning's "stay signed in" button; the middleware did the work."""
    return JsonResponse({"ok": True})


@never_cache
@signed_in
def sessions_view(request: HttpRequest) -> HttpResponse:
    current = request.session.session_key
    if request.method == "POST":
        if request.POST.get("action") == "others":
            n = sessions.revoke_all(request.user, except_key=current)
            audit("account-change", request.principal, detail=f"signed out of {n} other sessions")
            messages.success(request, f"Signed out of {n} other sessions.")
        else:
            row = UserSession.objects.filter(
                user=request.user, pk=request.POST.get("session", "")
            ).first()
            if row is not None:
                if row.session_key == current:
                    return HttpResponseRedirect("/account/sessions/")
                sessions.revoke(row.session_key)
                audit("account-change", request.principal, detail=f"signed out session {row.pk}")
                messages.success(request, "That session is signed out.")
        return HttpResponseRedirect("/account/sessions/")
    rows = sessions.active_sessions(request.user)
    return render(request, "identity/sessions.html", {"rows": rows, "current": current})


@never_cache
@require_role(*STAFF_ROLES)
def break_glass(request: HttpRequest) -> HttpResponse:
    grant = active_grant(request.user)
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("action") == "end":
            if grant:
                end_break_glass(grant, request.principal)
                messages.success(request, "Emergency access ended.")
            return HttpResponseRedirect("/account/emergency-access/")
        if form.is_valid():
            grant = start_break_glass(
                request.user,
                form.cleaned_data["reason"],
                form.cleaned_data["patient"],
                principal=request.principal,
            )
            messages.warning(
                request,
                f"Emergency access is on until {grant.expires:%H:%M} UTC. "
                "Administrators have been told.",
            )
            return HttpResponseRedirect("/account/emergency-access/")
    return render(request, "identity/break_glass.html", {"form": form, "grant": grant})
