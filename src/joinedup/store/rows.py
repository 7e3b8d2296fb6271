"""Turning ``resource`` / ``resource_history`` rows into :class:`StoredResource`."""

from __future__ import annotations

from typing import Any

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
    """A row from :func:`resource_columns`/:func:`history_columns` as a StoredResource, its
    JSON left as text until someone reads ``resource``.

    A deleted current row keeps its last JSON for restrictions; callers never see it."""
    deleted = bool(row[5])
    return StoredResource(
        row[1],
        row[2],
        int(row[3]),
        row[4],
        deleted,
        None,
        row[6],
        text=None if deleted else row[7],
    )
