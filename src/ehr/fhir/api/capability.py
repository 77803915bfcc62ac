"""CapabilityStatement generated from what the server really supports."""

from __future__ import annotations

import datetime
from functools import cache

from ehr import __version__
from ehr.fhir import definitions

# Parameters of the definitions the engine does not answer (their kind needs a geo index).
UNSUPPORTED = {"near", "_query", "_filter"}
EXTRA_PARAMS = [("_list", "token"), ("_has", "special")]

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
OPERATIONS = [
    {"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"},
]
PATIENT_OPERATIONS = [
    {
        "name": "everything",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    },
]


@cache
def _resources() -> list[dict]:
    out = []
    for rtype in sorted(definitions.resource_types()):
        params = definitions.search_params(rtype)
        search = [
            {"name": name, "type": sp["type"], "definition": sp["url"]}
            for name, sp in sorted(params.items())
            if sp["type"] != "special" and name not in UNSUPPORTED
        ]
        search += [{"name": n, "type": t} for n, t in EXTRA_PARAMS]
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
                "searchInclude": ["*"],
                "searchRevInclude": ["*"],
                "searchParam": search,
                "operation": OPERATIONS + (PATIENT_OPERATIONS if rtype == "Patient" else []),
            }
        )
    return out


def _security(base_url: str) -> dict:
    """SMART on FHIR: where apps get tokens (also in /.well-known/smart-configuration)."""
    root = base_url.removesuffix("/fhir")
    uris = [
        ("authorize", "/oauth/authorize"),
        ("token", "/oauth/token"),
        ("introspect", "/oauth/introspect"),
        ("revoke", "/oauth/revoke"),
    ]
    return {
        "cors": False,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": name, "valueUri": root + path} for name, path in uris],
            }
        ],
    }


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
                "security": _security(base_url),
                "resource": _resources(),
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                    {"code": "search-system"},
                ],
            }
        ],
    }
