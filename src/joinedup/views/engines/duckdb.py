"""The DuckDB engine: the compiled view runs as one query inside DuckDB.

No resource passes through Python. A view is compiled type-directed wherever the source has
types, so members are struct fields and lists, not JSON parsed per row:

* a columnar Parquet file (``joinedup.views.columnar``) by its own column types;
* an NDJSON file by the R4 definitions (``compile/r4_shape.py``): ``read_json`` with an
  explicit schema of just the elements the view reads.

The JSON path (each resource one JSON value, members parsed per row) reads Parquet files'
``resource`` column, NDJSON files when a view uses the resource whole, and NDJSON whose data
contradicts R4 (DuckDB's reader fails on, say, an object where R4 says list): :meth:`rows` and
:meth:`arrow` then run the view again on the JSON path, a correct and slower answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import duckdb
from duckdb.sqltypes import DuckDBPyType
from sqlglot import exp

from joinedup.views.columnar import is_columnar
from joinedup.views.compile.r4_shape import resource_shape
from joinedup.views.compile.shapes import ListOf, Shape, Struct
from joinedup.views.compile.view_sql import RESOURCE_COLUMN, CompiledView, compile_view
from joinedup.views.dialects import DIALECTS, call, text
from joinedup.views.model import ViewDefinition
from joinedup.views.sources import Source

if TYPE_CHECKING:
    import pyarrow

_log = logging.getLogger(__name__)
_Result = TypeVar("_Result")
_TYPED_SOURCE = "typed_resources"
"""The name the R4-typed compile reads its resources from, bound to the NDJSON reader."""
# Names the file, never the data: DuckDB's message quotes the offending value.
_MISMATCH = (
    "%s holds data that contradicts the R4 definition of %s (see DuckDB's JSON transform "
    "error); the view runs on the JSON path instead, more slowly"
)


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
_SCALAR_TYPES = {shape: kind.upper() for kind, shape in _SCALAR_SHAPES.items()} | {"json": "JSON"}


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


def duckdb_type(shape: Shape) -> str:
    """The DuckDB type that holds values of ``shape`` (the inverse of reading a type's shape)."""
    if isinstance(shape, Struct):
        fields = ", ".join(f"{_quoted(name)} {duckdb_type(child)}" for name, child in shape.fields)
        return f"STRUCT({fields})"
    if isinstance(shape, ListOf):
        return f"{duckdb_type(shape.item)}[]"
    return _SCALAR_TYPES[shape]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _r4_typed(compiled: CompiledView, ndjson: Path, row: Struct) -> CompiledView | None:
    """``compiled`` (against ``row`` from :func:`resource_shape`, over :data:`_TYPED_SOURCE`)
    reading ``ndjson`` with just the columns it uses; None when it uses the resource whole,
    which only the JSON path keeps (with every member R4 does not define)."""
    if compiled.members is None:
        return None
    columns = exp.Struct(
        expressions=[
            exp.PropertyEQ(
                this=exp.to_identifier(name, quoted=True),
                expression=text(duckdb_type(row.field(name) or "json")),
            )
            for name in compiled.members
        ]
    )
    reader = call(
        "read_json",
        text(ndjson.as_posix()),
        exp.EQ(this=exp.column("format"), expression=text("newline_delimited")),
        exp.EQ(this=exp.column("columns"), expression=columns),
    )
    query = compiled.query
    assert isinstance(query, exp.Select)
    bound = query.with_(_TYPED_SOURCE, as_=exp.select("*").from_(exp.Table(this=reader)))
    return replace(compiled, query=bound)


def _is_schema_mismatch(error: duckdb.Error) -> bool:
    return isinstance(error, duckdb.InvalidInputException) and "JSON transform error" in str(error)


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
        if found is not None and found.format == "ndjson":
            row = resource_shape(view.resource)
            compiled = compile_view(view, DIALECTS["duckdb"], exp.to_table(_TYPED_SOURCE), row)
            typed = _r4_typed(compiled, found.path, row)
            if typed is not None:
                return typed
        return self._compile_json(view, source)

    def _compile_json(self, view: ViewDefinition, source: Source) -> CompiledView:
        return compile_view(view, DIALECTS["duckdb"], source_relation(source, view.resource))

    def relation(self, view: ViewDefinition, source: Source) -> duckdb.DuckDBPyRelation:
        """The view as a lazy DuckDB relation (for notebooks: ``.df()``, ``.arrow()``, SQL).

        Over NDJSON whose data contradicts R4 it raises DuckDB's ``JSON transform error`` when
        read (naming the file and line); :meth:`rows` and :meth:`arrow` fall back instead."""
        return self.connection.sql(self.compile(view, source).sql())

    def arrow(self, view: ViewDefinition, source: Source) -> pyarrow.Table:
        return self._run(view, source, lambda relation: relation.to_arrow_table())

    def rows(self, view: ViewDefinition, source: Source) -> list[dict[str, Any]]:
        def fetch(relation: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
            names = relation.columns
            return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]

        return self._run(view, source, fetch)

    def _run(
        self,
        view: ViewDefinition,
        source: Source,
        fetch: Callable[[duckdb.DuckDBPyRelation], _Result],
    ) -> _Result:
        try:
            return fetch(self.relation(view, source))
        except duckdb.Error as error:
            found = source.file(view.resource)
            if found is None or found.format != "ndjson" or not _is_schema_mismatch(error):
                raise
            _log.info(_MISMATCH, found.path.name, view.resource)
            return fetch(self.connection.sql(self._compile_json(view, source).sql()))
