"""Search-parameter expressions compiled into direct JSON walks that know their FHIR types.

Nearly every R4 search expression is a union of dotted paths, narrowed here and there with
``as X`` / ``.as(X)`` / ``.ofType(X)`` (choice elements), ``.where(resolve() is X)``
(references to one type), ``.where(system='phone')`` (a child equal to a string literal) or
``.extension('url')``, an indexer ``[0]`` or a start at ``%resource``. Each union branch of
that shape compiles to a ``Path``: the JSON key
taken from the starting element (``first``) then a few runtime operations (``ops``), and the
``Struct`` (``ehr.fhir.fhirpath.model``) of the values at the end, so the caller knows whether
it holds a CodeableConcept, a Period, an ``instant``... Choice elements are expanded at compile
time, one path per JSON name (``Observation.effective`` -> ``effectiveDateTime``,
``effectivePeriod``, ...); type filters are decided at compile time with the engine's own type
test (``ehr.fhir.fhirpath.types``), so both agree on what ``as(DateTime)`` or ``as(Quantity)``
keep.

A branch outside that shape (in R4: ``Patient.deceased.exists() and Patient.deceased !=
false`` and ``QuestionnaireResponse.item.where(hasExtension(...))...``) is handed back as text
for the FHIRPath engine (``Compiled.engine``). A resource-valued element
(``Bundle.entry.resource``) may end a path (typed at run time by its ``resourceType``) but
not be navigated into.

Semantics kept identical to the engine (tests compare both on every official example and on
Synthea): a capitalised name at the start is the focus itself when it is of that type, else a
member; unknown members give nothing; ``null`` items of JSON arrays are skipped; primitives
that hold only an extension give no value (they have no value to index);
``resolve() is X`` follows ``ehr.fhir.fhirpath.functions.fn_resolve`` (contained ``#id``, a
literal ``Type/id`` anywhere in the string, else ``Reference.type``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from ehr.fhir import definitions
from ehr.fhir.fhirpath import ast, model, types
from ehr.fhir.fhirpath.errors import FhirPathError
from ehr.fhir.fhirpath.model import Node, Struct
from ehr.fhir.fhirpath.parser import parse

# Runtime operations (first item of each op tuple)
GET = 0  # (GET, key): children under this JSON key, arrays flattened, nulls dropped
WHERE_REF = 1  # (WHERE_REF, type name): keep references whose resolve() is of that type
WHERE_EQ = 2  # (WHERE_EQ, key, literal): keep items whose child ``key`` equals the literal
EXT = 3  # (EXT, url): the item's extensions with that url
INDEX = 4  # (INDEX, n): the n-th item of the collection

_EXTENSION = "Extension"


@dataclass(frozen=True, slots=True)
class Path:
    """One compiled branch: ``first`` key (None: the start itself), then ``ops``."""

    first: str | None
    ops: tuple[tuple, ...]
    struct: Struct
    binding: str | None = None  # value set of a required binding on the last element stepped
    from_resource: bool = False  # starts at %resource, not at the item evaluated

    @property
    def type(self) -> str:
        return self.struct.type


@dataclass(frozen=True, slots=True)
class Compiled:
    """An expression split into fast paths and branches left to the FHIRPath engine."""

    paths: tuple[Path, ...]
    engine: tuple[str, ...]  # branch texts the walker does not handle
    reasons: tuple[str, ...]  # why, one per engine branch


class _Unsupported(Exception):
    pass


def split_union(expr: ast.Expr) -> list[ast.Expr]:
    if isinstance(expr, ast.Binary) and expr.op == "|":
        return split_union(expr.left) + split_union(expr.right)
    return [expr]


def _chain(expr: ast.Expr) -> list[tuple]:
    """``A.b.where(..).c as T`` -> [("name", "A", capital), ("name", "b"), ("fn", ...), ...]."""
    if isinstance(expr, ast.Identifier):
        return [("name", expr.name, expr.name[:1].isupper() and not expr.delimited)]
    if isinstance(expr, ast.Invoke):
        base = _chain(expr.target)
        m = expr.member
        if isinstance(m, ast.Identifier):
            return base + [("name", m.name, False)]
        if isinstance(m, ast.Function):
            return base + [("fn", m.name, m.args)]
        raise _Unsupported(f"${m.name} in a path")
    if isinstance(expr, ast.TypeOp) and expr.op == "as":
        return _chain(expr.operand) + [("as", expr.type)]
    if isinstance(expr, ast.External):
        if expr.name == "resource":
            return [("resource",)]
        raise _Unsupported(f"%{expr.name}")
    if isinstance(expr, ast.Indexer):
        if isinstance(expr.index, ast.Literal) and type(expr.index.value) is int:
            return _chain(expr.target) + [("index", expr.index.value)]
        raise _Unsupported("an indexer other than a literal [n]")
    if isinstance(expr, ast.Function):
        raise _Unsupported(f"{expr.name}() at the start of a path")
    if isinstance(expr, ast.Binary):
        raise _Unsupported(f"operator '{expr.op}'")
    raise _Unsupported(type(expr).__name__)


def _type_spec(arg: ast.Expr) -> ast.TypeSpec:
    if isinstance(arg, ast.Identifier):
        return ast.TypeSpec(None, arg.name, arg.pos)
    if (
        isinstance(arg, ast.Invoke)
        and isinstance(arg.target, ast.Identifier)
        and isinstance(arg.member, ast.Identifier)
    ):
        return ast.TypeSpec(arg.target.name, arg.member.name, arg.pos)
    raise _Unsupported("a type argument that is not a type name")


# A state while compiling: (first key, ops, struct, required binding of the last element)
_State = tuple[str | None, tuple, Struct, str | None]


def _required_binding(st: Struct, name: str) -> str | None:
    idx = definitions.index()
    table = (idx["resources"].get(st.owner) or idx["datatypes"].get(st.owner) or {}).get(
        "elements", {}
    )
    el = table.get(f"{st.path}.{name}") or table.get(f"{st.path}.{name}[x]") or {}
    binding = el.get("binding")
    if binding and binding[0] == "required":
        return binding[1]
    return None


def _step_member(state: _State, name: str) -> list[_State]:
    first, ops, st, _ = state
    if st.kind == model.PRIMITIVE:
        raise _Unsupported(f"navigation into a primitive ({name})")
    m = st.members.get(name)
    if m is None:
        return []  # no such element: the engine finds nothing either
    targets: list[tuple[str, Struct]] = []
    if m.choices is not None:
        for key, (cst, _prim) in m.choices.items():
            targets.append((key, cst))
    elif m.resource:
        targets.append((m.key, _any_resource()))
    else:
        if m.struct is None:
            raise _Unsupported(f"'{name}' is untyped")
        targets.append((m.key, m.struct))
    binding = _required_binding(st, name)
    out: list[_State] = []
    for key, cst in targets:
        if first is None and not ops:
            out.append((key, (), cst, binding))
        else:
            out.append((first, ops + ((GET, key),), cst, binding))
    return out


@cache
def _any_resource() -> Struct:
    """The static type of an element holding a resource (``Bundle.entry.resource``): values
    are typed by their ``resourceType`` at run time; only a path's end may be one."""
    st = model.type_struct("Resource")
    assert st is not None
    return st


def _type_keeps(spec: ast.TypeSpec, st: Struct) -> bool:
    return types.type_test(spec)(Node({}, st))


def _where(state: _State, arg: ast.Expr) -> _State:
    first, ops, st, binding = state
    if (
        isinstance(arg, ast.TypeOp)
        and arg.op == "is"
        and isinstance(arg.operand, ast.Function)
        and arg.operand.name == "resolve"
        and not arg.operand.args
        and arg.type.namespace in (None, "FHIR")
    ):
        if model.type_struct(arg.type.name) is None:
            raise _Unsupported(f"resolve() is {arg.type.name}: not a known type")
        return (first, ops + ((WHERE_REF, arg.type.name),), st, binding)
    if (
        isinstance(arg, ast.Binary)
        and arg.op == "="
        and isinstance(arg.left, ast.Identifier)
        and isinstance(arg.right, ast.Literal)
        and type(arg.right.value) is str
    ):
        m = st.members.get(arg.left.name)
        if m is None or m.choices is not None or not m.primitive:
            raise _Unsupported(f"where({arg.left.name}=...) on a non-primitive child")
        return (first, ops + ((WHERE_EQ, m.key, arg.right.value),), st, binding)
    raise _Unsupported("a where() criterion other than resolve() is T or child = 'literal'")


def _compile_branch(expr: ast.Expr, start: Struct) -> list[Path]:
    chain = _chain(expr)
    from_resource = chain[0][0] == "resource"
    if from_resource:
        res = model.type_struct(start.owner)
        if res is None or res.kind != model.RESOURCE:
            raise _Unsupported("%resource outside a resource")
        start = res
        chain = chain[1:]
    states: list[_State] = [(None, (), start, None)]
    for i, step in enumerate(chain):
        nxt: list[_State] = []
        kind = step[0]
        for state in states:
            st = state[2]
            if st is _any_resource() and kind != "index":
                raise _Unsupported("navigation below a resource-valued element")
            if kind == "name":
                name, capital = step[1], step[2]
                if i == 0 and capital and name in st.ancestors and not from_resource:
                    nxt.append(state)
                elif capital and name in st.ancestors:
                    raise _Unsupported(f"type name {name} in the middle of a path")
                else:
                    nxt.extend(_step_member(state, name))
            elif kind == "as":
                if _type_keeps(step[1], st):
                    nxt.append(state)
            elif kind == "index":
                if state[0] is None:
                    raise _Unsupported("an indexer on the start")
                nxt.append((state[0], state[1] + ((INDEX, step[1]),), st, state[3]))
            elif kind == "fn":
                fname, args = step[1], step[2]
                if fname in ("as", "ofType") and len(args) == 1:
                    if _type_keeps(_type_spec(args[0]), st):
                        nxt.append(state)
                elif fname == "where" and len(args) == 1:
                    nxt.append(_where(state, args[0]))
                elif (
                    fname == "extension"
                    and len(args) == 1
                    and isinstance(args[0], ast.Literal)
                    and type(args[0].value) is str
                ):
                    if st.kind == model.PRIMITIVE:
                        raise _Unsupported("extension() on a primitive")
                    ext = model.type_struct(_EXTENSION)
                    assert ext is not None
                    first, ops = state[0], state[1]
                    nxt.append((first, ops + ((EXT, args[0].value),), ext, None))
                else:
                    raise _Unsupported(f"function {fname}()")
        states = nxt
        if not states:
            return []
    return [Path(first, ops, st, binding, from_resource) for first, ops, st, binding in states]


def branches(expression: str) -> tuple[list[str], list[ast.Expr]]:
    """Top-level union branches of ``expression``: their texts and syntax trees.

    Indexing takes every value of every branch: unlike FHIRPath's ``|``, which drops items
    equal to one already taken (``1.00 g`` after ``1.0 g``, ``>60 mL`` after ``60 mL``).
    """
    from ehr.fhir.definitions.build import _split_union

    tree = parse(expression)
    trees = split_union(tree)
    texts = [t.strip() for t in _split_union(expression)]
    if len(texts) != len(trees):  # a '|' the text splitter reads differently: keep whole
        return [expression], [tree]
    return texts, trees


@cache
def compile_expression(expression: str, start: Struct) -> Compiled:
    """Compile ``expression`` evaluated on an item of ``start`` (a resource or an element)."""
    try:
        texts, trees = branches(expression)
    except FhirPathError as e:
        return Compiled((), (expression,), (f"does not parse: {e}",))
    paths: list[Path] = []
    engine: list[str] = []
    reasons: list[str] = []
    for text, branch in zip(texts, trees, strict=True):
        try:
            paths.extend(_compile_branch(branch, start))
        except _Unsupported as e:
            engine.append(text)
            reasons.append(str(e))
    return Compiled(tuple(paths), tuple(engine), tuple(reasons))


# ------------------------------------------------------------------ running

# Same pattern as ehr.fhir.fhirpath.functions._REF (what resolve() understands)
_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@cache
def _ancestors(type_name: str) -> frozenset[str]:
    st = model.type_struct(type_name)
    return st.ancestors if st is not None else frozenset()


def resolved_type(value: object, resource: dict) -> str | None:
    """Type of ``value.resolve()`` as the engine computes it (None when it finds nothing)."""
    ref_type = None
    if type(value) is dict:
        ref = value.get("reference")
        ref_type = value.get("type")
    else:
        ref = value
    found = None
    if type(ref) is str:
        if ref.startswith("#"):
            if ref == "#":
                found = resource.get("resourceType")
            else:
                for c in resource.get("contained") or ():
                    if type(c) is dict and c.get("id") == ref[1:]:
                        found = c.get("resourceType")
                        if type(found) is not str:
                            return None
                        return found
        else:
            m = _REF.search(ref)
            if m and model.type_struct(m.group(1)) is not None:
                found = m.group(1)
        if found is not None:
            return found
    elif type(ref_type) is str:
        return ref_type if model.type_struct(ref_type) is not None else None
    if type(ref_type) is str and model.type_struct(ref_type) is not None:
        return ref_type
    return None


def run(items: list, ops: tuple, resource: dict) -> list:
    """Apply ``ops`` to ``items`` (JSON values); values at the end of the path."""
    for op in ops:
        kind = op[0]
        out: list = []
        if kind == GET:
            key = op[1]
            for it in items:
                if type(it) is dict:
                    v = it.get(key)
                    if v is not None:
                        if type(v) is list:
                            for x in v:
                                if x is not None:
                                    out.append(x)
                        else:
                            out.append(v)
        elif kind == WHERE_REF:
            want = op[1]
            for it in items:
                t = resolved_type(it, resource)
                if t is not None and want in _ancestors(t):
                    out.append(it)
        elif kind == WHERE_EQ:
            key, lit = op[1], op[2]
            for it in items:
                if type(it) is dict and it.get(key) == lit:
                    out.append(it)
        elif kind == INDEX:
            n = op[1]
            present = [x for x in items if x is not None]
            out = [present[n]] if 0 <= n < len(present) else []
        else:  # EXT
            url = op[1]
            for it in items:
                if type(it) is dict:
                    exts = it.get("extension")
                    if type(exts) is list:
                        for e in exts:
                            if type(e) is dict and e.get("url") == url:
                                out.append(e)
        if not out:
            return out
        items = out
    return items


def start_values(value: object) -> list:
    """The items a JSON value stands for (arrays flattened, nulls dropped)."""
    if value is None:
        return []
    if type(value) is list:
        return [x for x in value if x is not None]
    return [value]


def evaluate(path: Path, item: object, resource: dict) -> list:
    """Values of ``path`` evaluated on one item (a resource or an element's JSON)."""
    if path.from_resource:
        item = resource
    if path.first is None:
        items = [item]
    else:
        if type(item) is not dict:
            return []
        items = start_values(item.get(path.first))
        if not items:
            return items
    return run(items, path.ops, resource) if path.ops else items
