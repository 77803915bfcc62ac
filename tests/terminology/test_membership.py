"""The public API on well-known bindings: members, non-members, versions, case, form-only."""

from __future__ import annotations

import pytest

from ehr.terminology import (
    check_code,
    check_coding_in_codesystem,
    display_for,
    valueset_known,
)

FHIR_VS = "http://hl7.org/fhir/ValueSet/"
GENDER = FHIR_VS + "administrative-gender"
UCUM = "http://unitsofmeasure.org"


@pytest.mark.parametrize("url", [GENDER, GENDER + "|4.0.1", GENDER + "|9.9.9"])
@pytest.mark.parametrize("code", ["male", "female", "other", "unknown"])
def test_administrative_gender_members(url, code):
    assert check_code(url, None, code).status == "member"
    assert check_code(url, "http://hl7.org/fhir/administrative-gender", code).status == "member"


@pytest.mark.parametrize("code", ["banana", "Male", "MALE", "m", ""])
def test_administrative_gender_non_members(code):
    result = check_code(GENDER + "|4.0.1", None, code)
    assert result.status == "not-member"
    assert "administrative-gender" in result.message


def test_right_code_wrong_system_is_not_a_member():
    result = check_code(
        GENDER, "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender", "M"
    )
    assert result.status == "not-member"
    assert "systems it uses" in result.message


@pytest.mark.parametrize(
    "code",
    ["registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error"],
)
def test_observation_status(code):
    assert check_code(FHIR_VS + "observation-status|4.0.1", None, code).status == "member"


def test_observation_status_rejects_request_status_codes():
    assert check_code(FHIR_VS + "observation-status|4.0.1", None, "active").status == "not-member"


@pytest.mark.parametrize(
    "code", ["draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"]
)
def test_request_status(code):
    assert check_code(FHIR_VS + "request-status|4.0.1", None, code).status == "member"
    assert check_code(FHIR_VS + "request-status|4.0.1", None, "final").status == "not-member"


def test_allergy_clinical_status_with_its_tho_system():
    vs = FHIR_VS + "allergyintolerance-clinical|4.0.1"
    system = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
    for code in ("active", "inactive", "resolved"):
        assert check_code(vs, system, code).status == "member"
    # Same code, the condition's code system: not this value set.
    other = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    assert check_code(vs, other, "active").status == "not-member"
    assert check_code(vs, system, "remission").status == "not-member"


def test_tho_value_set_bound_with_an_r4_version_falls_back_to_the_newest_edition():
    # R4 binds v3-NullFlavor "|4.0.1", an edition that never existed; THO 7.0.1's is used.
    vs = "http://terminology.hl7.org/ValueSet/v3-NullFlavor|4.0.1"
    system = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
    assert check_code(vs, system, "UNK").status == "member"
    assert check_code(vs, system, "BANANA").status == "not-member"


def test_r4_value_set_drawing_on_tho_code_systems():
    marital = FHIR_VS + "marital-status|4.0.1"
    assert check_code(
        marital, "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "M"
    ).status == ("member")
    assert check_code(
        marital, "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK"
    ).status == ("member")
    encounter = "http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"
    act_code = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    assert check_code(encounter, act_code, "AMB").status == "member"
    assert check_code(encounter, act_code, "_ActEncounterCode").status == "not-member"  # abstract


def test_languages_is_a_list_of_bcp47_tags_matched_without_case():
    vs = FHIR_VS + "languages"
    assert check_code(vs, None, "en-US").status == "member"
    assert check_code(vs, "urn:ietf:bcp:47", "EN-us").status == "member"
    # A valid tag outside the list: not a member (the binding is extensible/preferred: a warning).
    assert check_code(vs, None, "sw").status == "not-member"
    all_languages = FHIR_VS + "all-languages"
    result = check_code(all_languages, None, "de-CH-1996")
    assert result.status == "form-only-ok"
    assert "form" in result.message
    assert check_code(all_languages, None, "not a tag").status == "form-invalid"


def test_mimetypes_are_checked_for_form():
    vs = FHIR_VS + "mimetypes|4.0.1"
    for code in ("application/fhir+json", "text/plain; charset=UTF-8", "image/png"):
        result = check_code(vs, None, code)
        assert result.status == "form-only-ok"
        assert "only its form was checked" in result.message
    assert check_code(vs, None, "json").status == "form-invalid"
    assert check_code(vs, "urn:ietf:bcp:13", "xml").status == "form-invalid"


@pytest.mark.parametrize("unit", ["mg/dL", "kg/m2", "10*3/uL", "%", "/min"])
def test_ucum_units_form_check(unit):
    assert check_coding_in_codesystem(UCUM, unit).status == "form-only-ok"
    assert check_code(FHIR_VS + "ucum-units", UCUM, unit).status in ("member", "form-only-ok")


def test_ucum_rejects_double_solidus():
    assert check_coding_in_codesystem(UCUM, "mg//dL").status == "form-invalid"
    assert check_code(FHIR_VS + "ucum-units", UCUM, "mg//dL").status == "form-invalid"


def test_enumerated_ucum_value_set_is_closed():
    # units-of-time lists its UCUM codes: a valid unit that is not listed is not a member.
    vs = FHIR_VS + "units-of-time|4.0.1"
    assert check_code(vs, None, "min").status == "member"
    assert check_code(vs, None, "mg").status == "not-member"


def test_snomed_value_set_defined_by_filter_is_form_only():
    vs = FHIR_VS + "clinical-findings"
    sct = "http://snomed.info/sct"
    assert check_code(vs, sct, "109006").status == "member"  # listed in the official expansion
    assert check_code(vs, sct, "22298006").status == "form-only-ok"  # not listed (cut at 1000)
    assert check_code(vs, sct, "22298007").status == "form-invalid"  # bad Verhoeff digit


def test_snomed_value_set_that_lists_its_concepts_is_closed():
    vs = FHIR_VS + "condition-severity|4.0.1"
    sct = "http://snomed.info/sct"
    assert check_code(vs, sct, "24484000").status == "member"  # severe
    assert check_code(vs, sct, "22298006").status == "not-member"


def test_cvx_codes_newer_than_the_2019_expansion_pass_on_form():
    vs = FHIR_VS + "vaccine-code"
    cvx = "http://hl7.org/fhir/sid/cvx"
    assert check_code(vs, cvx, "03").status == "member"
    assert check_code(vs, cvx, "208").status == "form-only-ok"  # COVID-19 vaccine, after 2019
    assert check_code(vs, cvx, "x1").status == "form-invalid"


def test_loinc_answer_list_bound_by_r4_is_form_only():
    vs = "http://loinc.org/vs/LL379-9|4.0.1"
    assert valueset_known(vs)
    assert check_code(vs, "http://loinc.org", "LA6690-7").status == "form-only-ok"
    assert check_code(vs, "http://loinc.org", "2345-7").status == "not-member"  # not an answer


def test_unknown_value_set():
    result = check_code(FHIR_VS + "no-such-thing", None, "x")
    assert result.status == "unknown-valueset"
    assert not valueset_known(FHIR_VS + "no-such-thing")
    assert valueset_known(GENDER) and valueset_known(GENDER + "|4.0.1")
    assert valueset_known("http://snomed.info/sct?fhir_vs=isa/404684003")


def test_codes_in_code_systems():
    gender = "http://hl7.org/fhir/administrative-gender"
    assert check_coding_in_codesystem(gender, "male").status == "member"
    assert check_coding_in_codesystem(gender, "banana").status == "not-member"
    assert check_coding_in_codesystem("http://loinc.org", "2345-7").status == "form-only-ok"
    assert check_coding_in_codesystem("http://loinc.org", "2345-8").status == "form-invalid"
    assert check_coding_in_codesystem("http://example.org/nothing", "x").status == (
        "unknown-system"
    )
    # HL7 Terminology v2 table held only as a fragment: an unlisted code cannot be judged.
    assert check_coding_in_codesystem(
        "http://terminology.hl7.org/CodeSystem/v2-0005", "NOT-LISTED"
    ).status == ("unknown-system")


def test_case_insensitive_code_system():
    system = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
    assert check_coding_in_codesystem(system, "_ActCoverageAssessmentObservationValue").status == (
        "member"
    )
    assert check_coding_in_codesystem(system, "_actcoverageassessmentobservationvalue").status == (
        "member"
    )


def test_displays():
    assert display_for("http://hl7.org/fhir/administrative-gender", "male") == "Male"
    assert display_for("http://snomed.info/sct", "109006") == (
        "Anxiety disorder of childhood OR adolescence"
    )
    assert display_for("http://hl7.org/fhir/administrative-gender", "banana") is None
