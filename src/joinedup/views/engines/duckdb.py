"""The DuckDB engine: the compiled view runs as one query inside DuckDB.

NDJSON files are read with ``read_ndjson_objects`` (each line one JSON value) and Parquet
files' ``resource`` column is cast to JSON; no resource passes through Python. A columnar
Parquet file (``joinedup.views.columnar``) is compiled against its column types instead, so
members are struct fields and lists, not JSON parsed per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import duckdb
from duckdb.sqltypes import DuckDBPyType
from sqlglot import exp

from joinedup.views.columnar import is_columnar
from joinedup.views.compile.shapes import ListOf, Shape, Struct
from joinedup.views.compile.view_sql import RESOURCE_COLUMN, CompiledView, compile_view
from joinedup.views.dialects import DIALECTS, call, text
from joinedup.views.model import ViewDefinition
from joinedup.views.sources import Source

if TYPE_CHECKING:
    import pyarrow


def source_relation(source: Source, resource_type: str) -> exp.Expression:
    """A subquery with one ``resource`` column holding the type's resources as JSON text."""
    found = source.file(resource_type)
    if found is None:
        empty = exp.select(exp.alias_(exp.cast(exp.Null(), "VARCHAR"), RESOURCE_COLUMN))
        return empty.where(exp.false()).subquery("resources")
    path = text(found.path.as_posix())
    if found.format == "ndjson":
        reader = call("read_ndjson_objects", path)
        column = exp.alias_(exp.column("json"), RESOURCE_COLUMN)
    else:
        reader = call("read_parquet", path)
        column = exp.column(RESOURCE_COLUMN)
    return exp.select(column).from_(exp.Table(this=reader)).subquery("resources")


def columnar_shape(connection: duckdb.DuckDBPyConnection, parquet: Path) -> Struct:
    """The columns of a columnar file and their type trees, read from its schema only."""
    reader = exp.select("*").from_(exp.Table(this=call("read_parquet", text(parquet.as_posix()))))
    relation = connection.sql(reader.sql(dialect="duckdb"))
    return Struct(tuple(zip(relation.columns, map(_shape, relation.types), strict=True)))


_SCALAR_SHAPES = {"varchar": "string", "bigint": "integer", "boolean": "boolean"}


def _shape(kind: DuckDBPyType) -> Shape:
    if str(kind) == "JSON":
        return "json"
    if kind.id in ("struct", "list"):
        # DuckDB types children loosely; a struct's or a list's children are always types.
        children = [(name, cast(DuckDBPyType, child)) for name, child in kind.children]
    if kind.id == "struct":
        return Struct(tuple((name, _shape(child)) for name, child in children))
    if kind.id == "list":
        return ListOf(_shape(children[0][1]))
    return _SCALAR_SHAPES.get(kind.id, "other")


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection | None = None) -> None:
        self.connection = connection if connection is not None else duckdb.connect()

    def compile(self, view: ViewDefinition, source: Source) -> CompiledView:
        found = source.file(view.resource)
        if found is not None and found.format == "parquet" and is_columnar(found.path):
            reader = exp.Table(this=call("read_parquet", text(found.path.as_posix())))
            columns = columnar_shape(self.connection, found.path)
            return compile_view(view, DIALECTS["duckdb"], reader, columns)
        return compile_view(view, DIALECTS["duckdb"], source_relation(source, view.resource))

    def relation(self, view: ViewDefinition, source: Source) -> duckdb.DuckDBPyRelation:
        """The view as a lazy DuckDB relation (for notebooks: ``.df()``, ``.arrow()``, SQL)."""
        return self.connection.sql(self.compile(view, source).sql())

    def arrow(self, view: ViewDefinition, source: Source) -> pyarrow.Table:
        return self.relation(view, source).to_arrow_table()

    def rows(self, view: ViewDefinition, source: Source) -> list[dict[str, Any]]:
        relation = self.relation(view, source)
        names = relation.columns
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
