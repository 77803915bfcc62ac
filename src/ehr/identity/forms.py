"""Forms for sign-in, MFA, emergency access and the administration screens."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model, password_validation

from ehr.identity.accounts import check_fhir_user
from ehr.identity.models import ROLE_CHOICES
from ehr.identity.permissions import ACTION_NAMES, ACTIONS, resource_types

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class LoginForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}
        ),
    )
    password = forms.CharField(strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "current-password"}))  # fmt: skip


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=20,
        label="Code",
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class EnrolForm(forms.Form):
    code = forms.CharField(
        max_length=10,
        label="Code from the app",
        help_text="Enter the 6-digit code your authenticator app shows now.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def clean_patient_id(value: str) -> str:
    value = value.strip()
    if value.startswith("Patient/"):
        value = value[len("Patient/") :]
    if value and not ID_RE.match(value):
        raise forms.ValidationError("A patient id has letters, digits, '-' and '.' only.")
    return value


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        min_length=10,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you need emergency access now (at least 10 characters). "
        "An administrator reviews every use.",
    )
    patient = forms.CharField(
        required=False,
        max_length=72,
        label="Patient id (optional)",
        help_text="The patient whose record you need, e.g. Patient/123.",
    )

    def clean_patient(self) -> str:
        return clean_patient_id(self.cleaned_data["patient"])


class _AccountFields(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    fhir_user = forms.CharField(
        max_length=140,
        required=False,
        label="Linked FHIR record",
        help_text="Practitioner/… for clinicians, Patient/… for patients, "
        "RelatedPerson/… for proxies.",
    )
    proxy_patients = forms.CharField(
        required=False,
        label="Patients a proxy may act for",
        help_text="Patient ids separated by spaces (proxies only).",
    )

    def clean_proxy_patients(self) -> str:
        ids = [clean_patient_id(v) for v in self.cleaned_data["proxy_patients"].split()]
        return " ".join(i for i in ids if i)

    def clean(self):
        data = super().clean()
        role = data.get("role")
        if role:
            problem = check_fhir_user(role, data.get("fhir_user", "").strip())
            if problem:
                self.add_error("fhir_user", problem)
            if role == "proxy" and not data.get("proxy_patients") and "proxy_patients" in data:
                self.add_error("proxy_patients", "A proxy needs at least one patient.")
        return data


class UserCreateForm(_AccountFields):
    username = forms.CharField(max_length=150)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    field_order = ["username", "first_name", "last_name", "email", "role", "fhir_user",
                   "proxy_patients", "password1", "password2"]  # fmt: skip

    def clean_username(self) -> str:
        name = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=name).exists():
            raise forms.ValidationError("That username is taken.")
        return name

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            probe = get_user_model()(
                username=data.get("username", ""),
                email=data.get("email", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
            )
            try:
                password_validation.validate_password(p1, probe)
            except forms.ValidationError as e:
                self.add_error("password1", e)
        return data


class UserEditForm(_AccountFields):
    pass


class RoleGridForm(forms.Form):
    """One multiple-choice field per resource type (letters of ``crudse``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(a, ACTION_NAMES[a]) for a in ACTIONS]
        for t in resource_types():
            self.fields[t] = forms.MultipleChoiceField(
                choices=choices, required=False, widget=forms.CheckboxSelectMultiple
            )

    def grid(self) -> dict[str, str]:
        return {t: "".join(v) for t, v in self.cleaned_data.items()}
