"""The store on SQLite: one file, WAL journal, one connection per thread.

Write transactions start with ``BEGIN IMMEDIATE`` so writers queue on the database lock instead
of failing half-way; WAL lets readers go on meanwhile. With ``synchronous=NORMAL`` in WAL mode a
committed transaction survives the process being killed (only an OS crash or power cut can lose
the last commits), and a transaction killed mid-way leaves nothing. Checkpoints (copying the
WAL back into the database) run in a thread of the store's own, not in a request's commit
(store/wal.py).
"""

# ruff: noqa: S608 — this module composes SQL from fixed fragments, table names and R4
# parameter codes; every value a caller supplies travels as a bound parameter.

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from joinedup.store.base import Dialect
from joinedup.store.database import Database, Row
from joinedup.store.migrate import ensure_schema
from joinedup.store.schema import SQLITE_DDL
from joinedup.store.sql_store import SQLStore
from joinedup.store.wal import WALCheckpointer

BUSY_TIMEOUT_MS = 120_000
#: Planner statistics are gathered once a store holds this many resources, and again each
#: time it has doubled; ANALYZE samples about this many rows per index, so it stays quick.
ANALYSE_FROM_ROWS = 1_000
ANALYSIS_LIMIT = 1_000
#: A bulk load's connection keeps up to 64 MiB of pages (the default is 2 MiB): the index
#: b-trees it inserts into stay in memory across batches instead of being read back.
BULK_CACHE_KIB = 65_536
#: ... and lets the WAL grow to this many pages (the default is 1,000) before copying it into
#: the database, so a page written by many batches is checkpointed (and synced) once.
BULK_AUTOCHECKPOINT_PAGES = 10_000
#: The store's own thread checkpoints at most once per this many seconds while there are
#: writes (store/wal.py). Under the HTTP benchmark's mixed load that copies ~500 pages at a
#: time; once a second (~2,500 pages) raised the mixed p99 from about 56 ms to about 68 ms.
WAL_CHECKPOINT_SECONDS = 0.2
#: Should that thread fall behind (starved of CPU, say), a writer whose commit takes the WAL
#: past this many pages checkpoints it itself, as SQLite does at 1,000 by default: the WAL
#: stays bounded whatever happens to the thread.
FALLBACK_AUTOCHECKPOINT_PAGES = 20_000


class SQLiteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.connection.execute(sql, tuple(params)).fetchall()

    def stream(self, sql: str, params: Sequence[Any], batch: int) -> Iterator[list[Row]]:
        cursor = self.connection.execute(sql, tuple(params))
        try:
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        if rows:
            marks = ", ".join("?" for _ in columns)
            self.connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
            )

    def json_param(self) -> str:
        return "?"

    def json_column(self, alias: str) -> str:
        return f"{alias}.content"

    def allocate_pks(self, count: int) -> list[int]:
        top = int(self.query("SELECT COALESCE(MAX(pk), 0) FROM resource")[0][0])
        return list(range(top + 1, top + 1 + count))


class SQLiteStore(SQLStore):
    """``sqlite:///path.db``."""

    dialect: Dialect = "sqlite"

    def __init__(
        self, path: str, *, wal_checkpoint_seconds: float = WAL_CHECKPOINT_SECONDS
    ) -> None:
        super().__init__()
        if path in ("", ":memory:"):
            raise ValueError(
                "the SQLite store needs a file (each thread connects to it): "
                "use sqlite:///path/to/record.db"
            )
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._wal = WALCheckpointer(self._open, every=wal_checkpoint_seconds)
        try:
            with self._connect(write=True) as db:
                ensure_schema(db, SQLITE_DDL)
            self._refresh_statistics()
        except BaseException:
            self.close()
            raise

    def _refresh_statistics(self) -> None:
        # Without statistics SQLite's planner scans every resource of the searched type
        # rather than look up the few rows a criterion's index finds (a patient's
        # Observations by code: 16 ms on 30k resources, 2 ms with statistics). A sampled
        # ANALYZE whenever the store has doubled since the last one keeps plans right.
        with self._connect(write=False) as db:
            rows = int(db.query("SELECT COALESCE(MAX(pk), 0) FROM resource")[0][0])
            analysed = 0
            if db.query("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"):
                stat = db.query("SELECT stat FROM sqlite_stat1 WHERE idx = 'resource_type_updated'")
                analysed = int(str(stat[0][0]).split()[0]) if stat else 0
        if rows < ANALYSE_FROM_ROWS or rows < 2 * analysed:
            return
        with self._connect(write=True) as db:
            db.query(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
            db.query("ANALYZE")

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(f"PRAGMA wal_autocheckpoint = {FALLBACK_AUTOCHECKPOINT_PAGES}")
        connection.execute("PRAGMA foreign_keys = OFF")
        return connection

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
            self._local.connection = connection
            with self._all_lock:
                self._all.append(connection)
        return connection

    @contextmanager
    def _session(self, write: bool) -> Iterator[Database]:
        connection = self._connection()
        if connection.in_transaction:
            # A read-path call made by code running inside this thread's open transaction
            # (a write hook, say) reads through it; a second write transaction cannot nest.
            if write:
                raise RuntimeError(
                    "a store transaction is already open in this thread; write through its "
                    "Transaction object instead of opening another"
                )
            yield SQLiteDatabase(connection)
            return
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield SQLiteDatabase(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        if write:
            self._wal.written()

    def _connect(self, *, write: bool) -> AbstractContextManager[Database]:
        return self._session(write)

    @contextmanager
    def _bulk_session(self) -> Iterator[Database]:
        connection = self._connection()
        cache = connection.execute("PRAGMA cache_size").fetchone()[0]
        autocheckpoint = connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        connection.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
        connection.execute(f"PRAGMA wal_autocheckpoint = {BULK_AUTOCHECKPOINT_PAGES}")
        try:
            with self._wal.paused(), self._session(write=True) as db:
                yield db
        finally:
            connection.execute(f"PRAGMA cache_size = {int(cache)}")
            connection.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")

    def _bulk_connect(self) -> AbstractContextManager[Database]:
        return self._bulk_session()

    @contextmanager
    def _stream_session(self) -> Iterator[Database]:
        shared = self._connection()
        if shared.in_transaction:
            # Inside this thread's open transaction (a write hook): read through it.
            yield SQLiteDatabase(shared)
            return
        # A connection of its own, so the thread may write (progress, say) while it streams;
        # WAL lets the read transaction go on beside those writes.
        connection = self._open()
        try:
            connection.execute("BEGIN")
            yield SQLiteDatabase(connection)
        finally:
            connection.close()

    def _streaming(self) -> AbstractContextManager[Database]:
        return self._stream_session()

    def _run_ddl(self, statements: Sequence[str]) -> None:
        with self._connect(write=True) as db:
            for statement in statements:
                db.query(statement)

    def close(self) -> None:
        self._extractor.close()
        self._wal.close()
        with self._all_lock:
            for connection in self._all:
                connection.close()
            self._all.clear()
        self._local = threading.local()
