"""Scopes in plain words, for the approval screen."""

from __future__ import annotations

import re

from ehr.identity.oauth.scopes import ResourceScope, ScopeSet

_VERBS = {"c": "create", "r": "read", "u": "change", "d": "delete", "s": "search"}
_OTHER = {
    "openid": "Confirm who you are to the app",
    "fhirUser": "Know which person you are in the record (your user record)",
    "profile": "See your name",
    "launch": "Receive the patient and visit you opened the app from",
    "launch/patient": "Know which patient you choose",
    "launch/encounter": "Know which visit is open",
    "offline_access": "Keep access after you sign out, until you revoke it",
    "online_access": "Keep access while you stay signed in",
}


def _words(resource: str) -> str:
    if resource == "*":
        return "all kinds of records"
    return re.sub(r"(?<!^)(?=[A-Z])", " ", resource).lower() + " records"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def describe_resource(scope: ResourceScope, *, patient_user: bool = False) -> str:
    verbs = _join([_VERBS[a] for a in scope.actions])
    whose = {
        "patient": "your own" if patient_user else "the selected patient's",
        "user": "the" if not patient_user else "your",
        "system": "all",
    }[scope.context]
    text = f"{verbs.capitalize()} {whose} {_words(scope.resource)}"
    if scope.context == "user" and not patient_user:
        text += " you are allowed to see"
    if scope.query:
        limits = ", ".join(f"{k} = {v.rsplit('|', 1)[-1]}" for k, v in scope.query)
        text += f" (only where {limits})"
    return text


def describe(scopes: ScopeSet, *, patient_user: bool = False) -> list[tuple[str, str]]:
    """(scope, plain words) for each scope, in the order they are listed."""
    out = [
        (str(s), describe_resource(s, patient_user=patient_user)) for s in scopes.resource_scopes
    ]
    for item in scopes.items()[len(scopes.resource_scopes) :]:
        out.append((item, _OTHER.get(item, item)))
    return out
