"""Writing one resource type to one file, streaming: ``<Type>.ndjson`` or ``<Type>.parquet``.

Parquet is the columnar layout the views engines read (:mod:`joinedup.views.columnar`: one
typed column per top-level element). A column's type is known only once every resource has
been seen, so the resources stream to a hidden NDJSON file beside the Parquet file first and
DuckDB converts that in one go when the type is complete; memory stays flat either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Literal, Protocol

import duckdb

from joinedup.views.columnar import streaming_connection, write_columnar

Format = Literal["ndjson", "parquet"]


class ResourceWriter(Protocol):
    path: Path

    def write(self, line: bytes) -> None:
        """Add one resource: its JSON text and a newline."""
        ...

    def close(self) -> None:
        """Finish the file at :attr:`path`."""
        ...

    def discard(self) -> None:
        """Stop after a failure: release the file without finishing it."""
        ...


class TypeFiles:
    """Opens a writer per resource type in ``folder``. Parquet writers convert on one shared
    DuckDB connection (one at a time), closed with :meth:`close`, and give no column to the
    top-level elements in ``leave_out``."""

    def __init__(
        self, folder: Path, format: Format, leave_out: frozenset[str] = frozenset()
    ) -> None:
        self.folder = folder
        self.format = format
        self.leave_out = leave_out
        self._connection = streaming_connection() if format == "parquet" else None

    def open(self, resource_type: str) -> ResourceWriter:
        if self._connection is not None:
            path = self.folder / f"{resource_type}.parquet"
            return ColumnarResourceWriter(path, self._connection, self.leave_out)
        return NdjsonResourceWriter(self.folder / f"{resource_type}.ndjson")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


class NdjsonResourceWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO = path.open("wb")

    def write(self, line: bytes) -> None:
        self._file.write(line)

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self._file.close()


class ColumnarResourceWriter:
    def __init__(
        self, path: Path, connection: duckdb.DuckDBPyConnection, leave_out: frozenset[str]
    ) -> None:
        self.path = path
        self._connection = connection
        self._leave_out = leave_out
        self._lines = NdjsonResourceWriter(path.with_name(f".{path.stem}.ndjson"))

    def write(self, line: bytes) -> None:
        self._lines.write(line)

    def close(self) -> None:
        self._lines.close()
        try:
            write_columnar(self._lines.path, self.path, self._connection, leave_out=self._leave_out)
        finally:
            self._lines.path.unlink()

    def discard(self) -> None:
        self._lines.close()
        self._lines.path.unlink()
