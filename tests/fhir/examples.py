"""The example resources of the official R4 package, shared by the tests that use them."""

from __future__ import annotations

from ehr.fhir.definitions.paths import package_dir

# The package's own definitions (not examples); they are the engine's input, not data.
DEFINITION_TYPES = frozenset(
    {
        "StructureDefinition",
        "SearchParameter",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
        "OperationDefinition",
        "CompartmentDefinition",
    }
)


def example_names() -> list[str]:
    """File names of every non-conformance example in the unpacked package."""
    out = []
    for path in sorted(package_dir().glob("*.json")):
        if path.name in ("package.json", ".index.json"):
            continue
        if path.name.split("-", 1)[0] in DEFINITION_TYPES:
            continue
        out.append(path.name)
    return out


EXAMPLES = example_names()
