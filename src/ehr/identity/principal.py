"""Who is asking: the one object every access decision and audit record is made from.

Built by the session middleware (staff and portal screens), by the bearer-token check (the FHIR
API) and by the command line (``system``). The engine boundary decides access from it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("admin", "provider", "nurse", "front_desk", "biller", "patient", "proxy")


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" (a person, by session or token), "client" (backend service), "system"
    username: str  # login name, or the client id for backend services, or "system"
    role: str | None = None  # one of ROLES; None for backend clients and the system
    user_id: int | None = None
    fhir_user: str | None = None  # "Practitioner/123", "Patient/abc", "RelatedPerson/x"
    client_id: str | None = None  # the OAuth client acting for the user, if any
    scopes: Any = None  # a parsed scope set (ehr.identity.scopes); None = no scope restriction
    patient: str | None = None  # patient id in context: access limited to that compartment
    break_glass: bool = False  # emergency access granted and still running
    token_id: str | None = None  # access token or session it came with (for the audit)
    source: str | None = None  # remote address
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_system(self) -> bool:
        return self.kind == "system"


SYSTEM = Principal(kind="system", username="system")
