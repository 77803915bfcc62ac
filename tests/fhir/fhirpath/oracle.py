"""Evaluation of the same invariants with fhirpathpy (the independent oracle).

fhirpathpy has no ``hasValue()``, ``htmlChecks()``, ``resolve()`` or ``hasExtension()``:
they are FHIR additions to FHIRPath. The oracle supplies them through fhirpathpy's
user-function table, written here from the FHIR specification on fhirpathpy's raw values
(``htmlChecks`` reuses our narrative rule, so txt-1/txt-2 agree by construction).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ehr.fhir.fhirpath import narrative


def _has_value(inputs: list) -> list:
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)]


def _html_checks(inputs: list) -> list:
    return [len(inputs) == 1 and isinstance(inputs[0], str) and narrative.check(inputs[0])]


def _resolve(inputs: list) -> list:
    from fhirpathpy.engine.nodes import ResourceNode

    out = []
    for v in inputs:
        ref = v.get("reference") if isinstance(v, dict) else v
        if isinstance(ref, str) and "/" in ref and not ref.startswith("#"):
            parts = [p for p in ref.split("/") if p]
            if "_history" in parts:
                parts = parts[: parts.index("_history")]
            if len(parts) >= 2 and parts[-2][:1].isupper():
                out.append(ResourceNode.create_node({"resourceType": parts[-2], "id": parts[-1]}))
    return out


def _no_trace(*args: Any) -> None:
    return None


USER_FUNCTIONS: dict[str, Any] = {
    "hasValue": {"fn": _has_value},
    "htmlChecks": {"fn": _html_checks},
    "resolve": {"fn": _resolve},
}


@cache
def _compiled(expression: str) -> Any:
    import fhirpathpy
    from fhirpathpy.models import models

    options = {"userInvocationTable": USER_FUNCTIONS, "traceFn": _no_trace}
    return fhirpathpy.compile(expression, models["r4"], options)


def evaluate(
    expression: str, node_value: Any, node_ext: Any, base: str, resource: dict, root: dict
) -> list:
    """fhirpathpy's result for ``expression`` on a node typed by ``base``."""
    from fhirpathpy.engine.nodes import ResourceNode

    data = ResourceNode.create_node(node_value, base, _data=node_ext)
    return _compiled(expression)(data, {"resource": resource, "rootResource": root})
