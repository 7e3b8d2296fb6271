"""Writing one resource type to one file, streaming: ``<Type>.ndjson`` or ``<Type>.parquet``.

Parquet is the columnar layout the views engines read (:mod:`joinedup.views.columnar`: one
typed column per top-level element). A column's type is known only once every resource has
been seen, so the resources stream to hidden NDJSON parts beside the Parquet file first and
DuckDB converts them in one go when the type is complete; memory stays flat either way. The
columns of each full part are inferred in the background while the next parts are written, so
closing a big type leaves only its last part to infer.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

import duckdb

from joinedup.views.columnar import (
    Columns,
    columnar_columns,
    merged_columns,
    streaming_connection,
    write_columnar,
)

Format = Literal["ndjson", "parquet"]
_BUFFER = 1 << 20
#: Resources per NDJSON part: a part's inference takes a few seconds.
PART_LINES = 500_000


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
    """Opens a writer per resource type in ``folder``. Parquet writers convert on cursors of
    one DuckDB connection, closed with :meth:`close` (so conversions in several threads share
    its memory limit), and give no column to the top-level elements in ``leave_out``."""

    def __init__(
        self,
        folder: Path,
        format: Format,
        leave_out: frozenset[str] = frozenset(),
        *,
        part_lines: int = PART_LINES,
    ) -> None:
        self.folder = folder
        self.format = format
        self.leave_out = leave_out
        self._part_lines = part_lines
        self._connection = streaming_connection() if format == "parquet" else None
        self._inferring = ThreadPoolExecutor(max_workers=1, thread_name_prefix="columns")

    def open(self, resource_type: str) -> ResourceWriter:
        if self._connection is not None:
            return ColumnarResourceWriter(
                self.folder / f"{resource_type}.parquet",
                self._connection,
                self.leave_out,
                self._inferring,
                self._part_lines,
            )
        return NdjsonResourceWriter(self.folder / f"{resource_type}.ndjson")

    def close(self) -> None:
        self._inferring.shutdown()
        if self._connection is not None:
            self._connection.close()


class NdjsonResourceWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        # Resources are small; a large buffer makes far fewer write calls.
        self._file: BinaryIO = path.open("wb", buffering=_BUFFER)

    def write(self, line: bytes) -> None:
        self._file.write(line)

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self._file.close()


class ColumnarResourceWriter:
    """Made and written in one thread, closed or discarded in any: every DuckDB cursor it
    uses is made in the thread that made it (a connection is not shared between threads)."""

    def __init__(
        self,
        path: Path,
        connection: duckdb.DuckDBPyConnection,
        leave_out: frozenset[str],
        inferring: ThreadPoolExecutor,
        part_lines: int,
    ) -> None:
        self.path = path
        self._connection = connection
        self._cursor = connection.cursor()
        self._leave_out = leave_out
        self._inferring = inferring
        self._part_lines = part_lines
        self._parts: list[Path] = []
        self._inferred: list[tuple[Future[Columns], duckdb.DuckDBPyConnection]] = []
        self._lines = self._next_part()
        self._in_part = 0

    def write(self, line: bytes) -> None:
        self._lines.write(line)
        self._in_part += 1
        if self._in_part == self._part_lines:
            self._lines.close()
            cursor = self._connection.cursor()
            future = self._inferring.submit(columnar_columns, self._parts[-1], cursor)
            self._inferred.append((future, cursor))
            self._lines = self._next_part()
            self._in_part = 0

    def close(self) -> None:
        self._lines.close()
        try:
            columns = self._merged_columns()
            write_columnar(
                self._parts, self.path, self._cursor, leave_out=self._leave_out, columns=columns
            )
        finally:
            self._release()

    def discard(self) -> None:
        self._lines.close()
        self._release()

    def _merged_columns(self) -> Columns | None:
        """The parts' columns merged, or ``None`` (inferred over all parts in the conversion)
        for a single part or where the parts alone cannot tell."""
        if not self._inferred:
            return None
        inferred = [future.result() for future, _ in self._inferred]
        if self._in_part:
            inferred.append(columnar_columns(self._parts[-1], self._cursor))
        return merged_columns(inferred)

    def _next_part(self) -> NdjsonResourceWriter:
        part = self.path.with_name(f".{self.path.stem}.{len(self._parts)}.ndjson")
        self._parts.append(part)
        return NdjsonResourceWriter(part)

    def _release(self) -> None:
        for future, cursor in self._inferred:
            if not future.cancel():
                future.exception()  # waits: it reads a part about to be removed
            cursor.close()
        self._cursor.close()
        for part in self._parts:
            part.unlink(missing_ok=True)
