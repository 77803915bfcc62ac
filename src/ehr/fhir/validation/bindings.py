"""Value-set bindings: required ones are errors, extensible and preferred ones warnings.

Codes of very large code systems (SNOMED CT, LOINC, RxNorm...) cannot be shipped; the
terminology layer checks their form only, and the validator says so once per system.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ehr.fhir.validation.issues import Issue

if TYPE_CHECKING:
    from ehr.fhir.validation.schema import ElementRule
    from ehr.fhir.validation.validator import Walker


@cache
def _terminology():
    """The terminology layer, its index loaded (a missing index is an install error, raised)."""
    import ehr.terminology as terminology

    terminology._load()
    return terminology


def _verdict(walker: Walker, vs: str, system: str | None, code: str) -> bool | None:
    """True member, False not a member, None cannot tell (unknown set, form-only system)."""
    result = _terminology().check_code(vs, system, code)
    status = result.status
    if status == "member":
        return True
    if status == "not-member":
        return False
    if status == "form-only-ok":
        if system:
            walker.form_only.add(system)
        return None
    if status == "form-invalid":
        return False
    return None


def _message(er: ElementRule, what: str) -> str:
    strength, vs = er.binding
    return f"{what} is not in the value set {vs.split('|')[0]} ({strength} binding of {er.path})"


def _report(walker: Walker, er: ElementRule, expr: str, what: str) -> None:
    strength = er.binding[0]
    if strength == "required":
        walker.issues.append(Issue("error", "code-invalid", expr, _message(er, what)))
    elif strength in ("extensible", "preferred"):
        walker.issues.append(Issue("warning", "code-invalid", expr, _message(er, what)))


# CapabilityStatement.format is bound to mime types, yet its definition allows the short forms
# "xml | json | ttl" beside them (and every R4 CapabilityStatement example uses them).
_MIME_SHORT_FORMS = {"xml", "json", "ttl"}


def check_code(walker: Walker, er: ElementRule, code: str, expr: str) -> None:
    if er.binding[0] not in ("required", "extensible", "preferred"):
        return
    if code in _MIME_SHORT_FORMS and er.path == "CapabilityStatement.format":
        return
    if _verdict(walker, er.binding[1], None, code) is False:
        _report(walker, er, expr, f"code '{code}'")


def check_coded(walker: Walker, er: ElementRule, value: dict, expr: str) -> None:
    strength, vs = er.binding
    if strength not in ("required", "extensible", "preferred"):
        return
    if er.type == "Quantity":
        code = value.get("code")
        if type(code) is str and _verdict(walker, vs, value.get("system"), code) is False:
            _report(walker, er, f"{expr}.code", f"unit '{code}'")
        return
    codings: list[Any] = [value] if er.type == "Coding" else (value.get("coding") or [])
    codings = [c for c in codings if type(c) is dict and type(c.get("code")) is str]
    if not codings:
        if strength == "required" and er.type == "CodeableConcept" and "text" in value:
            walker.issues.append(
                Issue("error", "code-invalid", expr,
                      _message(er, "a concept with text only (no coding)"))
            )  # fmt: skip
        return
    verdicts = [_verdict(walker, vs, c.get("system"), c["code"]) for c in codings]
    if any(v is True or v is None for v in verdicts):
        return
    shown = ", ".join(f"{c.get('system', '')}|{c['code']}" for c in codings)
    _report(walker, er, expr, f"coding {shown}")


def report_form_only(walker: Walker) -> None:
    for system in sorted(walker.form_only):
        walker.issues.append(
            Issue(
                "information",
                "informational",
                walker.root.get("resourceType", "") if type(walker.root) is dict else "",
                f"codes of {system} were checked for form only: the code system is too large "
                "to ship with the server",
            )
        )
