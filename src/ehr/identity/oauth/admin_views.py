"""``/admin/clients/``: list, register, edit and deactivate OAuth clients (administrators)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods, require_POST

from ehr.identity.oauth.clients import ClientInputError, create_client, validate_registration
from ehr.identity.oauth.integration import audit, principal_for, require_admin
from ehr.identity.oauth.models import AUTH_METHODS, CONFIDENTIAL, PUBLIC, Client
from ehr.identity.oauth.scopes import ScopeError, ScopeSet


class ClientForm(forms.Form):
    name = forms.CharField(max_length=200)
    client_type = forms.ChoiceField(
        label="Type",
        choices=[(PUBLIC, "Public (browser or mobile app, no secret)"),
                 (CONFIDENTIAL, "Confidential (server-side app or backend service)")],
    )  # fmt: skip
    token_endpoint_auth_method = forms.ChoiceField(
        label="Authentication at the token endpoint",
        choices=[("", "Default for the type")] + [(m, m) for m in AUTH_METHODS],
        required=False,
    )
    redirect_uris = forms.CharField(
        label="Redirect URIs", widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="One per line. Required for apps that sign users in.",
    )  # fmt: skip
    allowed_scopes = forms.CharField(
        label="Allowed scopes", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Space or line separated, e.g. launch/patient openid fhirUser patient/*.rs",
    )  # fmt: skip
    jwks = forms.CharField(
        label="JWKS (JSON)", widget=forms.Textarea(attrs={"rows": 4}), required=False,
        help_text="Public keys for private_key_jwt, by value. Or give a JWKS URL.",
    )  # fmt: skip
    jwks_url = forms.URLField(label="JWKS URL", required=False, assume_scheme="https")
    launch_url = forms.URLField(label="Launch URL", required=False, assume_scheme="https")

    def clean_allowed_scopes(self) -> str:
        try:
            return str(ScopeSet.parse(self.cleaned_data["allowed_scopes"]))
        except ScopeError as e:
            raise forms.ValidationError(str(e)) from None

    def clean_jwks(self) -> dict | None:
        text = self.cleaned_data["jwks"].strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise forms.ValidationError(f"Not valid JSON: {e}") from None

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            data["token_endpoint_auth_method"] = validate_registration(
                name=data["name"],
                client_type=data["client_type"],
                auth_method=data.get("token_endpoint_auth_method") or None,
                redirect_uris=self.uris(),
                scopes=data["allowed_scopes"],
                jwks=data.get("jwks"),
                jwks_url=data.get("jwks_url") or "",
            )
        except (ClientInputError, ScopeError) as e:
            raise forms.ValidationError(str(e)) from None
        return data

    def uris(self) -> list[str]:
        return [u.strip() for u in self.cleaned_data.get("redirect_uris", "").split() if u.strip()]


@require_admin
def client_list(request: HttpRequest) -> HttpResponse:
    return render(request, "oauth/client_list.html", {"clients": Client.objects.all()})


@require_admin
@require_http_methods(["GET", "POST"])
def client_new(request: HttpRequest) -> HttpResponse:
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        client, secret = create_client(
            name=d["name"],
            client_type=d["client_type"],
            auth_method=d["token_endpoint_auth_method"],
            redirect_uris=form.uris(),
            scopes=d["allowed_scopes"],
            jwks=d["jwks"],
            jwks_url=d["jwks_url"] or "",
            launch_url=d["launch_url"] or "",
            actor=principal_for(request.user),
        )
        return render(request, "oauth/client_created.html", {"client": client, "secret": secret})
    return render(request, "oauth/client_form.html", {"form": form, "client": None})


@require_admin
@require_http_methods(["GET", "POST"])
def client_edit(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    initial = {
        "name": client.name,
        "client_type": client.client_type,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "redirect_uris": "\n".join(client.redirect_uris),
        "allowed_scopes": client.allowed_scopes,
        "jwks": json.dumps(client.jwks, indent=2) if client.jwks else "",
        "jwks_url": client.jwks_url,
        "launch_url": client.launch_url,
    }
    form = ClientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        client.name = d["name"]
        client.client_type = d["client_type"]
        client.token_endpoint_auth_method = d["token_endpoint_auth_method"]
        client.redirect_uris = form.uris()
        client.allowed_scopes = d["allowed_scopes"]
        client.jwks = d["jwks"]
        client.jwks_url = d["jwks_url"] or ""
        client.launch_url = d["launch_url"] or ""
        secret = None
        if client.token_endpoint_auth_method.startswith("client_secret") and not client.secret_hash:
            secret = client.set_secret()
        client.save()
        audit(
            "client-change",
            principal_for(request.user),
            detail=f"client {client.client_id} '{client.name}' edited",
        )
        if secret:
            return render(
                request, "oauth/client_created.html", {"client": client, "secret": secret}
            )
        messages.success(request, f"Saved {client.name}.")
        return HttpResponseRedirect("/admin/clients/")
    return render(request, "oauth/client_form.html", {"form": form, "client": client})


@require_admin
@require_POST
def client_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (or reactivate) a client; deactivation stops its tokens at once."""
    client = get_object_or_404(Client, pk=pk)
    client.active = request.POST.get("active") == "1"
    client.save(update_fields=["active", "updated"])
    if not client.active:
        from ehr.identity.oauth import bearer

        bearer.clear_cache()
    audit(
        "client-change",
        principal_for(request.user),
        detail=f"client {client.client_id} {'activated' if client.active else 'deactivated'}",
    )
    messages.success(
        request, f"{client.name} is now {'active' if client.active else 'deactivated'}."
    )
    return HttpResponseRedirect("/admin/clients/")
