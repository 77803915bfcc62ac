"""Terminology layer: is this code in that value set, is it defined in that code system?

Called by the validator for every coded element of every write, so each call is a couple of
dict and set lookups on an index built ahead of time (``python -m ehr.terminology.build``)
from the official R4 packages and HL7 Terminology. Codes of systems too large to ship (SNOMED
CT, LOINC, RxNorm, UCUM, BCP 47...) are checked for form only, and the result says so.

Statuses: ``member``, ``not-member``, ``form-only-ok`` (well formed, existence not checked),
``form-invalid``, ``unknown-valueset``, ``unknown-system`` (nothing we can check against).
"""

from __future__ import annotations

from ehr.terminology.index import (
    MEMBER,
    CodeCheck,
    TerminologyMissing,
    displays,
    form_only,
)
from ehr.terminology.index import index as _load  # keeps ``ehr.terminology.index`` the module

__all__ = [
    "CodeCheck",
    "TerminologyMissing",
    "check_code",
    "check_coding_in_codesystem",
    "display_for",
    "valueset_known",
]


def check_code(valueset_url: str, system: str | None, code: str) -> CodeCheck:
    """Is ``code`` (of ``system``; None for a plain FHIR ``code``) in the value set?

    ``valueset_url`` may carry ``|version``: that edition if we hold it, else the newest.
    """
    vs = _load().valueset(valueset_url)
    if vs is None:
        return CodeCheck("unknown-valueset", f"value set {valueset_url} is not known")
    return vs.check(system, code)


def check_coding_in_codesystem(system: str, code: str) -> CodeCheck:
    """Is ``code`` defined in ``system``? Exact for complete code systems we hold."""
    idx = _load()
    entry = idx.raw_cs.get(system)
    if entry is not None and entry["content"] != "not-present":
        if code in idx.codes(system):
            return MEMBER
        if idx.ci(system) and code.lower() in idx.codes_ci(system):
            return MEMBER
        if entry["content"] == "complete":
            version = f" (version {entry['version']})" if entry.get("version") else ""
            return CodeCheck("not-member", f"'{code}' is not a code of {system}{version}")
    result = form_only(system, code, f" in {system}")
    if result.status == "unknown-system" and entry is not None:
        return CodeCheck(
            "unknown-system",
            f"code system {system} is held only as a {entry['content']} and '{code}' is not "
            "among the codes we hold; it could not be checked",
        )
    if result.status == "unknown-system":
        return CodeCheck("unknown-system", f"code system {system} is not known")
    return result


def valueset_known(valueset_url: str) -> bool:
    return _load().valueset(valueset_url) is not None


def display_for(system: str, code: str) -> str | None:
    """Display text of a code, where a package we hold gives one (loaded on first use)."""
    return displays().get(system, {}).get(code)
