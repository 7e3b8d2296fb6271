"""What SQL value stands for a compiled FHIRPath collection: a ``Sql`` and its kind.

* ``list`` — a SQL list of semi-structured values (JSON/VARIANT); ``strings`` — a list of text;
* ``json`` — one semi-structured value, NULL for the empty collection;
* ``string`` / ``number`` / ``integer`` / ``boolean`` — one SQL scalar, NULL for empty;
* ``struct`` — one typed struct (a columnar source's element), NULL for empty;
* ``structs`` — a list of typed structs;
* ``empty`` — always the empty collection.

A list kind is never NULL (the empty collection is an empty list) and a ``strings`` list holds
no NULLs. Typed kinds carry their struct's :class:`~joinedup.views.compile.shapes.Struct`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from joinedup.views.compile.shapes import Struct

LISTS = frozenset({"list", "strings", "structs"})
SCALARS = frozenset({"string", "number", "integer", "boolean"})
TYPED = frozenset({"struct", "structs"})
ELEMENT = {"list": "json", "strings": "string", "structs": "struct"}


@dataclass(frozen=True)
class Sql:
    expr: exp.Expression
    kind: str
    shape: Struct | None = None
    """The fields of the struct (of each struct, for ``structs``); None for other kinds."""

    def item(self, expr: exp.Expression) -> Sql:
        """``expr`` as one item of this list."""
        return Sql(expr, ELEMENT[self.kind], self.shape)


EMPTY = Sql(exp.Null(), "empty")
