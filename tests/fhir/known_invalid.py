"""Examples of the published R4 package that break the specification's own rules.

Each entry: file name -> (location the validator must report, why the example is invalid).
The validator rejects them; the store's round trip of them is checked with validation off.
"""

KNOWN_INVALID: dict[str, tuple[str, str]] = {
    "DeviceMetric-example.json": (
        "DeviceMetric.parent.reference",
        "parent refers to a DeviceDefinition; R4 allows only Device",
    ),
    "DeviceUseStatement-example.json": (
        "DeviceUseStatement.reasonReference[0].reference",
        "reasonReference refers to a Procedure, which R4 does not allow there",
    ),
    "MedicationRequest-medrx0301.json": (
        "MedicationRequest.dispenseRequest.performer.reference",
        "dispenseRequest.performer refers to a Practitioner; R4 allows only Organization",
    ),
    "Observation-clinical-gender.json": (
        "Observation.performer[0].reference",
        "performer refers to an Encounter, which R4 does not allow",
    ),
    "Questionnaire-qs1.json": (
        "Questionnaire.item[0].item[0].linkId",
        "nested items have no linkId, which is required",
    ),
    "ImplementationGuide-fhir.json": (
        "ImplementationGuide.name",
        "name and status are required but missing; one manifest reference has an id longer "
        "than 64 characters",
    ),
    "ig-r4.json": (
        "ImplementationGuide.name",
        "the same ImplementationGuide as ImplementationGuide-fhir.json",
    ),
    "Bundle-dataelements.json": (
        "Bundle",
        "seven entries share a fullUrl (bdl-7)",
    ),
    "ActivityDefinition-blood-tubes-supply.json": (
        "ActivityDefinition.text.div",
        "the narrative div holds only whitespace (txt-1/txt-2: some non-whitespace content)",
    ),
    "ActivityDefinition-heart-valve-replacement.json": (
        "ActivityDefinition.text.div",
        "the narrative div holds only whitespace (txt-1/txt-2: some non-whitespace content)",
    ),
    "EventDefinition-example.json": (
        "EventDefinition.text.div",
        "the narrative div holds only whitespace (txt-1/txt-2: some non-whitespace content)",
    ),
    "Questionnaire-zika-virus-exposure-assessment.json": (
        "Questionnaire.text.div",
        "the narrative div holds only whitespace (txt-1/txt-2: some non-whitespace content)",
    ),
    "TestScript-testscript-example-history.json": (
        "TestScript.setup.action[0].operation.accept",
        "accept/contentType use the STU3 short forms xml/json; R4 binds them to mime types",
    ),
    "TestScript-testscript-example-multisystem.json": (
        "TestScript.test[0].action[0].operation.accept",
        "accept/contentType use the STU3 short forms xml/json; R4 binds them to mime types",
    ),
    "TestScript-testscript-example-readtest.json": (
        "TestScript.test[0].action[0].operation.accept",
        "accept/contentType use the STU3 short forms xml/json; R4 binds them to mime types",
    ),
    "TestScript-testscript-example-search.json": (
        "TestScript.setup.action[0].operation.accept",
        "accept/contentType use the STU3 short forms xml/json; R4 binds them to mime types",
    ),
    "TestScript-testscript-example-update.json": (
        "TestScript.setup.action[0].operation.accept",
        "accept/contentType use the STU3 short forms xml/json; R4 binds them to mime types",
    ),
    "TestScript-testscript-example.json": (
        "TestScript.setup.action[0].operation.accept",
        "accept/contentType use the STU3 short forms xml/json; R4 binds them to mime types",
    ),
}
