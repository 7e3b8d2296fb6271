"""The :class:`Store` implementation shared by both dialects; subclasses only open connections."""

# ruff: noqa: S608 — this module composes SQL from fixed fragments, table names and R4
# parameter codes; every value a caller supplies travels as a bound parameter.

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager

import orjson

from joinedup.store import reading
from joinedup.store.base import (
    HistoryPage,
    Resource,
    Restriction,
    SearchPage,
    Store,
    StoredResource,
    StoreExtension,
    Transaction,
)
from joinedup.store.database import Database
from joinedup.store.extraction import IndexExtractor, IndexRows
from joinedup.store.indexing import INDEX_COLUMNS
from joinedup.store.ranges import now_instant
from joinedup.store.rows import resource_columns, stored
from joinedup.store.search.execute import run_search
from joinedup.store.search.query import SearchQuery
from joinedup.store.writes import SQLTransaction, check_id, check_type, stamped

BULK_BATCH = 2000


def _insert_index_rows(db: Database, parts: list[IndexRows]) -> None:
    """Insert the rows of several extracted chunks, one statement per table."""
    if not parts:
        return
    for table, columns in INDEX_COLUMNS.items():
        rows = [row for tables, _, _ in parts for row in tables[table]]
        db.insert_rows(table, ("resource_pk", *columns), rows)
    db.insert_rows(
        "patient_compartment",
        ("resource_pk", "patient_id"),
        [row for _, compartment, _ in parts for row in compartment],
    )
    db.insert_rows(
        "resource_security",
        ("resource_pk", "system", "code"),
        [row for _, _, security in parts for row in security],
    )


def _runs(pks: list[int]) -> list[tuple[int, int]]:
    """``pks`` (ascending, all allocated to this transaction) as ranges of consecutive values,
    so that a range never takes in another writer's rows."""
    runs: list[tuple[int, int]] = []
    for pk in pks:
        if runs and pk == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], pk)
        else:
            runs.append((pk, pk))
    return runs


class SQLStore(Store):
    """Everything but connection handling, written once for SQLite and PostgreSQL."""

    def __init__(self) -> None:
        self._extensions: list[StoreExtension] = []
        self._extractor = IndexExtractor()

    @abstractmethod
    def _connect(self, *, write: bool) -> AbstractContextManager[Database]:
        """A connection inside a database transaction (committed on clean exit, rolled back
        if the block raises); ``write`` transactions exclude concurrent writers where the
        dialect needs it."""

    @abstractmethod
    def _streaming(self) -> AbstractContextManager[Database]:
        """A read transaction for one long streaming read, on a connection the calling
        thread does not otherwise use (so it may write meanwhile)."""

    def _bulk_connect(self) -> AbstractContextManager[Database]:
        """The write transaction of a bulk load (a dialect may tune its connection for one)."""
        return self._connect(write=True)

    @abstractmethod
    def _run_ddl(self, statements: Sequence[str]) -> None:
        """Run schema statements in their own transaction."""

    # --- writes ----------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        with self._connect(write=True) as db:
            yield SQLTransaction(db, tuple(self._extensions))

    def transaction(self) -> AbstractContextManager[Transaction]:
        return self._transaction()

    def bulk_load(self, resources: Iterable[Resource], *, source_org: str | None = None) -> int:
        written = 0
        with self._bulk_connect() as db:
            tx = SQLTransaction(db, tuple(self._extensions))
            batch: list[Resource] = []
            keys: set[tuple[str, str]] = set()
            for resource in resources:
                key = (check_type(resource), check_id(resource.get("id")))
                if key in keys or len(batch) >= BULK_BATCH:
                    written += self._bulk_batch(db, tx, batch, source_org)
                    batch, keys = [], set()
                batch.append(resource)
                keys.add(key)
            written += self._bulk_batch(db, tx, batch, source_org)
        self._refresh_statistics()
        return written

    def _refresh_statistics(self) -> None:
        """Keep the query planner's statistics in step with a growing store (PostgreSQL's
        autovacuum does this by itself)."""

    def _bulk_batch(
        self,
        db: Database,
        tx: SQLTransaction,
        batch: list[Resource],
        source_org: str | None,
    ) -> int:
        if not batch:
            return 0
        existing: set[tuple[str, str]] = set()
        by_type: dict[str, list[str]] = {}
        for resource in batch:
            by_type.setdefault(resource["resourceType"], []).append(resource["id"])
        for resource_type, ids in by_type.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = db.query(
                    "SELECT id FROM resource WHERE resource_type = ? "
                    f"AND id IN ({', '.join('?' for _ in chunk)})",
                    [resource_type, *chunk],
                )
                existing.update((resource_type, row[0]) for row in rows)
        fresh = [r for r in batch if (r["resourceType"], r["id"]) not in existing]
        for resource in batch:
            if (resource["resourceType"], resource["id"]) in existing:
                tx.update(resource, source_org=source_org)
        if not fresh:
            return len(batch)
        now = now_instant()
        pks = db.allocate_pks(len(fresh))
        bodies = [stamped(resource, resource["id"], 1, now) for resource in fresh]
        documents = [orjson.dumps(body) for body in bodies]
        texts = [document.decode() for document in documents]
        columns = (
            "resource_type",
            "id",
            "version_id",
            "last_updated",
            "deleted",
            "source_org",
            "content",
        )

        def write_resources() -> None:
            db.insert_rows(
                "resource",
                ("pk", *columns),
                [
                    (pk, body["resourceType"], body["id"], 1, now, 0, source_org, text)
                    for pk, body, text in zip(pks, bodies, texts, strict=True)
                ],
            )
            # History copies the new rows inside the database: the JSON crosses the wire and
            # is parsed (into JSONB on PostgreSQL) once, not twice.
            for low, high in _runs(pks):
                db.query(
                    f"INSERT INTO resource_history ({', '.join(columns)}) SELECT "
                    f"{', '.join(columns)} FROM resource WHERE pk BETWEEN ? AND ? ORDER BY pk",
                    [low, high],
                )

        # SQLite inserts each chunk's rows as it comes (while the worker extracts the next);
        # on PostgreSQL each COPY costs a round trip, so a batch's rows go in one per table.
        gather = db.dialect == "postgresql"
        gathered: list[IndexRows] = []
        with closing(self._extractor.rows(pks, bodies, documents, write_resources)) as chunks:
            for part in chunks:
                if gather:
                    gathered.append(part)
                else:
                    _insert_index_rows(db, [part])
        _insert_index_rows(db, gathered)
        if self._extensions:
            for body, text in zip(bodies, texts, strict=True):
                version = StoredResource(
                    body["resourceType"], body["id"], 1, now, False, body, source_org, text=text
                )
                tx.run_hooks(version, "create")
        return len(batch)

    # --- reads -----------------------------------------------------------------------------------

    def read(
        self, resource_type: str, id: str, *, restriction: Restriction | None = None
    ) -> StoredResource:
        with self._connect(write=False) as db:
            return reading.read(db, resource_type, id, restriction)

    def vread(
        self,
        resource_type: str,
        id: str,
        version_id: int,
        *,
        restriction: Restriction | None = None,
    ) -> StoredResource:
        with self._connect(write=False) as db:
            return reading.vread(db, resource_type, id, version_id, restriction)

    def history(
        self,
        resource_type: str | None = None,
        id: str | None = None,
        *,
        since: str | None = None,
        count: int = 100,
        cursor: str | None = None,
        restriction: Restriction | None = None,
    ) -> HistoryPage:
        with self._connect(write=False) as db:
            return reading.history(db, resource_type, id, since, count, cursor, restriction)

    def search(self, query: SearchQuery, *, restriction: Restriction | None = None) -> SearchPage:
        with self._connect(write=False) as db:
            return run_search(db, query, restriction)

    def everything(
        self,
        patient_id: str,
        *,
        types: Sequence[str] | None = None,
        since: str | None = None,
        count: int = 100,
        cursor: str | None = None,
        restriction: Restriction | None = None,
    ) -> SearchPage:
        with self._connect(write=False) as db:
            return reading.everything(db, patient_id, types, since, count, cursor, restriction)

    def iter_resources(
        self,
        types: Sequence[str] | None = None,
        since: str | None = None,
        *,
        restriction: Restriction | None = None,
    ) -> Iterator[StoredResource]:
        with self._streaming() as db:
            sql, params = reading.current(db, resource_columns(db, "r"), types, since, restriction)
            for rows in db.stream(sql, params, reading.STREAM_BATCH):
                yield from map(stored, rows)

    def iter_json(
        self,
        types: Sequence[str] | None = None,
        since: str | None = None,
        *,
        restriction: Restriction | None = None,
    ) -> Iterator[str]:
        with self._streaming() as db:
            sql, params = reading.current(db, db.json_column("r"), types, since, restriction)
            for rows in db.stream(sql, params, reading.STREAM_BATCH):
                for (text,) in rows:
                    yield text

    # --- extensions ------------------------------------------------------------------------------

    def register_extension(self, extension: StoreExtension) -> None:
        self._run_ddl(list(extension.ddl.get(self.dialect, ())))
        self._extensions.append(extension)
