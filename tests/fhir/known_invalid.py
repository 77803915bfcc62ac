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
}
