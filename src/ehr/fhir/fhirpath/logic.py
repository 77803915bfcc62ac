"""Singleton evaluation of collections to booleans, and the shared constant results."""

from __future__ import annotations

from typing import Any

from ehr.fhir.fhirpath.errors import FhirPathEvaluationError
from ehr.fhir.fhirpath.model import Node

# Shared results. The engine never mutates a collection it did not create itself.
EMPTY: list = []
TRUE: list = [True]
FALSE: list = [False]


def boolean(b: bool | None) -> list:
    if b is None:
        return EMPTY
    return TRUE if b else FALSE


def truth(items: list) -> bool | None:
    """Boolean value of a collection where a Boolean is expected: None when empty.

    A single boolean gives its value; any other single item counts as true; more than one
    item is an error (FHIRPath 'singleton evaluation of collections').
    """
    n = len(items)
    if n == 0:
        return None
    if n > 1:
        raise FhirPathEvaluationError(f"expected a single boolean but the collection has {n} items")
    v = items[0]
    if v is True or v is False:
        return v
    if type(v) is Node:
        x = v.value
        if x is True or x is False:
            return x
        if x is None and v.struct is not None and v.struct.system == "Boolean":
            return None
    return True


def single(items: list, what: str) -> Any:
    """The only item of ``items`` (None when empty); error when there are several."""
    n = len(items)
    if n == 0:
        return None
    if n > 1:
        raise FhirPathEvaluationError(f"{what} expects a single item, got {n}")
    return items[0]
