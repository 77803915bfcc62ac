"""How each audit action maps onto the codes of a FHIR R4 AuditEvent."""

from __future__ import annotations

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
ACTION_SYSTEM = "urn:ehr:audit-action"  # our own action codes, as a second subtype coding


def _dcm(code: str, display: str) -> dict:
    return {"system": DCM, "code": code, "display": display}


_REST = {"system": EVENT_TYPE, "code": "rest", "display": "Restful Operation"}
_AUTH = _dcm("110114", "User Authentication")
_SECURITY = _dcm("110113", "Security Alert")
_EXPORT = _dcm("110106", "Export")


_USER_ATTRS = _dcm("110137", "User security Attributes Changed")

# action: (AuditEvent.action C/R/U/D/E, type coding, standard subtype coding or None)
ACTIONS: dict[str, tuple[str, dict, dict | None]] = {
    "read": ("R", _REST, {"system": RESTFUL, "code": "read"}),
    "vread": ("R", _REST, {"system": RESTFUL, "code": "vread"}),
    "search": ("E", _REST, {"system": RESTFUL, "code": "search-type"}),
    "history": ("R", _REST, {"system": RESTFUL, "code": "history-instance"}),
    "create": ("C", _REST, {"system": RESTFUL, "code": "create"}),
    "update": ("U", _REST, {"system": RESTFUL, "code": "update"}),
    "patch": ("U", _REST, {"system": RESTFUL, "code": "patch"}),
    "delete": ("D", _REST, {"system": RESTFUL, "code": "delete"}),
    "transaction": ("E", _REST, {"system": RESTFUL, "code": "transaction"}),
    "batch": ("E", _REST, {"system": RESTFUL, "code": "batch"}),
    "operation": ("E", _REST, {"system": RESTFUL, "code": "operation"}),
    "export": ("E", _EXPORT, None),
    "print": ("R", _EXPORT, None),
    "login": ("E", _AUTH, _dcm("110122", "Login")),
    "logout": ("E", _AUTH, _dcm("110123", "Logout")),
    "login-failed": ("E", _AUTH, _dcm("110122", "Login")),
    "lockout": ("E", _SECURITY, _USER_ATTRS),
    "mfa-change": ("U", _SECURITY, _USER_ATTRS),
    "password-change": ("U", _SECURITY, _USER_ATTRS),
    "permission-change": ("U", _SECURITY, _dcm("110136", "Security Roles Changed")),
    "account-change": ("U", _SECURITY, _USER_ATTRS),
    "break-glass": ("E", _SECURITY, _dcm("110127", "Emergency Override Started")),
    "break-glass-end": ("E", _SECURITY, _dcm("110138", "Emergency Override Stopped")),
    "token-issued": ("E", _AUTH, None),
    "token-refused": ("E", _AUTH, None),
    "token-revoked": ("E", _AUTH, None),
    "client-change": ("U", _SECURITY, _dcm("110129", "Security Configuration")),
    "access-denied": ("E", _SECURITY, _dcm("110132", "Use of Restricted Function")),
}

UNKNOWN = ("E", _dcm("110100", "Application Activity"), None)


def codes_for(action: str) -> tuple[str, dict, dict | None]:
    return ACTIONS.get(action, UNKNOWN)


def actions_for_crude(letter: str) -> list[str]:
    """Our actions whose AuditEvent.action is ``letter`` (C, R, U, D or E)."""
    return [a for a, (crude, _, _) in ACTIONS.items() if crude == letter]


def actions_for_subtype(code: str) -> list[str]:
    """Our actions shown with subtype ``code`` (a restful-interaction, DCM or our own code)."""
    if code in ACTIONS:
        return [code]
    found = [a for a, (_, _, sub) in ACTIONS.items() if sub and sub["code"] == code]
    if code in ("search-system", "search-type", "search-compartment"):
        found.append("search")
    elif code.startswith("history-"):
        found.append("history")
    return found


def outcome_code(outcome: str, status: int) -> str:
    """AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure."""
    if outcome == "success":
        return "0"
    if status >= 500:
        return "8"
    return "4"
