"""FHIRPath (N1, the R4-era language) for resources held as JSON dicts.

``compile(text)`` parses an expression once (``lexer`` -> ``parser`` -> ``ast``) and turns it
into nested Python closures (``compiler``); the result is cached by expression text, so the
validator pays for parsing once per invariant for the life of the process.

Why our own engine rather than ``fhirpathpy``: invariants run on every write, so evaluation
must cost microseconds. ``fhirpathpy`` walks its ANTLR parse tree on every call, dispatching
each node by name, and it models the resource through generic wrappers; here every name,
operator, function and type test is resolved at compile time, and navigation works straight
on the engine's JSON dicts through a typed view built from our own definitions index
(``model``): choice elements (``Observation.value`` finds ``valueQuantity`` and knows it is a
Quantity), backbone elements, content references, primitive ``_name`` siblings holding ids
and extensions, FHIR primitive types read as System types (partial dates, UCUM quantities),
and ``resolve()`` against contained resources and Bundle entries. No source is generated and
nothing is passed to ``eval``.

Modules: ``lexer``, ``parser``, ``ast`` (syntax); ``compiler`` (closures); ``functions``
(function library), ``operators``, ``logic`` (three-valued logic), ``equality`` (``=``,
``~``, ordering); ``model`` (typed nodes and navigation), ``types`` (``is``/``as``),
``values`` (System values), ``temporal``, ``quantity``, ``ucum``; ``narrative``
(``htmlChecks()``); ``bench`` (micro-benchmark).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ehr.fhir.fhirpath import ast
from ehr.fhir.fhirpath.compiler import Closure, compile_tree
from ehr.fhir.fhirpath.context import Context
from ehr.fhir.fhirpath.errors import FhirPathError, FhirPathEvaluationError, FhirPathSyntaxError
from ehr.fhir.fhirpath.logic import FALSE, TRUE
from ehr.fhir.fhirpath.model import Node, focus_struct, iter_elements, resource_node
from ehr.fhir.fhirpath.parser import parse
from ehr.fhir.fhirpath.values import to_plain

__all__ = [
    "Evaluation",
    "Expression",
    "FhirPathError",
    "FhirPathEvaluationError",
    "FhirPathSyntaxError",
    "Node",
    "compile",
    "iter_elements",
    "truthy",
]


class Expression:
    """A compiled FHIRPath expression."""

    __slots__ = ("text", "tree", "_fn")

    def __init__(self, text: str, tree: ast.Expr, fn: Closure) -> None:
        self.text = text
        self.tree = tree
        self._fn = fn

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def _run(
        self,
        resource: dict | None,
        focus: object,
        focus_type: str | None,
        focus_path: str | None,
        variables: dict | None,
        root_resource: dict | None,
    ) -> list:
        res = _resource_node(resource) if resource is not None else None
        if root_resource is None or root_resource is resource:
            root = res
        else:
            root = _resource_node(root_resource)
        if focus is None:
            start = [res] if res is not None else []
        elif type(focus) is Node:
            start = [focus]
        elif focus is resource and focus_type is None and focus_path is None:
            start = [res]
        else:
            start = [Node(focus, focus_struct(focus_type, focus_path, focus))]
        return self._fn(Context(res, root, start, variables), start)

    def evaluate(
        self,
        resource: dict | None,
        focus: object = None,
        *,
        focus_type: str | None = None,
        focus_path: str | None = None,
        variables: dict | None = None,
        root_resource: dict | None = None,
    ) -> list:
        """Evaluate on ``focus`` (default: the resource); return plain Python values.

        ``focus`` may also be a ``Node`` from ``iter_elements`` (then it carries its type and,
        for a primitive, its ``_name`` extensions). Raises FhirPathEvaluationError when the
        specification calls for an error (e.g. a multi-item collection where one is needed).
        """
        result = self._run(resource, focus, focus_type, focus_path, variables, root_resource)
        return [to_plain(x) for x in result]

    def check(
        self,
        resource: dict | None,
        focus: object = None,
        *,
        focus_type: str | None = None,
        focus_path: str | None = None,
        variables: dict | None = None,
        root_resource: dict | None = None,
    ) -> bool | None:
        """Truth of the result: None when empty, the value of a single boolean, else True."""
        result = self._run(resource, focus, focus_type, focus_path, variables, root_resource)
        return truthy(result)


_last: tuple[Any, Node | None] = (None, None)


def _resource_node(resource: dict) -> Node:
    """The node of a resource, reused while the same dict is evaluated again and again."""
    global _last
    last = _last
    if last[0] is resource and last[1] is not None:
        return last[1]
    node = resource_node(resource)
    _last = (resource, node)
    return node


class Evaluation:
    """Many evaluations on one resource (the validator's loop): the context is built once.

    ``focus`` is a ``Node`` from ``iter_elements`` (default: the resource). Not shareable
    between threads; make one per resource being validated.
    """

    __slots__ = ("_ctx", "resource")

    def __init__(
        self,
        resource: dict,
        *,
        root_resource: dict | None = None,
        variables: dict | None = None,
    ) -> None:
        res = resource_node(resource)
        root = res if root_resource is None else resource_node(root_resource)
        self.resource = res
        self._ctx = Context(res, root, [res], variables)

    def run(self, expression: Expression, focus: Node | None = None) -> list:
        """Result as engine items (nodes and System values)."""
        ctx = self._ctx
        start = [focus if focus is not None else self.resource]
        ctx.context = start
        ctx.memo = None
        ctx.index = None
        ctx.total = None
        return expression._fn(ctx, start)

    def evaluate(self, expression: Expression | str, focus: Node | None = None) -> list:
        if type(expression) is str:
            expression = compile(expression)
        return [to_plain(x) for x in self.run(expression, focus)]  # type: ignore[arg-type]

    def check(self, expression: Expression | str, focus: Node | None = None) -> bool | None:
        """Truth of the result (see ``truthy``)."""
        if type(expression) is str:
            expression = compile(expression)
        ctx = self._ctx
        start = [focus if focus is not None else self.resource]
        ctx.context = start
        ctx.memo = None
        result = expression._fn(ctx, start)  # type: ignore[union-attr]
        if result is TRUE:
            return True
        if result is FALSE:
            return False
        return truthy(result)


def truthy(result: list) -> bool | None:
    """None for an empty result, the boolean of a single boolean, True for anything else."""
    if not result:
        return None
    if len(result) == 1:
        v = result[0]
        if type(v) is Node:
            v = v.value
        if v is True or v is False:
            return v
    return True


@lru_cache(maxsize=4096)
def compile(expression: str) -> Expression:  # noqa: A001 - the public name the API asks for
    """Parse and compile ``expression`` (cached by text); FhirPathSyntaxError if malformed."""
    tree = parse(expression)
    return Expression(expression, tree, compile_tree(tree, expression))


def evaluate(resource: dict, expression: str, **kwargs: Any) -> list:
    """Convenience: ``compile(expression).evaluate(resource, **kwargs)``."""
    return compile(expression).evaluate(resource, **kwargs)
