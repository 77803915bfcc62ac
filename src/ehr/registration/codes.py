"""Code systems, extension URLs and answer lists used by registration (USCDI v3 / US Core 6.1).

Systems and URLs match the demo generator (``ehr.demo``) so registered and demo patients look
the same to search, the banner and the API.
"""

from __future__ import annotations

from ehr.demo import MRN_SYSTEM

__all__ = ["MRN_SYSTEM"]

THO = "http://terminology.hl7.org/CodeSystem/"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
US_CORE_PATIENT = US_CORE + "us-core-patient"
US_CORE_RELATED = US_CORE + "us-core-relatedperson"
US_CORE_COVERAGE = US_CORE + "us-core-coverage"
US_CORE_SEXUAL_ORIENTATION = US_CORE + "us-core-observation-sexual-orientation"
RACE_URL = US_CORE + "us-core-race"
ETHNICITY_URL = US_CORE + "us-core-ethnicity"
BIRTHSEX_URL = US_CORE + "us-core-birthsex"
GENDER_IDENTITY_URL = US_CORE + "us-core-genderIdentity"
PRONOUNS_URL = "http://hl7.org/fhir/StructureDefinition/individual-pronouns"
CONTACT_PREF_URL = "http://ehr.example.org/fhir/StructureDefinition/contact-preference"
PAYER_ID_SYSTEM = "http://ehr.example.org/sid/payer-id"
DOC_KIND_SYSTEM = "http://ehr.example.org/fhir/CodeSystem/document-kind"

CDC_RACE = "urn:oid:2.16.840.1.113883.6.238"  # CDC Race & Ethnicity
NULL_FLAVOR = THO + "v3-NullFlavor"
DATA_ABSENT = THO + "data-absent-reason"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
BCP47 = "urn:ietf:bcp:47"
ROLE_CODE = THO + "v3-RoleCode"
ROLE_CLASS = THO + "v3-RoleClass"
CONTACT_ROLE = THO + "v2-0131"
SUBSCRIBER_REL = THO + "subscriber-relationship"
COVERAGE_CLASS = THO + "coverage-class"
ID_TYPE = THO + "v2-0203"
ORG_TYPE = THO + "organization-type"
SOPT = "https://nahdo.org/sopt"

# OMB minimum categories (race), in the order of the OMB standard.
OMB_RACE: list[tuple[str, str]] = [
    ("1002-5", "American Indian or Alaska Native"),
    ("2028-9", "Asian"),
    ("2054-5", "Black or African American"),
    ("2076-8", "Native Hawaiian or Other Pacific Islander"),
    ("2106-3", "White"),
]
# Detailed CDC race codes most often asked for; each rolls up to one OMB category.
DETAILED_RACE: list[tuple[str, str]] = [
    ("1004-1", "American Indian"),
    ("1735-0", "Alaska Native"),
    ("2029-7", "Asian Indian"),
    ("2034-7", "Chinese"),
    ("2036-2", "Filipino"),
    ("2039-6", "Japanese"),
    ("2040-4", "Korean"),
    ("2047-9", "Vietnamese"),
    ("2058-6", "African American"),
    ("2060-2", "African"),
    ("2071-9", "Haitian"),
    ("2079-2", "Native Hawaiian"),
    ("2086-7", "Guamanian or Chamorro"),
    ("2080-0", "Samoan"),
    ("2108-9", "European"),
    ("2118-8", "Middle Eastern or North African"),
]
RACE_DECLINED = ("ASKU", "Asked but no answer")
RACE_UNKNOWN = ("UNK", "Unknown")

OMB_ETHNICITY: list[tuple[str, str]] = [
    ("2135-2", "Hispanic or Latino"),
    ("2186-5", "Not Hispanic or Latino"),
]
DETAILED_ETHNICITY: list[tuple[str, str]] = [
    ("2148-5", "Mexican"),
    ("2180-8", "Puerto Rican"),
    ("2182-4", "Cuban"),
    ("2155-0", "Central American"),
    ("2165-9", "South American"),
    ("2137-8", "Spaniard"),
    ("2184-0", "Dominican"),
]

BIRTH_SEX = [("F", "Female"), ("M", "Male"), ("UNK", "Unknown")]
ADMIN_GENDER = [("female", "Female"), ("male", "Male"), ("other", "Other"), ("unknown", "Unknown")]

# US Core 6.1 Gender Identity value set (SNOMED CT, plus null flavours).
GENDER_IDENTITY: list[tuple[str, str, str]] = [
    (SNOMED, "446141000124107", "Identifies as female gender"),
    (SNOMED, "446151000124109", "Identifies as male gender"),
    (SNOMED, "33791000087105", "Identifies as nonbinary gender"),
    (NULL_FLAVOR, "OTH", "Other"),
    (DATA_ABSENT, "asked-declined", "Asked but declined"),
    (NULL_FLAVOR, "UNK", "Unknown"),
]
# US Core 6.1 Sexual Orientation (Observation 76690-7) answers.
SEXUAL_ORIENTATION: list[tuple[str, str, str]] = [
    (SNOMED, "20430005", "Heterosexual"),
    (SNOMED, "38628009", "Homosexual (lesbian or gay)"),
    (SNOMED, "42035005", "Bisexual"),
    (NULL_FLAVOR, "OTH", "Something else"),
    (DATA_ABSENT, "asked-declined", "Asked but declined"),
    (NULL_FLAVOR, "UNK", "Unknown"),
]
# LOINC answer list LL5144-2 (personal pronouns).
PRONOUNS: list[tuple[str, str]] = [
    ("LA29518-0", "he/him/his/his/himself"),
    ("LA29519-8", "she/her/her/hers/herself"),
    ("LA29520-6", "they/them/their/theirs/themselves"),
]

LANGUAGES: list[tuple[str, str]] = [
    ("en-US", "English (United States)"),
    ("es", "Spanish"),
    ("zh", "Chinese"),
    ("vi", "Vietnamese"),
    ("ar", "Arabic"),
    ("so", "Somali"),
    ("fr", "French"),
    ("ht", "Haitian Creole"),
    ("ru", "Russian"),
    ("ko", "Korean"),
    ("tl", "Tagalog"),
    ("pt", "Portuguese"),
    ("hi", "Hindi"),
    ("ne", "Nepali"),
    ("de", "German"),
    ("ase", "American Sign Language"),
]

CONTACT_METHODS: list[tuple[str, str]] = [
    ("mobile", "Mobile phone"),
    ("home", "Home phone"),
    ("work", "Work phone"),
    ("sms", "Text message"),
    ("email", "Email"),
    ("mail", "Letter by post"),
    ("portal", "Patient portal"),
]

# Personal relationship of a contact, guarantor or subscriber to the patient (v3 RoleCode).
RELATIONSHIPS: list[tuple[str, str]] = [
    ("SPS", "spouse"),
    ("DOMPART", "domestic partner"),
    ("MTH", "mother"),
    ("FTH", "father"),
    ("PRN", "parent"),
    ("CHILD", "child"),
    ("SIB", "sibling"),
    ("GRPRN", "grandparent"),
    ("GUARD", "guardian"),
    ("FRND", "unrelated friend"),
    ("NBOR", "neighbor"),
    ("ROOM", "roommate"),
    ("FAMMEMB", "family member"),
]

# subscriber-relationship (Coverage.relationship)
SUBSCRIBER_RELATIONSHIPS: list[tuple[str, str]] = [
    ("self", "Self"),
    ("spouse", "Spouse"),
    ("child", "Child"),
    ("parent", "Parent"),
    ("common", "Common law spouse"),
    ("other", "Other"),
    ("injured", "Injured party"),
]
COVERAGE_ORDER = [(1, "Primary"), (2, "Secondary"), (3, "Tertiary")]
# Source of Payment Typology, as the demo data uses it.
COVERAGE_KINDS: list[tuple[str, str]] = [
    ("1", "MEDICARE"),
    ("2", "MEDICAID"),
    ("5", "PRIVATE HEALTH INSURANCE"),
    ("3", "OTHER GOVERNMENT (Federal/State/Local) (excluding Department of Corrections)"),
    ("81", "Self-pay"),
]

DOCUMENT_KINDS: list[tuple[str, str]] = [
    ("insurance-card-front", "Insurance card (front)"),
    ("insurance-card-back", "Insurance card (back)"),
    ("photo-id", "Driver's licence or photo ID"),
    ("other", "Other administrative document"),
]
# LOINC document types where one fits (the local kind keeps front and back apart).
DOCUMENT_LOINC = {
    "insurance-card-front": ("64290-0", "Insurance card"),
    "insurance-card-back": ("64290-0", "Insurance card"),
    "photo-id": ("53245-7", "Driver license"),
}

US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI",
)  # fmt: skip


def coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def display_of(options: list[tuple[str, str]], code: str) -> str:
    return dict(options).get(code, code)


def triple(options: list[tuple[str, str, str]], code: str) -> tuple[str, str, str] | None:
    return next((o for o in options if o[1] == code), None)
