"""The little a store needs from a database connection, spelled once per dialect.

All store SQL is written with ``?`` placeholders; :class:`Database` implementations translate
for their driver, and say how JSON goes in and comes out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from joinedup.store.base import Dialect

Row = tuple[Any, ...]


class Database(ABC):
    """One open connection inside one database transaction."""

    dialect: Dialect

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of a statement (empty for statements without a result)."""

    @abstractmethod
    def stream(self, sql: str, params: Sequence[Any], batch: int) -> Iterator[list[Row]]:
        """Rows of a query in lists of at most ``batch``, fetched as they are consumed (a
        server-side cursor where the driver has one), so memory stays flat."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""

    @abstractmethod
    def insert_rows(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        """Bulk-insert ``rows`` (the fastest path the driver has)."""

    @abstractmethod
    def json_param(self) -> str:
        """The placeholder for a JSON document passed as text."""

    @abstractmethod
    def json_column(self, alias: str) -> str:
        """``alias.content`` as JSON text."""

    @abstractmethod
    def allocate_pks(self, count: int) -> list[int]:
        """``count`` fresh ``resource.pk`` values (the caller holds the write transaction)."""

    def batch(self) -> AbstractContextManager[object]:
        """Statements inside need no results until the block ends (PostgreSQL pipelines them
        into one round trip)."""
        return nullcontext()

    def lock_clause(self) -> str:
        """Appended to a SELECT that reads a row the transaction is about to change."""
        return ""
