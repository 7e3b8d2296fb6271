"""Tokenizer and precedence-climbing parser for the FHIRPath subset of SQL on FHIR v2.

Grammar (FHIRPath N1, trimmed to what the spec's "FHIRPath subset" section lists): literals,
paths, ``$this``, ``%constant``, function calls, indexers, unary minus, ``* / div mod``,
``+ - &``, ``|``, comparisons, ``=``/``!=``, ``and``, ``xor``/``or``, ``implies``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from joinedup.views.fhirpath.ast import (
    Binary,
    Call,
    ConstantRef,
    EmptySet,
    Expr,
    Index,
    Literal,
    Member,
    Negate,
    RowIndex,
    This,
)


class FHIRPathSyntaxError(ValueError):
    """A path that is not valid FHIRPath; the message says where and what was expected."""


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, number, datetime, op, const, this, eof
    text: str
    pos: int


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>@\d{4}(?:-\d{2}(?:-\d{2})?)?(?:T[\d:.]*(?:Z|[+-]\d{2}:\d{2})?)?|@T[\d:.]+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<const>%(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`))
  | (?P<this>\$this|\$index|\$total)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)
  | (?P<op><=|>=|!=|!~|[-+*/&|=<>~.,()\[\]{}])
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "'": "'",
    '"': '"',
    "`": "`",
    "\\": "\\",
    "/": "/",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FHIRPathSyntaxError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


# Binary operators by precedence, lowest first (FHIRPath N1 §"Operator precedence").
_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"implies"}),
    frozenset({"or", "xor"}),
    frozenset({"and"}),
    frozenset({"in", "contains"}),
    frozenset({"=", "!=", "~", "!~"}),
    frozenset({"<", "<=", ">", ">="}),
    frozenset({"|"}),
    frozenset({"+", "-", "&"}),
    frozenset({"*", "/", "div", "mod"}),
)
_WORD_OPERATORS = frozenset({"implies", "or", "xor", "and", "in", "contains", "div", "mod"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def fail(self, expected: str) -> FHIRPathSyntaxError:
        tok = self.token
        found = "end of path" if tok.kind == "eof" else repr(tok.text)
        return FHIRPathSyntaxError(f"expected {expected} at position {tok.pos}, found {found}")

    def take(self, text: str) -> bool:
        tok = self.token
        if tok.kind in {"op", "ident"} and tok.text == text:
            self.at += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.take(text):
            raise self.fail(repr(text))

    def parse(self) -> Expr:
        if self.token.kind == "eof":
            raise FHIRPathSyntaxError("the path is empty")
        expr = self.binary(0)
        if self.token.kind != "eof":
            raise self.fail("an operator or the end of the path")
        return expr

    def binary(self, level: int) -> Expr:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            tok = self.token
            is_word = tok.kind == "ident" and tok.text in _WORD_OPERATORS
            if (tok.kind == "op" or is_word) and tok.text in _LEVELS[level]:
                self.at += 1
                right = self.binary(level + 1)
                left = Binary(tok.text, left, right)
            else:
                return left

    def unary(self) -> Expr:
        if self.take("-"):
            operand = self.unary()
            if isinstance(operand, Literal) and operand.kind in {"integer", "decimal"}:
                assert isinstance(operand.value, int | Decimal)
                return Literal(-operand.value, operand.kind)
            return Negate(operand)
        if self.take("+"):
            return self.unary()
        return self.postfix(self.term())

    def postfix(self, expr: Expr) -> Expr:
        while True:
            if self.take("."):
                expr = self.invocation(expr)
            elif self.take("["):
                index = self.binary(0)
                self.expect("]")
                expr = Index(expr, index)
            else:
                return expr

    def identifier(self) -> str:
        tok = self.token
        if tok.kind != "ident":
            raise self.fail("a name")
        self.at += 1
        return tok.text[1:-1] if tok.text.startswith("`") else tok.text

    def invocation(self, base: Expr | None) -> Expr:
        name = self.identifier()
        if self.take("("):
            args: list[Expr] = []
            if not self.take(")"):
                args.append(self.binary(0))
                while self.take(","):
                    args.append(self.binary(0))
                self.expect(")")
            return Call(base, name, tuple(args))
        return Member(base, name)

    def term(self) -> Expr:
        tok = self.token
        if tok.kind == "string":
            self.at += 1
            return Literal(_unescape(tok.text[1:-1]), "string")
        if tok.kind == "number":
            self.at += 1
            if "." in tok.text:
                return Literal(Decimal(tok.text), "decimal")
            return Literal(int(tok.text), "integer")
        if tok.kind == "datetime":
            self.at += 1
            body = tok.text[1:]
            if body.startswith("T"):
                return Literal(body[1:], "time")
            return Literal(body, "dateTime" if "T" in body else "date")
        if tok.kind == "const":
            self.at += 1
            name = tok.text[1:].strip("`")
            return RowIndex() if name == "rowIndex" else ConstantRef(name)
        if tok.kind == "this":
            self.at += 1
            if tok.text != "$this":
                raise FHIRPathSyntaxError(f"{tok.text} is not supported; use $this")
            return This()
        if self.take("("):
            inner = self.binary(0)
            self.expect(")")
            return inner
        if self.take("{"):
            self.expect("}")
            return EmptySet()
        if tok.kind == "ident" and tok.text in {"true", "false"}:
            self.at += 1
            return Literal(tok.text == "true", "boolean")
        if tok.kind == "ident":
            return self.invocation(None)
        raise self.fail("a path, literal or '('")


def parse(text: str) -> Expr:
    """Parse one FHIRPath expression; raises :class:`FHIRPathSyntaxError` on bad syntax."""
    return _Parser(text).parse()
