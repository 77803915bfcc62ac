"""The access policy of one caller: role permissions, SMART scopes, patient context, emergency
access. The engine consults it through ``ehr.fhir.access`` (see there for where).

A request is allowed an action on a resource type only when the role allows it (the grid the
administrator edits) and, for a token, when a scope grants it too: a token never grants more
than the role. Patients and proxies are always held to their patient's compartment; a staff
token is held to the launch patient for whatever only its ``patient/`` scopes grant.
"""

from __future__ import annotations

from ehr.identity.permissions import role_allows
from ehr.identity.principal import Principal

# SMART scopes have no export letter: bulk export asks for read.
_SCOPE_LETTER = {"e": "r"}
_NO_PATIENT = "\x00none"  # a proxy with no patient chosen sees no patient's data


class PrincipalPolicy:
    def __init__(self, principal: Principal):
        self.principal = principal
        self.patient = self._patient()

    def _patient(self) -> str | None:
        p = self.principal
        if p.role == "patient":
            return p.patient or _NO_PATIENT
        if p.role == "proxy":
            allowed = p.extra.get("proxy_patients") or []
            if p.patient and (p.patient in allowed or p.scopes is not None):
                return p.patient
            return allowed[0] if len(allowed) == 1 else _NO_PATIENT
        return p.patient if p.scopes is not None else None

    def _role_permits(self, action: str, rtype: str) -> bool:
        p = self.principal
        if p.kind == "system":
            return True
        if p.kind == "client":  # a backend service: its scopes are its permissions
            return True
        if p.role is None:
            return False
        if role_allows(p.role, rtype, action):
            return True
        # Emergency access opens reading and searching everything for its duration.
        return p.break_glass and action in ("r", "s")

    def permits(self, action: str, rtype: str) -> bool:
        if (
            rtype == "AuditEvent"
            and self.principal.kind != "system"
            and (self.principal.role != "admin")
        ):
            return False  # the audit trail is for administrators only
        if not self._role_permits(action, rtype):
            return False
        scopes = self.principal.scopes
        if scopes is None:
            return self.principal.kind != "client"
        letter = _SCOPE_LETTER.get(action, action)
        if self.principal.kind in ("client", "system"):
            return scopes.allows("system", rtype, letter) or scopes.allows("user", rtype, letter)
        return scopes.allows("user", rtype, letter) or scopes.allows("patient", rtype, letter)

    def patient_for(self, action: str, rtype: str) -> str | None:
        if self.patient is None:
            return None
        p = self.principal
        if p.role in ("patient", "proxy") or p.scopes is None:
            return self.patient
        letter = _SCOPE_LETTER.get(action, action)
        if p.scopes.allows("user", rtype, letter):
            return None
        return self.patient

    def constraints(self, action: str, rtype: str) -> list[list[tuple[str, str]]]:
        scopes = self.principal.scopes
        if scopes is None:
            return []
        return scopes.constraints(rtype, _SCOPE_LETTER.get(action, action))
