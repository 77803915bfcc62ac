"""Every invariant and search expression of the official R4 package parses and compiles."""

from __future__ import annotations

import pytest

from ehr.fhir import fhirpath
from tests.fhir.fhirpath import package

pytestmark = pytest.mark.skipif(
    not package.package().exists(), reason="R4 package not unpacked (make definitions)"
)


def _failures(expressions: list[str]) -> list[str]:
    failures = []
    for expr in expressions:
        try:
            fhirpath.compile(expr)
        except fhirpath.FhirPathSyntaxError as exc:
            failures.append(f"{expr!r}: {exc}")
    return failures


def test_every_invariant_expression_compiles() -> None:
    expressions = package.invariant_expressions()
    assert len(expressions) >= 200  # 203 distinct expressions in R4 4.0.1 (all severities)
    failures = _failures(expressions)
    assert not failures, "\n".join(failures)


def test_every_search_expression_compiles() -> None:
    expressions = package.search_expressions()
    assert len(expressions) >= 1300  # 1353 distinct expressions in R4 4.0.1
    failures = _failures(expressions)
    assert not failures, "\n".join(failures)


def test_every_function_the_package_uses_is_implemented() -> None:
    from ehr.fhir.fhirpath import ast
    from ehr.fhir.fhirpath.functions import REGISTRY
    from ehr.fhir.fhirpath.parser import parse

    used: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, ast.Function):
            used.add(node.name)
        for name in getattr(node, "__slots__", ()):
            child = getattr(node, name, None)
            if isinstance(child, tuple):
                for c in child:
                    walk(c)
            elif hasattr(child, "__slots__"):
                walk(child)

    for expr in package.invariant_expressions() + package.search_expressions():
        walk(parse(expr))
    assert used <= set(REGISTRY), used - set(REGISTRY)
    assert {"hasValue", "children", "resolve", "htmlChecks", "matches"} <= used
