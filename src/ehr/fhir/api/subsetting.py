"""``_summary`` and ``_elements``: return a subset of a resource, marked SUBSETTED."""

from __future__ import annotations

from ehr.fhir import definitions
from ehr.fhir.errors import FhirError

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}
SUMMARY_MODES = ("true", "false", "text", "data", "count")
_ALWAYS = ("resourceType", "id", "meta")


def check_summary(mode: str | None) -> None:
    if mode is not None and mode not in SUMMARY_MODES:
        raise FhirError(
            f"_summary must be one of {', '.join(SUMMARY_MODES)}, got '{mode}'",
            expression="_summary",
        )


def _mandatory(resource_type: str) -> set[str]:
    return {
        name
        for name, facts in definitions.top_level_elements(resource_type).items()
        if facts.get("min", 0) > 0
    }


def summarize(resource: dict, mode: str) -> dict:
    rtype = resource.get("resourceType", "")
    if mode == "false" or not definitions.is_resource_type(rtype):
        return resource
    if mode == "data":
        out = {k: v for k, v in resource.items() if k != "text"}
    elif mode == "text":
        keep = set(_ALWAYS) | {"text"} | _mandatory(rtype)
        out = {k: v for k, v in resource.items() if k in keep}
    else:  # "true" (and "count", which only matters for searches)
        top = definitions.top_level_elements(rtype)
        out = {
            k: v
            for k, v in resource.items()
            if k in _ALWAYS or top.get(k, {}).get("summary") or top.get(k, {}).get("min", 0) > 0
        }
    return _mark(out)


def elements(resource: dict, names: list[str]) -> dict:
    rtype = resource.get("resourceType", "")
    wanted = {n.split(".")[-1] if n.startswith(rtype + ".") else n.split(".")[0] for n in names}
    keep = set(_ALWAYS) | wanted | _mandatory(rtype)
    return _mark({k: v for k, v in resource.items() if k in keep})


def _mark(resource: dict) -> dict:
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, SUBSETTED]
    resource = dict(resource)
    resource["meta"] = meta
    return resource
