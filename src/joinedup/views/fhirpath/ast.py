"""The syntax tree of the FHIRPath subset that SQL on FHIR v2 requires.

Every node is immutable, so a parsed ViewDefinition can be shared between engines and threads.
A node with ``base=None`` applies to the current context (``$this``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Literal:
    """A literal or a substituted constant. ``kind`` is the FHIRPath type name."""

    value: str | int | Decimal | bool
    kind: str


@dataclass(frozen=True)
class EmptySet:
    """``{}``: the empty collection."""


@dataclass(frozen=True)
class This:
    """``$this``: the current context."""


@dataclass(frozen=True)
class RowIndex:
    """``%rowIndex``: the position of the current forEach/repeat element (0 at top level)."""


@dataclass(frozen=True)
class ConstantRef:
    """``%name`` before substitution of the ViewDefinition's constants."""

    name: str


@dataclass(frozen=True)
class Member:
    base: Expr | None
    name: str


@dataclass(frozen=True)
class Call:
    base: Expr | None
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Index:
    base: Expr
    index: Expr


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Negate:
    operand: Expr


Expr = Literal | EmptySet | This | RowIndex | ConstantRef | Member | Call | Index | Binary | Negate

COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
ARITHMETIC = frozenset({"+", "-", "*", "/", "div", "mod", "&"})
LOGICAL = frozenset({"and", "or", "xor", "implies"})
