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

from collections.abc import Iterator
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


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lossless(kind: DuckDBPyType) -> str:
    if str(kind) == "JSON":
        return "JSON"
    if kind.id in ("struct", "list"):
        # DuckDB types children loosely; a struct's or a list's children are always types.
        children = [(name, cast(DuckDBPyType, child)) for name, child in kind.children]
    if kind.id == "struct":
        fields = ", ".join(f"{_quoted(name)} {_lossless(child)}" for name, child in children)
        return f"STRUCT({fields})"
    if kind.id == "list":
        return f"{_lossless(children[0][1])}[]"
    if kind.id in _TEXT:
        return "VARCHAR"
    return _KEPT.get(kind.id, "JSON")


def columnar_columns(ndjson: Path, connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each top-level element of the resources in ``ndjson`` and its lossless DuckDB type."""
    query = f"SELECT * FROM read_json({_literal(ndjson)}, {_INFER})"  # noqa: S608
    relation = connection.sql(query)
    kinds = zip(relation.columns, relation.types, strict=True)
    return {name: _lossless(kind) for name, kind in kinds}


def streaming_connection() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for streaming whole files through (converting, reading back):
    quiet, and with a fixed memory limit.

    These queries stream, but DuckDB keeps buffers up to 80% of RAM by default, so without
    the limit memory grew with the file (760-830 MB peak converting a 580 MB NDJSON file,
    470-480 MB with it, in about the same time). DuckDB's progress bar would print over the
    caller's."""
    connection = duckdb.connect()
    connection.execute(f"SET memory_limit = '{_CONVERSION_MEMORY}'")
    connection.execute("SET enable_progress_bar = false")
    return connection


def write_columnar(
    ndjson: Path,
    parquet: Path,
    connection: duckdb.DuckDBPyConnection | None = None,
    *,
    leave_out: frozenset[str] = frozenset(),
) -> int:
    """Convert an NDJSON file of one resource type to a columnar Parquet file; the row count.

    Pass a :func:`streaming_connection` to convert many files on one connection (opening one
    takes tens of milliseconds, as long as converting a small file). Top-level elements named
    in ``leave_out`` get no column."""
    if connection is None:
        with streaming_connection() as own:
            return write_columnar(ndjson, parquet, own, leave_out=leave_out)
    if ndjson.stat().st_size == 0:
        return 0
    inferred = columnar_columns(ndjson, connection)
    columns = {name: kind for name, kind in inferred.items() if name not in leave_out}
    reader = f"read_json({_literal(ndjson)}, format='newline_delimited', columns=$columns)"
    target = _literal(parquet)
    copy = f"COPY (SELECT * FROM {reader}) TO {target} (FORMAT parquet, COMPRESSION zstd)"  # noqa: S608
    connection.execute(copy, {"columns": columns})
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
