"""Precedence-climbing parser: tokens -> syntax tree (``ast``).

Operator precedence, from the FHIRPath N1 grammar (highest first; all left-associative):
``.`` and ``[]``; unary ``+ -``; ``* / div mod``; ``+ - &``; ``is as``; ``|``;
``< > <= >=``; ``= ~ != !~``; ``in contains``; ``and``; ``or xor``; ``implies``.
"""

from __future__ import annotations

from decimal import Decimal

from ehr.fhir.fhirpath import ast, lexer, quantity, temporal
from ehr.fhir.fhirpath.errors import FhirPathSyntaxError
from ehr.fhir.fhirpath.lexer import Token

_BINARY: dict[str, int] = {
    "implies": 1,
    "or": 2,
    "xor": 2,
    "and": 3,
    "in": 4,
    "contains": 4,
    "=": 5,
    "~": 5,
    "!=": 5,
    "!~": 5,
    "<": 6,
    ">": 6,
    "<=": 6,
    ">=": 6,
    "|": 7,
    "is": 8,
    "as": 8,
    "+": 9,
    "-": 9,
    "&": 9,
    "*": 10,
    "/": 10,
    "div": 10,
    "mod": 10,
}
_WORD_OPS = frozenset(k for k in _BINARY if k.isalpha())


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = lexer.tokenize(text)
        self.i = 0

    # -- helpers --------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != lexer.EOF_KIND:
            self.i += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> FhirPathSyntaxError:
        tok = tok or self.peek()
        return FhirPathSyntaxError(message, self.text, tok.pos)

    def expect_op(self, op: str) -> Token:
        tok = self.next()
        if tok.kind != lexer.OP or tok.text != op:
            found = tok.text or "end of expression"
            raise self.error(f"expected '{op}' but found '{found}'", tok)
        return tok

    def at_op(self, op: str) -> bool:
        tok = self.peek()
        return tok.kind == lexer.OP and tok.text == op

    # -- grammar --------------------------------------------------------------------------

    def parse(self) -> ast.Expr:
        if self.peek().kind == lexer.EOF_KIND:
            raise self.error("empty expression")
        expr = self.expression(0)
        tok = self.peek()
        if tok.kind != lexer.EOF_KIND:
            raise self.error(f"unexpected '{tok.text}'", tok)
        return expr

    def binary_op(self) -> str | None:
        tok = self.peek()
        if tok.kind == lexer.OP and tok.text in _BINARY:
            return tok.text
        if tok.kind == lexer.IDENT and tok.text in _WORD_OPS:
            return tok.text
        return None

    def expression(self, min_prec: int) -> ast.Expr:
        left = self.unary()
        while True:
            op = self.binary_op()
            if op is None:
                return left
            prec = _BINARY[op]
            if prec < min_prec:
                return left
            tok = self.next()
            if op in ("is", "as"):
                left = ast.TypeOp(op, left, self.type_specifier(), tok.pos)
                continue
            right = self.expression(prec + 1)
            left = ast.Binary(op, left, right, tok.pos)

    def unary(self) -> ast.Expr:
        tok = self.peek()
        if tok.kind == lexer.OP and tok.text in ("+", "-"):
            self.next()
            operand = self.unary()
            if tok.text == "+":
                return operand
            if isinstance(operand, ast.Literal) and type(operand.value) in (int, Decimal):
                return ast.Literal(-operand.value, tok.pos)  # type: ignore[operator]
            if isinstance(operand, ast.Literal) and isinstance(operand.value, quantity.Quantity):
                q = operand.value
                return ast.Literal(quantity.Quantity(-q.value, q.unit), tok.pos)
            return ast.Unary("-", operand, tok.pos)
        return self.postfix(self.term())

    def postfix(self, expr: ast.Expr) -> ast.Expr:
        while True:
            tok = self.peek()
            if tok.kind != lexer.OP:
                return expr
            if tok.text == ".":
                self.next()
                expr = ast.Invoke(expr, self.invocation(), tok.pos)
            elif tok.text == "[":
                self.next()
                index = self.expression(0)
                self.expect_op("]")
                expr = ast.Indexer(expr, index, tok.pos)
            else:
                return expr

    def invocation(self) -> ast.Identifier | ast.Function | ast.Variable:
        tok = self.next()
        if tok.kind == lexer.VARIABLE:
            return ast.Variable(tok.text, tok.pos)
        if tok.kind == lexer.DELIMITED:
            return ast.Identifier(tok.text, tok.pos, delimited=True)
        if tok.kind != lexer.IDENT:
            raise self.error("expected a name or a function", tok)
        if self.at_op("("):
            return self.function(tok)
        return ast.Identifier(tok.text, tok.pos)

    def function(self, name: Token) -> ast.Function:
        self.expect_op("(")
        args: list[ast.Expr] = []
        if not self.at_op(")"):
            args.append(self.expression(0))
            while self.at_op(","):
                self.next()
                args.append(self.expression(0))
        self.expect_op(")")
        return ast.Function(name.text, tuple(args), name.pos)

    def type_specifier(self) -> ast.TypeSpec:
        tok = self.next()
        if tok.kind not in (lexer.IDENT, lexer.DELIMITED):
            raise self.error("expected a type name", tok)
        if self.at_op(".") and self.peek(1).kind in (lexer.IDENT, lexer.DELIMITED):
            self.next()
            name = self.next()
            return ast.TypeSpec(tok.text, name.text, tok.pos)
        return ast.TypeSpec(None, tok.text, tok.pos)

    def term(self) -> ast.Expr:
        tok = self.peek()
        kind = tok.kind
        if kind == lexer.NUMBER:
            self.next()
            value: int | Decimal = Decimal(tok.text) if "." in tok.text else int(tok.text)
            return self.maybe_quantity(value, tok)
        if kind == lexer.STRING:
            self.next()
            return ast.Literal(tok.text, tok.pos)
        if kind == lexer.DATETIME:
            self.next()
            text = tok.text[:-1] if tok.text.endswith("T") else tok.text
            is_datetime = "T" in tok.text
            value_t = temporal.parse_datetime(
                text, temporal.DATETIME if is_datetime else temporal.DATE
            )
            if value_t is None and not is_datetime:
                value_t = temporal.parse_datetime(text, temporal.DATETIME)
            if value_t is None:
                raise self.error(f"invalid date/time literal @{tok.text}", tok)
            return ast.Literal(value_t, tok.pos)
        if kind == lexer.TIME:
            self.next()
            value_time = temporal.parse_time(tok.text)
            if value_time is None:
                raise self.error(f"invalid time literal @T{tok.text}", tok)
            return ast.Literal(value_time, tok.pos)
        if kind == lexer.EXTERNAL:
            self.next()
            return ast.External(tok.text, tok.pos)
        if kind == lexer.OP and tok.text == "(":
            self.next()
            inner = self.expression(0)
            self.expect_op(")")
            return inner
        if kind == lexer.OP and tok.text == "{":
            self.next()
            self.expect_op("}")
            return ast.EmptyLiteral(tok.pos)
        if kind == lexer.IDENT and tok.text in ("true", "false") and not self._is_call():
            self.next()
            return ast.Literal(tok.text == "true", tok.pos)
        if kind in (lexer.IDENT, lexer.DELIMITED, lexer.VARIABLE):
            return self.invocation()
        if kind == lexer.EOF_KIND:
            raise self.error("unexpected end of expression", tok)
        raise self.error(f"unexpected '{tok.text}'", tok)

    def _is_call(self) -> bool:
        nxt = self.peek(1)
        return nxt.kind == lexer.OP and nxt.text == "("

    def maybe_quantity(self, value: int | Decimal, tok: Token) -> ast.Literal:
        nxt = self.peek()
        if nxt.kind == lexer.STRING:
            self.next()
            return ast.Literal(quantity.Quantity(Decimal(value), nxt.text), tok.pos)
        if nxt.kind == lexer.IDENT:
            unit = quantity.calendar_keyword(nxt.text)
            if unit is not None:
                self.next()
                return ast.Literal(quantity.Quantity(Decimal(value), unit), tok.pos)
        return ast.Literal(value, tok.pos)


def parse(text: str) -> ast.Expr:
    """Parse ``text``; raise FhirPathSyntaxError (with the position) if it is not FHIRPath."""
    return Parser(text).parse()
