"""The record's store: versioned FHIR resources with a search index, on SQLite or PostgreSQL.

``open_store("sqlite:///record.db")`` or ``open_store("postgresql://…")``; the interface is in
:mod:`joinedup.store.base`, search parsing in :mod:`joinedup.store.search`.
"""

from __future__ import annotations

from collections.abc import Sequence

from joinedup.store.base import (
    Gone,
    HistoryPage,
    IdConflict,
    MultipleMatches,
    NotFound,
    Restriction,
    SearchPage,
    Store,
    StoredResource,
    StoreExtension,
    Transaction,
    VersionConflict,
    WriteResult,
)
from joinedup.store.search import SearchQuery, parse_search


def open_store(url: str, *, extensions: Sequence[StoreExtension] = ()) -> Store:
    """Open (creating or migrating the schema) the store at ``url``.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (a file: every thread
    opens its own connection to it), or
    ``postgresql://user@host:port/db[?options=-csearch_path%3Dschema]``.
    ``extensions`` are registered before the store is returned. A URL of another kind is a
    ValueError.

    Example::

        store = open_store("sqlite:///record.db")
        store.create({"resourceType": "Patient", "gender": "female"})
    """
    store: Store
    if url.startswith("sqlite:///"):
        from joinedup.store.sqlite import SQLiteStore

        store = SQLiteStore(url.removeprefix("sqlite:///"))
    elif url.startswith(("postgresql://", "postgres://")):
        from joinedup.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        raise ValueError(
            f"unknown store URL {url.split(':', 1)[0]!r}: use sqlite:///path.db or postgresql://…"
        )
    for extension in extensions:
        store.register_extension(extension)
    return store


__all__ = [
    "Gone",
    "HistoryPage",
    "IdConflict",
    "MultipleMatches",
    "NotFound",
    "Restriction",
    "SearchPage",
    "SearchQuery",
    "Store",
    "StoreExtension",
    "StoredResource",
    "Transaction",
    "VersionConflict",
    "WriteResult",
    "open_store",
    "parse_search",
]
