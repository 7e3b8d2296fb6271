"""The type tree of a typed source, which the compiler follows at compile time.

A columnar file (``joinedup.views.columnar``) stores each top-level element as a typed column:
structs, lists, text, 64-bit integers, booleans, and JSON where the data has no single shape.
NDJSON read by the R4 definitions (``r4_shape.py``) has the same kinds of columns.
Knowing that tree lets a member access become a struct field access, and an element missing
from the tree the empty collection, before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass

SCALAR_SHAPES = frozenset({"string", "integer", "boolean", "json", "other"})
"""``other``: a scalar type the columnar layout does not write, read through its JSON."""


@dataclass(frozen=True)
class Struct:
    fields: tuple[tuple[str, Shape], ...]
    others: Shape | None = None
    """The shape of any member not in ``fields``: None when the fields are all there is (a
    columnar file's schema); ``json`` for a resource read by the R4 definitions, whose data
    may hold elements R4 does not define (``_birthDate``), read as JSON when a view asks."""

    def field(self, name: str) -> Shape | None:
        """The shape of member ``name``; None when no resource in the source has it."""
        for field_name, shape in self.fields:
            if field_name == name:
                return shape
        return self.others


@dataclass(frozen=True)
class ListOf:
    item: Shape


Shape = Struct | ListOf | str
"""A struct, a list, or one of :data:`SCALAR_SHAPES`."""
