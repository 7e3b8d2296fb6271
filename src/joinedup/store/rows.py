"""Turning ``resource`` / ``resource_history`` rows into :class:`StoredResource`."""

from __future__ import annotations

from typing import Any

import orjson

from joinedup.store.base import StoredResource
from joinedup.store.database import Database


def resource_columns(db: Database, alias: str) -> str:
    """The select list :func:`stored` reads (``pk`` first)."""
    return (
        f"{alias}.pk, {alias}.resource_type, {alias}.id, {alias}.version_id, "
        f"{alias}.last_updated, {alias}.deleted, {alias}.source_org, {db.json_column(alias)}"
    )


def history_columns(db: Database, alias: str) -> str:
    """Like :func:`resource_columns` for ``resource_history`` (``hpk`` first)."""
    return (
        f"{alias}.hpk, {alias}.resource_type, {alias}.id, {alias}.version_id, "
        f"{alias}.last_updated, {alias}.deleted, {alias}.source_org, {db.json_column(alias)}"
    )


def stored(row: tuple[Any, ...]) -> StoredResource:
    """A row from :func:`resource_columns`/:func:`history_columns` as a StoredResource.

    A deleted current row keeps its last JSON for restrictions; callers never see it."""
    deleted = bool(row[5])
    content = row[7]
    resource = None if deleted or content is None else orjson.loads(content)
    return StoredResource(
        resource_type=row[1],
        id=row[2],
        version_id=int(row[3]),
        last_updated=row[4],
        deleted=deleted,
        resource=resource,
        source_org=row[6],
    )
