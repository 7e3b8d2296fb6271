"""Writing one resource type to one file, streaming: ``<Type>.ndjson`` or ``<Type>.parquet``.

Parquet is the columnar layout the views engines read (:mod:`joinedup.views.columnar`: one
typed column per top-level element). A column's type is known only once every resource has
been seen, so the resources stream to a hidden NDJSON file beside the Parquet file first and
DuckDB converts that in one go when the type is complete; memory stays flat either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

import duckdb
import orjson

from joinedup.views.columnar import streaming_connection, write_columnar

Format = Literal["ndjson", "parquet"]


class ResourceWriter(Protocol):
    path: Path

    def write(self, resource: dict[str, Any]) -> None: ...

    def close(self) -> None:
        """Finish the file at :attr:`path`."""
        ...

    def discard(self) -> None:
        """Stop after a failure: release the file without finishing it."""
        ...


class TypeFiles:
    """Opens a writer per resource type in ``folder``. Parquet writers convert on one shared
    DuckDB connection (one at a time), closed with :meth:`close`."""

    def __init__(self, folder: Path, format: Format) -> None:
        self.folder = folder
        self.format = format
        self._connection = streaming_connection() if format == "parquet" else None

    def open(self, resource_type: str) -> ResourceWriter:
        if self._connection is not None:
            path = self.folder / f"{resource_type}.parquet"
            return ColumnarResourceWriter(path, self._connection)
        return NdjsonResourceWriter(self.folder / f"{resource_type}.ndjson")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


class NdjsonResourceWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO = path.open("wb")

    def write(self, resource: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self._file.close()


class ColumnarResourceWriter:
    def __init__(self, path: Path, connection: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self._connection = connection
        self._lines = NdjsonResourceWriter(path.with_name(f".{path.stem}.ndjson"))

    def write(self, resource: dict[str, Any]) -> None:
        self._lines.write(resource)

    def close(self) -> None:
        self._lines.close()
        try:
            write_columnar(self._lines.path, self.path, self._connection)
        finally:
            self._lines.path.unlink()

    def discard(self) -> None:
        self._lines.close()
        self._lines.path.unlink()
