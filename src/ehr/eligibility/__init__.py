"""Insurance eligibility: 270/271 through a clearinghouse adapter, stored as FHIR
CoverageEligibilityRequest and CoverageEligibilityResponse (see docs/eligibility.md)."""
