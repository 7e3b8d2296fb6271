"""The store on PostgreSQL (psycopg 3): JSONB documents, a connection pool, COPY for bulk loads.

Write transactions run at READ COMMITTED: each statement sees what other transactions have
committed, which the conditional-create claim relies on (after waiting on a competitor's claim
it re-searches and finds the competitor's resource). Rows about to change are read
``FOR UPDATE``. Read-path calls run in one REPEATABLE READ READ ONLY transaction so a page and
its total come from the same snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from joinedup.store.base import Dialect
from joinedup.store.database import Database, Row
from joinedup.store.migrate import ensure_schema
from joinedup.store.schema import POSTGRES_DDL
from joinedup.store.sql_store import SQLStore

POOL_SIZE = 16


def to_pyformat(sql: str) -> str:
    """``?`` placeholders (the store's one paramstyle) as psycopg's ``%s``; ``%`` doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.connection.cursor() as cursor:
            cursor.execute(to_pyformat(sql), tuple(params))
            return cursor.fetchall() if cursor.description is not None else []

    def stream(self, sql: str, params: Sequence[Any], batch: int) -> Iterator[list[Row]]:
        # A named cursor lives on the server: rows come over ``batch`` at a time.
        with self.connection.cursor(f"stream_{uuid.uuid4().hex}") as cursor:
            cursor.itersize = batch
            cursor.execute(to_pyformat(sql), tuple(params))
            while rows := cursor.fetchmany(batch):
                yield rows

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(to_pyformat(sql), list(rows))

    def insert_rows(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        if not rows:
            return
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def json_param(self) -> str:
        return "CAST(? AS JSONB)"

    def json_column(self, alias: str) -> str:
        return f"{alias}.content::text"

    def allocate_pks(self, count: int) -> list[int]:
        rows = self.query(
            "SELECT nextval(pg_get_serial_sequence('resource', 'pk')) FROM generate_series(1, ?)",
            [count],
        )
        return [int(row[0]) for row in rows]

    def batch(self) -> AbstractContextManager[object]:
        return self.connection.pipeline()

    def lock_clause(self) -> str:
        return " FOR UPDATE"


def _configure(connection: psycopg.Connection[Any]) -> None:
    # JIT compilation pays off for long analytical queries, not the record's short ones: with
    # statistics, the planner's cost for an access-restricted search crosses jit_above_cost
    # and compiling took ~70 ms of an ~80 ms query (EXPLAIN ANALYZE, docs/access.md).
    connection.execute("SET jit = off")


class PostgresStore(SQLStore):
    """``postgresql://user@host:port/db`` (add ``?options=-csearch_path%3Dschema`` to use a
    schema other than ``public``)."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            configure=_configure,
            open=True,
        )
        # Serialise schema creation across processes opening the same database at once.
        with self._connect(write=True) as db:
            db.query("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            ensure_schema(db, POSTGRES_DDL)

    @contextmanager
    def _session(self, write: bool) -> Iterator[Database]:
        with self._pool.connection() as connection, connection.transaction():
            if not write:
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield PostgresDatabase(connection)

    def _connect(self, *, write: bool) -> AbstractContextManager[Database]:
        return self._session(write)

    def _streaming(self) -> AbstractContextManager[Database]:
        # A pool connection of its own already; one REPEATABLE READ snapshot for the stream.
        return self._session(write=False)

    def _run_ddl(self, statements: Sequence[str]) -> None:
        with self._connect(write=True) as db:
            for statement in statements:
                db.query(statement)

    def close(self) -> None:
        self._extractor.close()
        self._pool.close()
