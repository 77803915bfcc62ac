"""UCUM unit expressions, checked against the grammar of the UCUM specification (section 2).

UCUM is a grammar, not a list: ``mg/dL``, ``kg/m2``, ``10*3/uL`` and ``{beats}/min`` are all
valid and infinitely many more are. Without the UCUM atom tables (not in our packages) we check
the syntax: terms joined by ``.`` and ``/``, parentheses, annotations in braces, integer
factors, atoms with an optional signed exponent. Atom names themselves are not looked up.

    main-term  ::= "/" term | term
    term       ::= component (("." | "/") component)*
    component  ::= annotatable annotation? | annotation | factor | "(" term ")" annotation?
    annotatable::= atom exponent?
"""

from __future__ import annotations

import re

# An atom: printable ASCII without the operators and brackets, or a [bracketed] run inside it.
_ATOM_CHARS = r"[!#-'*+,\-0-9:;<>-Z\\^-z|~]"
_SIMPLE = re.compile(rf"(?:{_ATOM_CHARS}|\[[!-Z\\^-~]+\])+")
_EXPONENT = re.compile(r"([+-]?[0-9]+)$")
# UCUM allows printable ASCII in annotations; the official common-units list also has spaces.
_ANNOTATION = re.compile(r"\{[ -z|~]*\}")
_FACTOR = re.compile(r"[0-9]+")


class _Parser:
    __slots__ = ("text", "pos")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def main_term(self) -> bool:
        if self.text.startswith("/"):
            self.pos = 1
        return self.term() and self.pos == len(self.text)

    def term(self) -> bool:
        if not self.component():
            return False
        while self.pos < len(self.text) and self.text[self.pos] in "./":
            self.pos += 1
            if not self.component():
                return False
        return True

    def component(self) -> bool:
        text, pos = self.text, self.pos
        if pos >= len(text):
            return False
        if text[pos] == "(":
            self.pos += 1
            if not self.term() or self.pos >= len(text) or text[self.pos] != ")":
                return False
            self.pos += 1
            if self.pos < len(text) and text[self.pos] == "{":
                return self._annotation()  # "(10.g){feces}": not in the grammar, but in use
            return True
        if text[pos] == "{":
            return self._annotation()
        m = _SIMPLE.match(text, pos)
        if not m:
            return False
        self.pos = m.end()
        if not _valid_annotatable(m.group()):
            return False
        if self.pos < len(text) and text[self.pos] == "{":
            return self._annotation()
        return True

    def _annotation(self) -> bool:
        m = _ANNOTATION.match(self.text, self.pos)
        if not m:
            return False
        self.pos = m.end()
        return True


def _valid_annotatable(chunk: str) -> bool:
    """A factor (digits), or an atom with an optional exponent; '+'/'-' only in the exponent."""
    if _FACTOR.fullmatch(chunk):
        return True
    m = _EXPONENT.search(chunk)
    atom = chunk[: m.start()] if m else chunk
    if not atom:
        return False
    outside = re.sub(r"\[[^\]]*\]", "", atom)
    if "+" in outside or "-" in outside:
        return False
    if atom[0].isdigit():
        # The only UCUM atoms that begin with a digit are the powers of ten "10*" and "10^".
        return atom in ("10*", "10^")
    return True


def is_valid_ucum(expression: str) -> bool:
    """True when ``expression`` is a syntactically valid UCUM (case-sensitive) unit term."""
    if not expression or expression.strip() != expression:
        return False
    return _Parser(expression).main_term()
