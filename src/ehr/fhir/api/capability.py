"""CapabilityStatement generated from what the server really supports."""

from __future__ import annotations

import datetime
from functools import cache

from ehr import __version__
from ehr.fhir import definitions
from ehr.fhir.search.extract import INDEXED_TOKEN_PARAMS

_STARTED = datetime.date.today().isoformat()

INTERACTIONS = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
]


@cache
def _resources() -> list[dict]:
    out = []
    for rtype in sorted(definitions.resource_types()):
        params = definitions.search_params(rtype)
        search = [
            {
                "name": "_id",
                "type": "token",
                "definition": "http://hl7.org/fhir/SearchParameter/Resource-id",
            }
        ]
        for name in INDEXED_TOKEN_PARAMS:
            sp = params.get(name)
            if sp and sp["type"] == "token":
                search.append({"name": name, "type": "token", "definition": sp["url"]})
        out.append(
            {
                "type": rtype,
                "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
                "interaction": [{"code": c} for c in INTERACTIONS],
                "versioning": "versioned-update",
                "readHistory": True,
                "updateCreate": True,
                "conditionalCreate": True,
                "conditionalRead": "modified-since",
                "conditionalUpdate": True,
                "conditionalDelete": "single",
                "searchParam": search,
            }
        )
    return out


def capability_statement(base_url: str) -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": _STARTED,
        "publisher": "EHR project",
        "kind": "instance",
        "software": {"name": "ehr", "version": __version__},
        "implementation": {"description": "EHR FHIR R4 server", "url": base_url},
        "fhirVersion": definitions.index()["fhirVersion"],
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "resource": _resources(),
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                ],
            }
        ],
    }
