"""Error-level invariants of the definitions (FHIRPath constraints), compiled once each."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ehr.fhir.validation.issues import Issue
from ehr.fhir.validation.native_invariants import native

if TYPE_CHECKING:
    from ehr.fhir.validation.validator import Walker


@cache
def _compiled(expression: str):
    try:
        from ehr.fhir import fhirpath

        return fhirpath.compile(expression)
    except Exception:  # an expression the engine cannot read is skipped, not fatal
        return None


def passes(result: list) -> bool:
    """An invariant holds when it evaluates to true; an empty result is not a violation."""
    if not result:
        return True
    if len(result) == 1 and type(result[0]) is bool:
        return result[0]
    return True


def check(
    walker: Walker,
    rules: list[tuple[str, str, str, str]],
    node: dict,
    expr: str,
    focus_type: str,
    focus_path: str,
) -> None:
    results: dict[str, list] = {}  # txt-1 and txt-2 share one expression: evaluate it once
    for key, _severity, expression, human in rules:
        fast = native(key, expression)
        if fast is not None:
            if not fast(node, walker.container):
                walker.issues.append(Issue("error", "invariant", expr, f"{key}: {human}"))
            continue
        compiled = _compiled(expression)
        if compiled is None:
            continue
        try:
            if expression in results:
                result = results[expression]
            else:
                result = results[expression] = compiled.evaluate(
                    walker.root,
                    node,
                    focus_type=focus_type,
                    focus_path=focus_path,
                    root_resource=walker.container,
                )
        except Exception as exc:  # evaluation errors are findings, never crashes
            if any(i.severity == "error" and i.expression.startswith(expr) for i in walker.issues):
                continue  # the node is already broken; the invariant cannot say more
            walker.issues.append(
                Issue("error", "invariant", expr, f"{key}: could not be evaluated ({exc})")
            )
            continue
        if not passes(result):
            walker.issues.append(Issue("error", "invariant", expr, f"{key}: {human}"))
