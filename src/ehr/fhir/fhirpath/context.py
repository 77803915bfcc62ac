"""Evaluation context: the environment variables and the iteration state of one evaluation."""

from __future__ import annotations

from typing import Any

from ehr.fhir.fhirpath.model import Node


class Context:
    __slots__ = ("resource", "root", "context", "variables", "index", "total", "memo")

    def __init__(
        self,
        resource: Node | None,
        root: Node | None,
        context: list,
        variables: dict[str, Any] | None,
    ) -> None:
        self.resource = resource  # %resource
        self.root = root  # %rootResource
        self.context = context  # %context
        self.variables = variables
        self.index: int | None = None  # $index
        self.total: list | None = None  # $total
        self.memo: dict[str, list] | None = None  # focus-independent sub-results
