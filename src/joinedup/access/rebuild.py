"""Recompute the materialised relationships, organisations and consent choices from the record.

The access write hooks fill ``access_relationship``, ``access_org`` and ``access_consent`` as
resources are written; data loaded without them (or before a change to how they read the
record) has none, and direct-care users are denied. :func:`rebuild` runs the same hooks over
every stored resource they read — deleted ones too, so their rows go — in batches, each batch
one transaction that replaces the rows of the resources it covers, so readers never see a
resource's rows missing half-way. Running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from joinedup.access import consent, relationships
from joinedup.store.base import Store, StoredResource, Transaction

#: The hooks to replay and the resource types each one reads.
_HOOKS = (
    (relationships.materialise, relationships.SOURCE_TYPES),
    (consent.materialise, consent.SOURCE_TYPES),
)
SOURCE_TYPES = tuple(sorted({t for _, types in _HOOKS for t in types}))

#: Rows whose source resource is gone from the record altogether (not even a deletion).
_ORPHANS = (
    "DELETE FROM access_relationship WHERE NOT EXISTS (SELECT 1 FROM resource r"
    " WHERE r.resource_type = access_relationship.source_type"
    " AND r.id = access_relationship.source_id)",
    "DELETE FROM access_consent WHERE NOT EXISTS (SELECT 1 FROM resource r"
    " WHERE r.resource_type = 'Consent' AND r.id = access_consent.source_id)",
    "DELETE FROM access_org WHERE NOT EXISTS (SELECT 1 FROM resource r"
    " WHERE r.resource_type = 'Organization' AND r.id = access_org.org_id)",
)
_TABLES = ("access_relationship", "access_org", "access_consent")


@dataclass(frozen=True)
class Rebuilt:
    resources: int
    """Resources read (current versions, deleted ones included)."""
    rows: dict[str, int]
    """Rows in each materialised table afterwards."""


def count_sources(store: Store) -> int:
    """How many resources :func:`rebuild` will read (for a progress bar)."""
    marks = ", ".join("?" for _ in SOURCE_TYPES)
    with store.transaction() as tx:
        rows = tx.execute(
            f"SELECT COUNT(*) FROM resource WHERE resource_type IN ({marks})",  # noqa: S608
            list(SOURCE_TYPES),
        )
    return int(rows[0][0])


def rebuild(
    store: Store, *, batch: int = 1000, on_batch: Callable[[int], None] | None = None
) -> Rebuilt:
    """Replay the access write hooks over the record. ``on_batch`` gets each batch's size.

    The store must carry the access extensions' tables (``open_store(url,
    extensions=EXTENSIONS)``)."""
    after, read = 0, 0
    while True:
        with store.transaction() as tx:
            rows = _batch(tx, after, batch)
            for row in rows:
                stored = _stored(row)
                for hook, types in _HOOKS:
                    if stored.resource_type in types:
                        hook(tx, stored, "update")
        if not rows:
            break
        after, read = int(rows[-1][0]), read + len(rows)
        if on_batch is not None:
            on_batch(len(rows))
    with store.transaction() as tx:
        for statement in _ORPHANS:
            tx.execute(statement)
        counts = {
            table: int(tx.execute(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608
            for table in _TABLES
        }
    return Rebuilt(read, counts)


def _batch(tx: Transaction, after: int, size: int) -> list[tuple[Any, ...]]:
    marks = ", ".join("?" for _ in SOURCE_TYPES)
    # On PostgreSQL the rows are locked until the batch commits, so a concurrent update of
    # one of them runs its own hook after ours and its rows win (SQLite has one writer).
    lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
    return tx.execute(
        "SELECT pk, resource_type, id, version_id, last_updated, deleted, source_org, content"  # noqa: S608
        f" FROM resource WHERE resource_type IN ({marks}) AND pk > ? ORDER BY pk LIMIT ?{lock}",
        [*SOURCE_TYPES, after, size],
    )


def _stored(row: tuple[Any, ...]) -> StoredResource:
    _, resource_type, id_, version_id, last_updated, deleted, source_org, content = row
    if deleted:
        return StoredResource(resource_type, id_, version_id, last_updated, True, None, source_org)
    if isinstance(content, str | bytes):
        content = orjson.loads(content)
    return StoredResource(resource_type, id_, version_id, last_updated, False, content, source_org)
