"""Syntax tree of a FHIRPath expression (immutable nodes; ``pos`` is the offset in the text)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal value (already a System value: str, bool, int, Decimal, Date..., Quantity)."""

    value: object
    pos: int


@dataclass(frozen=True, slots=True)
class EmptyLiteral:
    """``{}``: the empty collection."""

    pos: int


@dataclass(frozen=True, slots=True)
class Identifier:
    """A member name (or a type name at the start of a path)."""

    name: str
    pos: int
    delimited: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    """A function invocation ``name(args)``."""

    name: str
    args: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Variable:
    """``$this``, ``$index`` or ``$total``."""

    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class External:
    """``%name``: an environment variable."""

    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Invoke:
    """``target.member``: ``member`` is an Identifier, a Function or a Variable."""

    target: Expr
    member: Identifier | Function | Variable
    pos: int


@dataclass(frozen=True, slots=True)
class Indexer:
    """``target[index]``."""

    target: Expr
    index: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Unary:
    """``+x`` or ``-x``."""

    op: str
    operand: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Binary:
    """Any binary operator (arithmetic, union, comparison, equality, membership, logic)."""

    op: str
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A type specifier: ``Patient``, ``FHIR.Patient``, ``System.Boolean``."""

    namespace: str | None
    name: str
    pos: int

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class TypeOp:
    """``operand is Type`` or ``operand as Type``."""

    op: str
    operand: Expr
    type: TypeSpec
    pos: int


Expr = Literal | EmptyLiteral | Identifier | Function | Variable | External | Invoke
Expr = Expr | Indexer | Unary | Binary | TypeOp
