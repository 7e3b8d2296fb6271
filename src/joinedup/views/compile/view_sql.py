"""A ViewDefinition compiled to ONE SQL query (a SQLGlot tree) over a relation of resources.

The relation has one column of resource JSON text, or, for a typed source (columnar Parquet,
NDJSON read by the R4 definitions), one typed column per top-level element (its
:class:`~joinedup.views.compile.shapes.Struct` given to the compiler, which then reads members
as struct fields and says which columns it read). Each resource's rows are built as a SQL list
of structs — the same recursion as the reference engine: a select's rows are, per focus, the
product of its own columns, its nested selects' rows and its unionAll branches' rows — and
the list is unnested into the result. A view without forEach/repeat/unionAll compiles to a
plain projection. Nothing here knows where the SQL runs; the dialect knows how it is spelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from joinedup.views.compile.fhirpath_sql import PREFETCHED, PathCompiler, Scope, with_focus
from joinedup.views.compile.kinds import EMPTY, Sql
from joinedup.views.compile.shapes import Struct
from joinedup.views.compile.struct_sql import ROW, spell_row
from joinedup.views.dialects import SQL_TYPES, Dialect, case, cast, number, text, var
from joinedup.views.fhirpath.resolve import PathError
from joinedup.views.model import Column, Select, ViewDefinition, ViewError

RESOURCE_COLUMN = "resource"
REPEAT_DEPTH = 8
"""How deep ``repeat`` follows its paths; deeper data raises an error rather than being cut."""

_COLUMN_KINDS = {
    "boolean": "boolean",
    "integer": "integer",
    "integer64": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "decimal": "number",
}


@dataclass(frozen=True)
class CompiledView:
    query: exp.Expression
    columns: tuple[str, ...]
    dialect: Dialect
    members: tuple[str, ...] | None = None
    """The resource's top-level members the query reads, when compiled against typed
    columns and never using the resource whole; None otherwise (it needs every member)."""

    def sql(self, pretty: bool = False) -> str:
        return self.query.sql(dialect=self.dialect.sqlglot, pretty=pretty)


def compile_view(
    view: ViewDefinition,
    dialect: Dialect,
    relation: exp.Expression,
    columns: Struct | None = None,
) -> CompiledView:
    """The view as one query over ``relation``: a table/subquery with a ``resource`` column, or
    with the typed ``columns`` of a columnar source."""
    return _ViewCompiler(view, dialect, columns).compile(relation)


class _ViewCompiler:
    def __init__(self, view: ViewDefinition, dialect: Dialect, columns: Struct | None) -> None:
        self.view = view
        self.dialect = dialect
        self.paths = PathCompiler(dialect)
        self.types: dict[str, str] = {}
        self.columns = columns

    def compile(self, relation: exp.Expression) -> CompiledView:
        resource = self.paths.resource(self.columns)
        raw = None if self.columns is not None else var("raw")
        scope = Scope(resource, cast(number(0), "BIGINT"), self.view.resource, raw)
        if self.columns is None:
            resource_type = self.dialect.to_scalar(
                self.dialect.get(resource.expr, "resourceType"), "string"
            )
        else:
            typed = self.paths.structs.member(resource, "resourceType")
            resource_type = self.paths.scalar(typed, "string", "resourceType")
        conditions: list[exp.Expression] = [
            exp.EQ(this=resource_type, expression=text(self.view.resource))
        ]
        for path, where in self.view.where:
            compiled = self._path(path, scope, where)
            conditions.append(exp.Paren(this=self.paths.boolean(compiled, f"{where}")))
        columns = self.view.column_names
        flat = _is_flat(self.view.root)
        if flat:
            fields = self._columns(self.view.root.all_columns(), scope)
        else:
            rows = self._rows(self.view.root, scope)
        if self.columns is not None:
            filtered = exp.select("*").from_(relation).where(exp.and_(*conditions))
        else:
            filtered = self._json_source(relation, conditions)
        if flat:
            query: exp.Expression = filtered.select(
                *(exp.alias_(value, name, quoted=True) for name, value in fields), append=False
            )
        else:
            query = self.dialect.rows_query(rows, filtered.subquery("filtered"), columns)
        members = None
        if self.columns is not None:
            if not any(node == ROW for node in query.walk()):
                members = tuple(self.paths.structs.row_members)
            query = spell_row(query, self.columns, self.dialect)
        return CompiledView(query, columns, self.dialect, members)

    def _json_source(
        self, relation: exp.Expression, conditions: list[exp.Expression]
    ) -> exp.Select:
        """The resources parsed once, filtered; built after the paths are compiled, as it
        prefetches the members they asked for."""
        parsed = self.dialect.parse(exp.column(RESOURCE_COLUMN))
        outputs = [exp.alias_(parsed, "r"), exp.alias_(exp.column(RESOURCE_COLUMN), "raw")]
        if self.paths.prefetched:
            members = self.dialect.get_many(parsed, self.paths.prefetched)
            outputs.append(exp.alias_(members, PREFETCHED))
        source = exp.select(*outputs).from_(relation).subquery("src")
        carried = ["r", "raw"] + ([PREFETCHED] if self.paths.prefetched else [])
        return exp.select(*carried).from_(source).where(exp.and_(*conditions))

    def _path(self, path: object, scope: Scope, where: str) -> Sql:
        try:
            return self.paths.compile(path, scope)  # type: ignore[arg-type]
        except PathError as exc:
            raise ViewError(str(exc), where) from exc

    def _columns(self, columns: Sequence[Column], scope: Scope) -> list[tuple[str, exp.Expression]]:
        return [(column.name, self._column(column, scope)) for column in columns]

    def _column(self, column: Column, scope: Scope) -> exp.Expression:
        value = self._path(column.path, scope, f"{column.where}.path")
        kind = _COLUMN_KINDS.get(column.type or "", "string" if column.type else _natural(value))
        sql_type = SQL_TYPES[kind]
        try:
            if column.collection:
                items = self.paths.as_items(value)
                item = self.paths.fresh()
                element = Sql(var(item), "json" if items.kind == "list" else "string")
                scalar = self.paths.scalar(element, kind, column.name)
                self.types[column.name] = (
                    f"{sql_type}[]" if self.dialect.name == "duckdb" else f"ARRAY<{sql_type}>"
                )
                return self.dialect.transform(items.expr, item, scalar)
            message = (
                f"{column.where}.path: {column.source!r} returned several values; "
                "set collection: true or narrow the path (e.g. with first())"
            )
            self.types[column.name] = sql_type
            return self.paths.scalar(
                self.paths.single(value, column.name, message), kind, column.name
            )
        except PathError as exc:
            raise ViewError(str(exc), f"{column.where}.path") from exc

    # --- rows ---
    def _rows(self, select: Select, scope: Scope) -> exp.Expression:
        if not select.iterates:
            return self._combine(select, scope)
        foci = self._foci(select, scope)
        item, index = self.paths.fresh(), self.paths.fresh()
        inner = self._combine(select, with_focus(scope, foci.item(var(item)), var(index)))
        rows = self.dialect.flatten(self.dialect.transform_indexed(foci.expr, item, index, inner))
        if not select.or_null:
            return rows
        empty = exp.EQ(this=self.dialect.length(foci.expr), expression=number(0))
        return case((empty, self.dialect.list_of(self._null_row(select, scope))), default=rows)

    def _foci(self, select: Select, scope: Scope) -> Sql:
        if select.for_each is not None:
            return self.paths.iterable(
                self._path(select.for_each, scope, f"{select.where}.forEach")
            )
        return Sql(self._descendants(select, scope.focus, scope, REPEAT_DEPTH), "list")

    def _children(self, select: Select, node: Sql, scope: Scope) -> exp.Expression:
        found = []
        for i, path in enumerate(select.repeat):
            compiled = self._path(
                path, with_focus(scope, node, scope.row_index), f"{select.where}.repeat[{i}]"
            )
            items = self.paths.as_items(compiled)
            if items.kind != "list":
                raise ViewError(
                    "repeat paths must select elements, not values", f"{select.where}.repeat[{i}]"
                )
            found.append(items.expr)
        return found[0] if len(found) == 1 else self.dialect.concat(found)

    def _descendants(self, select: Select, node: Sql, scope: Scope, depth: int) -> exp.Expression:
        """Pre-order list of everything ``repeat`` reaches from ``node``."""
        children = self._children(select, node, scope)
        if depth == 0:
            deeper = exp.GT(this=self.dialect.length(children), expression=number(0))
            too_deep = self.dialect.error(
                f"{select.where}.repeat: data nests deeper than {REPEAT_DEPTH} levels",
                f"{self.dialect.json_type}[]"
                if self.dialect.name == "duckdb"
                else f"ARRAY<{self.dialect.json_type}>",
            )
            return case((deeper, too_deep), default=self.paths.null("list"))
        child = self.paths.fresh()
        below = self._descendants(select, Sql(var(child), "json"), scope, depth - 1)
        subtree = self.dialect.concat([self.dialect.list_of(var(child)), below])
        return self.dialect.flatten(self.dialect.transform(children, child, subtree))

    def _combine(self, select: Select, scope: Scope) -> exp.Expression:
        own = self._columns(select.columns, scope)
        parts = [(self._rows(child, scope), child.column_names()) for child in select.selects]
        if select.union_all:
            branches = [self._rows(branch, scope) for branch in select.union_all]
            union = branches[0] if len(branches) == 1 else self.dialect.concat(branches)
            parts.append((union, select.union_all[0].column_names()))
        return self._product(own, parts)

    def _product(
        self,
        fields: list[tuple[str, exp.Expression]],
        parts: Sequence[tuple[exp.Expression, tuple[str, ...]]],
    ) -> exp.Expression:
        if not parts:
            return self.dialect.list_of(self.dialect.struct(fields))
        rows, names = parts[0]
        row = self.paths.fresh()
        joined = fields + [(name, self.dialect.field(var(row), name)) for name in names]
        inner = self._product(joined, parts[1:])
        if len(parts) == 1:
            return self.dialect.transform(rows, row, self.dialect.struct(joined))
        return self.dialect.flatten(self.dialect.transform(rows, row, inner))

    def _null_row(self, select: Select, scope: Scope) -> exp.Expression:
        """forEachOrNull with nothing to iterate: own columns over an empty focus, the rest NULL."""
        own = self._columns(select.columns, with_focus(scope, EMPTY, cast(number(0), "BIGINT")))
        own_names = {name for name, _ in own}
        rest = [
            (name, cast(exp.Null(), self.types[name]))
            for name in select.column_names()
            if name not in own_names
        ]
        return self.dialect.struct(own + rest)


def _natural(value: Sql) -> str:
    if value.kind in {"boolean", "integer", "number"}:
        return value.kind
    return "string"


def _is_flat(select: Select) -> bool:
    return not select.iterates and not select.union_all and all(_is_flat(s) for s in select.selects)
