"""Errors raised by the FHIRPath engine."""

from __future__ import annotations


class FhirPathError(Exception):
    """Base class of every error the engine raises."""


class FhirPathSyntaxError(FhirPathError, ValueError):
    """The expression cannot be read: bad token, bad grammar, unknown function or arity."""

    def __init__(self, message: str, expression: str = "", position: int = -1) -> None:
        self.expression = expression
        self.position = position
        where = f" at position {position}" if position >= 0 else ""
        near = ""
        if expression and 0 <= position <= len(expression):
            near = f" (near {expression[position : position + 20]!r})"
        super().__init__(f"{message}{where}{near}")


class FhirPathEvaluationError(FhirPathError):
    """The expression is well formed but cannot be evaluated on this input (spec 'error')."""
