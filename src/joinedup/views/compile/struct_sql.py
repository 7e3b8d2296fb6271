"""Member access on typed values from a columnar source: struct fields, lists of structs.

Each member's shape is known at compile time, so ``name.family`` on a list-of-structs column
is a transform over the struct field ``family``, and a member no resource in the source has is
the empty collection. Whatever the typed path does not cover is turned into JSON
(:meth:`StructAccess.as_json`) and goes on along the JSON path: correct first, fast where it
matters.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from joinedup.views.compile.kinds import EMPTY, Sql
from joinedup.views.compile.shapes import ListOf, Shape, Struct
from joinedup.views.dialects import Dialect, case, is_null, var

ROW = exp.column("resource_row")
"""Stands for the resource of a columnar source: its members are the row's columns, and where
it is used as a whole it becomes a struct of them (:func:`spell_row`)."""

_PRESENT_ONLY = frozenset({"string", "integer", "boolean"})
"""Primitive shapes whose values :meth:`StructAccess._values` keeps one per present item."""

Bind = Callable[[exp.Expression, Callable[[exp.Expression], exp.Expression]], exp.Expression]


class StructAccess:
    def __init__(self, dialect: Dialect, fresh: Callable[[], str], bound: Bind) -> None:
        self.dialect = dialect
        self.fresh = fresh
        self.bound = bound
        self.row_members: list[str] = []
        """The resource's members read as columns, in first-use order: what a source read
        with an explicit schema must provide."""

    def member(self, base: Sql, name: str) -> Sql:
        """Member ``name`` of a ``struct`` or of each of ``structs``."""
        assert base.shape is not None
        shape = base.shape.field(name)
        if shape is None:
            return EMPTY
        if base.kind == "struct":
            return self._value(self._field(base.expr, name), shape)
        return self._values(self._each_field(base.expr, name, shape), shape, sparse=True)

    def _each_field(self, items: exp.Expression, name: str, shape: Shape) -> exp.Expression:
        """Field ``name`` of each struct of ``items``, NULL where absent."""
        if isinstance(shape, Struct) or shape in _PRESENT_ONLY:
            return self.each_kept(items, lambda one: self._field(one, name))
        item = self.fresh()
        return self.dialect.transform(items, item, self._field(var(item), name))

    def each_kept(
        self, items: exp.Expression, body: Callable[[exp.Expression], exp.Expression]
    ) -> exp.Expression:
        """``body`` of each item of ``items``, for a caller that drops the NULLs it gives.

        Over ``where(...)``'s filter (and a filter of NULLs under it), the conditions go into
        the same lambda as ``body``, a dropped item giving NULL: one pass over the list, not
        two or three. Nested CASEs test each condition only where the one under it held, as
        the filters did.
        """
        parts = self.dialect.filtered(items)
        if parts is None:
            item = self.fresh()
            return self.dialect.transform(items, item, body(var(item)))
        inner, item, keep = parts
        value = case((keep, body(var(item))))
        under = self.dialect.filtered(inner)
        if under is not None:
            inner, other, first_keep = under
            value = case((_renamed(first_keep, other, item), value))
        return self.dialect.transform(inner, item, value)

    def as_json(self, sql: Sql) -> Sql:
        """A typed value as the JSON value (list of JSON values) the JSON path works on; other
        kinds unchanged. NULL members print as JSON null, which the JSON path reads as empty."""
        d = self.dialect
        if sql.kind == "struct":
            return Sql(d.to_json(sql.expr), "json")
        if sql.kind == "structs":
            item = self.fresh()
            return Sql(d.transform(sql.expr, item, d.to_json(var(item))), "list")
        return sql

    def _field(self, struct: exp.Expression, name: str) -> exp.Expression:
        if struct == ROW:
            if name not in self.row_members:
                self.row_members.append(name)
            return exp.column(name, quoted=True)
        return self.dialect.struct_field(struct, name)

    def _value(self, value: exp.Expression, shape: Shape) -> Sql:
        """One typed value of ``shape`` (NULL when absent) as a collection."""
        if isinstance(shape, Struct):
            return Sql(value, "struct", shape)
        if isinstance(shape, ListOf):
            # Parquet lists of elements are written from FHIR arrays, which hold no nulls.
            items = exp.Coalesce(this=value, expressions=[self.dialect.list_of()])
            return self._values(items, shape.item, sparse=False)
        if shape in {"string", "integer", "boolean"}:
            return Sql(value, shape)
        return Sql(self.bound(self._json(value, shape), self.dialect.as_list), "list")

    def _values(self, items: exp.Expression, shape: Shape, sparse: bool) -> Sql:
        """A list of typed values of ``shape`` as a collection; ``sparse`` when it holds NULLs
        for absent members (a struct field read from each item of a list)."""
        d = self.dialect
        if isinstance(shape, ListOf):
            return self._values(d.flatten(items), shape.item, sparse=True)
        if isinstance(shape, Struct):
            return Sql(self._present(items) if sparse else items, "structs", shape)
        if shape == "string":
            return Sql(self._present(items), "strings")
        if shape in _PRESENT_ONLY:
            # One JSON scalar per present item, without the general JSON-to-list conversion.
            item = self.fresh()
            return Sql(self._present(d.transform(items, item, d.to_json(var(item)))), "list")
        item = self.fresh()
        lists = d.transform(items, item, d.as_list(self._json(var(item), shape)))
        return Sql(d.flatten(lists), "list")

    def _present(self, items: exp.Expression) -> exp.Expression:
        item = self.fresh()
        return self.dialect.filter(items, item, exp.Not(this=is_null(var(item))))

    def _json(self, value: exp.Expression, shape: Shape) -> exp.Expression:
        return value if shape == "json" else self.dialect.to_json(value)


def _renamed(body: exp.Expression, old: str, new: str) -> exp.Expression:
    """A lambda's ``body`` over item variable ``new`` instead of ``old`` (names are fresh, so
    nothing else in it is called ``old``)."""
    return body.transform(
        lambda node: var(new) if isinstance(node, exp.Column) and node.name == old else node
    )


def spell_row(query: exp.Expression, columns: Struct, dialect: Dialect) -> exp.Expression:
    """``query`` with the resource, where it is used as a whole value, as a struct of its
    columns."""
    row = dialect.struct([(name, exp.column(name, quoted=True)) for name, _ in columns.fields])
    return query.transform(lambda node: row.copy() if node == ROW else node)
