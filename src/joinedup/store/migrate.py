"""Create the schema, or bring a database an older version made up to :data:`SCHEMA_VERSION`.

Runs in the opening write transaction (which excludes other openers), so two processes opening
one old database migrate it once. The version a database has is ``store_meta.schema_version``.

Version 2 added ``idx_quantity.canonical_value``/``canonical_code`` and the tables ``idx_text``
and ``idx_position``; a version-1 database gets the columns, and every current resource is
indexed again into those three tables (the other index tables are unchanged).
"""

# ruff: noqa: S608 — table and column names come from this package's schema, never from input.

from __future__ import annotations

from collections.abc import Sequence

import orjson

from joinedup.store.database import Database, Row
from joinedup.store.indexing import INDEX_COLUMNS, index_resource
from joinedup.store.schema import SCHEMA_VERSION

_REINDEXED = ("idx_quantity", "idx_text", "idx_position")
_BATCH = 1000


def _stored_version(db: Database) -> int | None:
    """The database's schema version; None for a new, empty database."""
    probe = (
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'store_meta'"
        if db.dialect == "sqlite"
        else "SELECT to_regclass('store_meta')"
    )
    found = db.query(probe)
    if not found or found[0][0] is None:
        return None
    rows = db.query("SELECT value FROM store_meta WHERE key = 'schema_version'")
    return int(rows[0][0]) if rows else None


def _add_quantity_columns(db: Database) -> None:
    """The version-2 columns of ``idx_quantity``, before the DDL indexes them."""
    if db.dialect == "postgresql":
        for column, kind in (("canonical_value", "DOUBLE PRECISION"), ("canonical_code", "TEXT")):
            db.query(f"ALTER TABLE idx_quantity ADD COLUMN IF NOT EXISTS {column} {kind}")
        return
    present = {row[1] for row in db.query("PRAGMA table_info(idx_quantity)")}
    for column, kind in (("canonical_value", "REAL"), ("canonical_code", "TEXT")):
        if column not in present:
            db.query(f"ALTER TABLE idx_quantity ADD COLUMN {column} {kind}")


def _reindex(db: Database) -> None:
    """Index every current resource again into the tables version 2 changed."""
    for table in _REINDEXED:
        db.query(f"DELETE FROM {table}")
    last = 0
    while True:
        batch = db.query(
            f"SELECT r.pk, {db.json_column('r')} FROM resource r "
            "WHERE r.deleted = 0 AND r.pk > ? ORDER BY r.pk LIMIT ?",
            [last, _BATCH],
        )
        if not batch:
            return
        rows: dict[str, list[Row]] = {table: [] for table in _REINDEXED}
        for pk, text in batch:
            index = index_resource(orjson.loads(text))
            for table in _REINDEXED:
                rows[table].extend((pk, *row) for row in index.rows[table])
        for table, table_rows in rows.items():
            db.insert_rows(table, ("resource_pk", *INDEX_COLUMNS[table]), table_rows)
        last = int(batch[-1][0])


def ensure_schema(db: Database, ddl: Sequence[str]) -> None:
    """Create what is missing, migrate an older database, and record the version."""
    previous = _stored_version(db)
    upgrading = previous is not None and previous < SCHEMA_VERSION
    if upgrading:
        _add_quantity_columns(db)
    for statement in ddl:
        db.query(statement)
    if upgrading:
        _reindex(db)
    if previous is not None and not upgrading:
        return
    db.query(
        "INSERT INTO store_meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [str(SCHEMA_VERSION)],
    )
