"""Form checks for code systems too large (or too external) to ship.

SNOMED CT, LOINC, RxNorm, ICD-10, CPT, NDC and the rest cannot be enumerated here, so a code of
theirs is checked only for its form: a SNOMED CT concept id must carry a valid Verhoeff check
digit, a LOINC code a valid mod-10 check digit, a UCUM unit must parse, a language tag must
follow BCP 47. A code that passes is reported as "form only": it may still not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from ehr.terminology.ucum import is_valid_ucum


class External(NamedTuple):
    name: str
    check: Callable[[str], bool] | None  # None: no well-defined form, nothing can be checked
    case_sensitive: bool
    large: bool  # too large to ship (as opposed to simply not published in our packages)


# --- SNOMED CT -------------------------------------------------------------------------------

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_SCTID = re.compile(r"[1-9][0-9]{5,17}")


def verhoeff_ok(digits: str) -> bool:
    """True when the last digit is the Verhoeff check digit of the others."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][ord(ch) - 48]]
    return c == 0


def snomed_concept_id(code: str) -> bool:
    """SNOMED CT concept id: 6-18 digits, concept partition (00 or 10), Verhoeff check digit.

    Post-coordinated expressions are not accepted: a bound element wants a concept.
    """
    return _SCTID.fullmatch(code) is not None and code[-3:-1] in ("00", "10") and verhoeff_ok(code)


# --- LOINC -----------------------------------------------------------------------------------

_LOINC = re.compile(r"([1-9][0-9]{0,6})-([0-9])")
# Parts (LP), answers (LA) and groups (LG) carry a check digit whose algorithm differs from the
# term codes' and is not published; only their shape is checked.
_LOINC_PART = re.compile(r"L[APG][1-9][0-9]{0,7}-[0-9]")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def loinc_code(code: str) -> bool:
    """LOINC term code ``NNNNN-C`` whose check digit is the mod-10 (Luhn) digit of NNNNN."""
    m = _LOINC.fullmatch(code)
    if m:
        return luhn_ok(m.group(1) + m.group(2))
    return _LOINC_PART.fullmatch(code) is not None


# --- BCP 47 language tags (RFC 5646) ---------------------------------------------------------

_ALNUM = "[a-z0-9]"
_LANGTAG = (
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})"  # language (+ extlang)
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"  # variants
    rf"(?:-[0-9a-wyz](?:-{_ALNUM}{{2,8}})+)*"  # extensions
    rf"(?:-x(?:-{_ALNUM}{{1,8}})+)?"  # private use
)
_BCP47 = re.compile(
    rf"{_LANGTAG}|x(?:-{_ALNUM}{{1,8}})+"
    r"|en-gb-oed|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)"
    r"|sgn-(?:be-fr|be-nl|ch-de)|art-lojban|cel-gaulish|no-bok|no-nyn"
    r"|zh-(?:guoyu|hakka|min|min-nan|xiang)"
)


def bcp47_tag(code: str) -> bool:
    """Language tag per RFC 5646 (syntax only; subtags are not looked up in the registry)."""
    return _BCP47.fullmatch(code.lower()) is not None


# --- MIME types (BCP 13: RFC 6838 / RFC 2045) ------------------------------------------------

_RESTRICTED_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MIME = re.compile(
    r"(?:application|audio|example|font|haptics|image|message|model|multipart|text|video"
    rf"|x-{_RESTRICTED_NAME})/{_RESTRICTED_NAME}"
    rf'(?:[ \t]*;[ \t]*{_TOKEN}=(?:"(?:[^"\\]|\\.)*"|[^;"\x00-\x1f]+))*',
    re.IGNORECASE,
)


def mime_type(code: str) -> bool:
    """``type/subtype`` with a registered top-level type, optional ``; name=value`` params.

    Parameter values are taken leniently (RFC 2045 would want ``variant=DICOM WADO-RS``
    quoted): what a binding cares about is the media type itself.
    """
    return _MIME.fullmatch(code) is not None


# --- Others with a well-defined shape ---------------------------------------------------------


def _pattern(regex: str, flags: int = 0) -> Callable[[str], bool]:
    compiled = re.compile(regex, flags)
    return lambda code: compiled.fullmatch(code) is not None


_NDC = _pattern(
    r"[0-9]{4}-[0-9]{4}-[0-9]{2}|[0-9]{5}-[0-9]{3}-[0-9]{2}|[0-9]{5}-[0-9]{4}-[0-9]{1,2}"
    r"|[0-9]{10,11}"
)
_ICD10 = _pattern(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?|[A-Z][0-9]{2}-[A-Z][0-9]{2}")
_ICD10CM = _pattern(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
_ICD10PCS = _pattern(r"[0-9A-HJ-NP-Z]{7}")
_ICD9CM = _pattern(r"(?:[0-9]{3}|V[0-9]{2}|E[0-9]{3})(?:\.[0-9]{1,2})?|[0-9]{2}(?:\.[0-9]{1,2})?")
_CPT = _pattern(r"[0-9]{4}[0-9FTU]|[0-9A-Z]{2}")  # codes, and the two-character modifiers
_HCPCS = _pattern(r"[A-V][0-9]{4}|[A-Z0-9]{2}")
_RXNORM = _pattern(r"[1-9][0-9]{0,8}")
_CVX = _pattern(r"[0-9]{1,3}")
_MVX = _pattern(r"[A-Z]{2,3}")
_ISO3166 = _pattern(r"[A-Z]{2}|[A-Z]{3}|[0-9]{3}")
_ISO3166_2 = _pattern(r"[A-Z]{2}-[A-Z0-9]{1,3}")
_ISO4217 = _pattern(r"[A-Z]{3}|[0-9]{3}")
_NUCC = _pattern(r"[0-9]{3}[0-9A-Z]{6}X")
_UNII = _pattern(r"[0-9A-Z]{10}")
_M49 = _pattern(r"[0-9]{3}")
_URI = _pattern(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_HGNC = _pattern(r"HGNC:[0-9]+")
_IANA_TZ = _pattern(r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)*")
_NAICS = _pattern(r"[0-9]{2,6}")
_MDC = _pattern(r"[0-9]{1,10}|MDC_[A-Z0-9_]+")
_USPS = _pattern(r"[A-Z]{2}")

EXTERNAL: dict[str, External] = {
    "http://snomed.info/sct": External("SNOMED CT", snomed_concept_id, True, True),
    "http://loinc.org": External("LOINC", loinc_code, False, True),
    "http://www.nlm.nih.gov/research/umls/rxnorm": External("RxNorm", _RXNORM, True, True),
    "http://unitsofmeasure.org": External("UCUM", is_valid_ucum, True, True),
    "urn:ietf:bcp:47": External("BCP 47 language tags", bcp47_tag, False, True),
    "urn:ietf:bcp:13": External("MIME types (BCP 13)", mime_type, False, True),
    "http://hl7.org/fhir/sid/icd-10": External("ICD-10", _ICD10, True, True),
    "http://hl7.org/fhir/sid/icd-10-cm": External("ICD-10-CM", _ICD10CM, True, True),
    "http://www.cms.gov/Medicare/Coding/ICD10": External("ICD-10-PCS", _ICD10PCS, True, True),
    "http://hl7.org/fhir/sid/icd-9-cm": External("ICD-9-CM", _ICD9CM, True, True),
    "http://www.ama-assn.org/go/cpt": External("CPT", _CPT, True, True),
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": External(
        "HCPCS Level II", _HCPCS, True, True
    ),
    "http://hl7.org/fhir/sid/ndc": External("NDC", _NDC, True, True),
    "http://hl7.org/fhir/sid/cvx": External("CVX", _CVX, True, False),
    "http://hl7.org/fhir/sid/mvx": External("MVX", _MVX, True, False),
    "urn:iso:std:iso:3166": External("ISO 3166-1 countries", _ISO3166, True, False),
    "urn:iso:std:iso:3166:-2": External("ISO 3166-2 subdivisions", _ISO3166_2, True, False),
    "urn:iso:std:iso:4217": External("ISO 4217 currencies", _ISO4217, True, False),
    "http://nucc.org/provider-taxonomy": External("NUCC provider taxonomy", _NUCC, True, False),
    "http://fdasis.nlm.nih.gov": External("UNII", _UNII, True, True),
    "http://unstats.un.org/unsd/methods/m49/m49.htm": External("UN M49 regions", _M49, True, False),
    "urn:ietf:rfc:3986": External("URIs (RFC 3986)", _URI, True, True),
    "http://www.genenames.org": External("HGNC", _HGNC, True, True),
    "https://www.iana.org/time-zones": External("IANA time zones", _IANA_TZ, True, False),
    "http://terminology.hl7.org/CodeSystem/naics": External("NAICS", _NAICS, True, False),
    "urn:iso:std:iso:11073:10101": External("ISO/IEEE 11073 MDC", _MDC, True, True),
    "https://www.usps.com/": External("USPS state codes", _USPS, True, False),
    # HL7 Terminology holds these only as fragments or stubs; their codes have a known shape.
    "http://terminology.hl7.org/CodeSystem/v3-mediaType": External(
        "MIME types (v3 mediaType)", mime_type, False, True
    ),
    "http://terminology.hl7.org/CodeSystem/ietf3066": External(
        "language tags (RFC 3066)", bcp47_tag, False, True
    ),
    "http://terminology.hl7.org/CodeSystem/icd9cm": External("ICD-9-CM", _ICD9CM, True, True),
    "http://terminology.hl7.org/CodeSystem/icd10": External("ICD-10", _ICD10, True, True),
}


def external(system: str) -> External | None:
    return EXTERNAL.get(system)


def implicit_valueset(url: str) -> tuple[str, tuple[str, ...]] | None:
    """Value sets defined by a code system's own URL scheme rather than by a resource.

    ``http://snomed.info/sct?fhir_vs[=isa/X]`` (any system's ``?fhir_vs``) and LOINC's
    ``http://loinc.org/vs`` (all of LOINC) or ``http://loinc.org/vs/LL...`` (an answer list,
    whose members are LA answer codes). Returns (system, code regexes) or None.
    """
    base = url.partition("|")[0]
    if "?fhir_vs" in base:
        return base.partition("?fhir_vs")[0], ()
    if base == "http://loinc.org/vs":
        return "http://loinc.org", ()
    if base.startswith("http://loinc.org/vs/LL"):
        return "http://loinc.org", (r"LA[0-9]+-[0-9]",)
    if base.startswith("http://loinc.org/vs/"):
        return "http://loinc.org", ()
    return None
