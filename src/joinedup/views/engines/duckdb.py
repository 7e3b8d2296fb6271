"""The DuckDB engine: the compiled view runs as one query inside DuckDB.

NDJSON files are read with ``read_ndjson_objects`` (each line one JSON value) and Parquet
files' ``resource`` column is cast to JSON; no resource passes through Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
from sqlglot import exp

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


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection | None = None) -> None:
        self.connection = connection if connection is not None else duckdb.connect()

    def compile(self, view: ViewDefinition, source: Source) -> CompiledView:
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
