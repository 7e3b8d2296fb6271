"""Columnar Parquet: resources stored as typed, nested columns, one per top-level element.

A columnar file has no ``resource`` column. Each top-level element of the resource type is a
column whose type DuckDB infers over *every* resource in the file (so no element is dropped
because a sample missed it), then made lossless for FHIR:

* dates, times and instants stay text (DuckDB would read ``2024-01-02T10:00:00Z`` as a
  timestamp and print it back differently);
* non-integer and oversized numbers, elements whose shape varies between resources, maps and
  all-null elements are stored as ``JSON`` (DuckDB keeps their value, not their spelling);
* strings, booleans, 64-bit integers, structs and lists keep their types.

An absent element is NULL. Engines read such a file with struct and list operations instead of
parsing JSON per row; readers that need the resource as JSON turn a row back with ``to_json``
and drop the NULL members (:func:`resource_texts`). Snapshots written before this layout hold
one ``resource`` column of JSON text instead; :func:`resource_texts` reads both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import duckdb
import pyarrow.parquet as pq
from duckdb.sqltypes import DuckDBPyType

#: The JSON reader's options for inferring a whole file's element types (no sampling, no MAPs).
_INFER = (
    "format='newline_delimited', sample_size=-1, map_inference_threshold=-1, "
    "field_appearance_threshold=0"
)
_TEXT = frozenset({"date", "time", "time with time zone", "timestamp", "timestamp with time zone",
                   "timestamp_s", "timestamp_ms", "timestamp_ns", "uuid", "interval"})  # fmt: skip
_KEPT = {"varchar": "VARCHAR", "boolean": "BOOLEAN", "bigint": "BIGINT", "integer": "BIGINT",
         "smallint": "BIGINT", "tinyint": "BIGINT"}  # fmt: skip
#: A columnar row back as the resource's JSON text. The row alias has a colon so that no FHIR
#: element (letters only) can shadow it. NULL object members are absent elements and go, at
#: every depth; NULLs inside arrays stay (they align ``_given: [null, {...}]`` with ``given``).
_ROW = '"joinedup:row"'
_CONVERSION_MEMORY = "512MB"
_RESOURCE_JSON = f"json_strip_nulls(to_json({_ROW}))::VARCHAR"


@dataclass(frozen=True)
class _ListOf:
    element: Shape


Shape = str | dict[str, "Shape"] | _ListOf | None
"""An element's lossless type as inferred: a column type's name (``NUMBER`` for a number that
is not a 64-bit integer, stored as ``JSON``), a struct's fields in order, a list's element, or
``None`` where only nulls were seen."""
Columns = dict[str, Shape]
"""Each top-level element of a file's resources and its :data:`Shape`."""
#: Numbers DuckDB infers beyond BIGINT; the JSON type keeps their value exactly.
_NUMBERS = frozenset({"double", "float", "decimal", "hugeint", "uhugeint", "ubigint"})
_INTEGER_OR_NUMBER = ("BIGINT", "NUMBER")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _shape(kind: DuckDBPyType) -> Shape:
    if str(kind) == "JSON":
        return "JSON"
    if kind.id == "null":
        return None
    if kind.id in ("struct", "list"):
        # DuckDB types children loosely; a struct's or a list's children are always types.
        children = [(name, cast(DuckDBPyType, child)) for name, child in kind.children]
    if kind.id == "struct":
        return {name: _shape(child) for name, child in children}
    if kind.id == "list":
        return _ListOf(_shape(children[0][1]))
    if kind.id in _TEXT:
        return "VARCHAR"
    if kind.id in _NUMBERS:
        return "NUMBER"
    return _KEPT.get(kind.id, "JSON")


def _spelled(shape: Shape) -> str:
    if shape is None or shape == "NUMBER":
        return "JSON"
    if isinstance(shape, _ListOf):
        return f"{_spelled(shape.element)}[]"
    if isinstance(shape, dict):
        fields = ", ".join(f"{_quoted(name)} {_spelled(child)}" for name, child in shape.items())
        return f"STRUCT({fields})"
    return shape


def _merged(first: Shape, second: Shape, json_unknown: bool) -> Shape:
    """The shape DuckDB infers over two parts of a file together: nulls take the other side's
    type, structs gain each other's fields in order of appearance, lists merge their elements,
    a 64-bit integer with a wider number is that number, and any other difference is ``JSON``.

    DuckDB also says ``JSON`` for what it saw only as ``[]`` or ``{}``, which another part may
    fill in; ``json_unknown`` merges ``JSON`` as such an unknown instead of as a clash."""
    if first is None or first == second:
        return second
    if second is None:
        return first
    if json_unknown and first == "JSON":
        return second
    if json_unknown and second == "JSON":
        return first
    if isinstance(first, dict) and isinstance(second, dict):
        return _merged_fields(first, second, json_unknown)
    if isinstance(first, _ListOf) and isinstance(second, _ListOf):
        return _ListOf(_merged(first.element, second.element, json_unknown))
    if first in _INTEGER_OR_NUMBER and second in _INTEGER_OR_NUMBER:
        return "NUMBER"
    return "JSON"


def _merged_fields(first: Columns, second: Columns, json_unknown: bool) -> Columns:
    names = {**first, **second}
    return {name: _merged(first.get(name), second.get(name), json_unknown) for name in names}


def merged_columns(parts: Sequence[Columns]) -> Columns | None:
    """The columns of one type's NDJSON read as one file, from those of its parts in order,
    or ``None`` where the parts alone cannot tell: a ``JSON`` in one part (a clash of types,
    or only empty lists or objects seen) where another has a type. Checked against DuckDB's
    inference over the whole file in ``tests/spec/views/test_columnar_parts.py``."""
    columns: Columns = {}
    for part in parts:
        merged = _merged_fields(columns, part, json_unknown=False)
        if merged != _merged_fields(columns, part, json_unknown=True):
            return None
        columns = merged
    return columns


def columnar_columns(
    ndjson: Path | Sequence[Path], connection: duckdb.DuckDBPyConnection
) -> Columns:
    """Each top-level element of the resources in ``ndjson`` (a file, or parts of one read
    as one) and its lossless shape."""
    files = [ndjson] if isinstance(ndjson, Path) else list(ndjson)
    listed = "[" + ", ".join(_literal(file) for file in files) + "]"
    query = f"SELECT * FROM read_json({listed}, {_INFER})"  # noqa: S608
    relation = connection.sql(query)
    kinds = zip(relation.columns, relation.types, strict=True)
    return {name: _shape(kind) for name, kind in kinds}


def streaming_connection() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for streaming whole files through (converting, reading back):
    quiet, and with a fixed memory limit.

    These queries stream, but DuckDB keeps buffers up to 80% of RAM by default, so without
    the limit memory grew with the file (760-830 MB peak converting a 580 MB NDJSON file,
    470-480 MB with a 512 MB limit, in about the same time). 256 MB was tried: two
    conversions at once then ran out of it, and one at a time took 15% longer at 5.2M
    resources. DuckDB's progress bar would print over the caller's."""
    connection = duckdb.connect()
    connection.execute(f"SET memory_limit = '{_CONVERSION_MEMORY}'")
    connection.execute("SET enable_progress_bar = false")
    return connection


def write_columnar(
    ndjson: Path | Sequence[Path],
    parquet: Path,
    connection: duckdb.DuckDBPyConnection | None = None,
    *,
    leave_out: frozenset[str] = frozenset(),
    columns: Columns | None = None,
) -> int:
    """Convert an NDJSON file of one resource type, or its parts in order, to a columnar
    Parquet file; the row count.

    Pass a :func:`streaming_connection` to convert many files on one connection (opening one
    takes tens of milliseconds, as long as converting a small file). ``columns`` are the
    parts' :func:`columnar_columns` merged (:func:`merged_columns`) where the caller inferred
    them already; without them the parts are inferred together. Top-level elements named in
    ``leave_out`` get no column."""
    if connection is None:
        with streaming_connection() as own:
            return write_columnar(ndjson, parquet, own, leave_out=leave_out, columns=columns)
    parts = [ndjson] if isinstance(ndjson, Path) else list(ndjson)
    parts = [part for part in parts if part.stat().st_size > 0]
    if not parts:
        return 0
    if columns is None:
        columns = columnar_columns(parts, connection)
    kept = {name: _spelled(shape) for name, shape in columns.items() if name not in leave_out}
    files = "[" + ", ".join(_literal(part) for part in parts) + "]"
    reader = f"read_json({files}, format='newline_delimited', columns=$columns)"
    target = _literal(parquet)
    copy = f"COPY (SELECT * FROM {reader}) TO {target} (FORMAT parquet, COMPRESSION zstd)"  # noqa: S608
    connection.execute(copy, {"columns": kept})
    count = f"SELECT count(*) FROM read_parquet({target})"  # noqa: S608
    row = connection.execute(count).fetchone()
    return int(row[0]) if row else 0


def is_columnar(parquet: Path) -> bool:
    """True for a columnar file; False for the JSON-text layout (a ``resource`` column)."""
    return "resource" not in pq.read_schema(parquet).names


def resource_texts(parquet: Path, batch_size: int = 4_096) -> Iterator[str]:
    """The JSON text of each resource in a snapshot Parquet file of either layout, streamed."""
    if not is_columnar(parquet):
        for batch in pq.ParquetFile(parquet).iter_batches(
            columns=["resource"], batch_size=batch_size
        ):
            for value in batch.column(0).to_pylist():
                if value is not None:
                    yield value if isinstance(value, str) else value.decode()
        return
    connection = streaming_connection()
    try:
        query = f"SELECT {_RESOURCE_JSON} FROM read_parquet({_literal(parquet)}) {_ROW}"  # noqa: S608
        result = connection.execute(query)
        while rows := result.fetchmany(batch_size):
            for (text,) in rows:
                yield text
    finally:
        connection.close()


def write_json_text(columnar: Path, out: Path) -> None:
    """Copy a columnar file into the JSON-text layout (one ``resource`` column), for readers
    that parse each resource's JSON themselves."""
    connection = streaming_connection()
    try:
        reader = f"read_parquet({_literal(columnar)}) {_ROW}"
        query = f"SELECT {_RESOURCE_JSON} AS resource FROM {reader}"  # noqa: S608
        connection.execute(f"COPY ({query}) TO {_literal(out)} (FORMAT parquet, COMPRESSION zstd)")
    finally:
        connection.close()


def _literal(path: Path) -> str:
    return "'" + path.as_posix().replace("'", "''") + "'"
