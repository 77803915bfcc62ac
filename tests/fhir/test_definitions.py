from ehr.fhir import definitions


def test_resource_types_come_from_the_package():
    types = definitions.resource_types()
    assert len(types) == 146
    for name in ("Patient", "Observation", "Bundle", "Binary", "Parameters", "VerificationResult"):
        assert name in types
    assert "DomainResource" not in types and "Resource" not in types


def test_search_parameters_and_compartments():
    params = definitions.search_params("Patient")
    assert params["identifier"]["type"] == "token"
    assert params["identifier"]["expression"] == "Patient.identifier"
    assert params["_id"]["type"] == "token"  # inherited from Resource
    obs = definitions.search_params("Observation")
    assert obs["subject"]["type"] == "reference"
    assert "subject" in definitions.patient_compartment_params("Observation")


def test_choice_elements_are_expanded_for_top_level_names():
    top = definitions.top_level_elements("Observation")
    assert "valueQuantity" in top and "effectiveDateTime" in top
    assert top["status"]["min"] == 1 and top["status"].get("summary")
