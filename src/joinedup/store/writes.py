"""Writes inside one database transaction: versions, history, index rows, conditional logic.

Concurrency rests on the database, not on Python locks:
- a row being changed is read with the dialect's lock clause (``FOR UPDATE`` on PostgreSQL;
  SQLite write transactions are already exclusive), so exactly one of several concurrent
  ``If-Match`` updates of the same version wins;
- conditional create claims its condition in ``conditional_claim`` (primary key
  ``(resource_type, condition_key)``): a concurrent identical claim waits for the first
  transaction and then sees its resource, so 50 parallel creates make one resource.
"""

# ruff: noqa: S608 — this module composes SQL from fixed fragments, table names and R4
# parameter codes; every value a caller supplies travels as a bound parameter.

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from joinedup.fhir.outcome import FHIRError
from joinedup.store.base import (
    Dialect,
    Gone,
    IdConflict,
    MultipleMatches,
    NotFound,
    Resource,
    SearchPage,
    SearchParams,
    StoredResource,
    StoreExtension,
    Transaction,
    VersionConflict,
    WriteOperation,
    WriteResult,
)
from joinedup.store.database import Database
from joinedup.store.indexing import INDEX_COLUMNS, ResourceIndex, index_resource
from joinedup.store.ranges import now_instant
from joinedup.store.rows import resource_columns, stored
from joinedup.store.schema import INDEX_TABLES
from joinedup.store.search.execute import run_search
from joinedup.store.search.query import SearchQuery, parse_search

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_CLAIM_ATTEMPTS = 5

Current = tuple[int, int, bool]
"""``(pk, version_id, deleted)`` of an existing resource row."""


def check_type(resource: Resource) -> str:
    """The resource's type, or a 400 when it has none that could be one."""
    resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(resource_type, str) or not _TYPE.match(resource_type):
        raise FHIRError("the resource has no valid resourceType", expression="resourceType")
    return resource_type


def check_id(resource_id: Any) -> str:
    """A valid FHIR id, or a 400 saying what one looks like."""
    if not isinstance(resource_id, str) or not _ID.match(resource_id):
        raise FHIRError(
            "a resource id is 1-64 characters of A-Z, a-z, 0-9, '-' and '.'", expression="id"
        )
    return resource_id


def condition_key(criteria: SearchParams) -> str:
    """The same text for the same condition however its parameters are ordered."""
    return "&".join(f"{name}={value}" for name, value in sorted(criteria))


def stamped(resource: Resource, resource_id: str, version: int, now: str) -> Resource:
    """``resource`` with its id and ``meta.versionId``/``lastUpdated`` set by the store."""
    body = dict(resource)
    body["id"] = resource_id
    meta = dict(body.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = now
    body["meta"] = meta
    return body


class SQLTransaction(Transaction):
    """:class:`Transaction` over a :class:`Database` (either dialect)."""

    def __init__(self, db: Database, extensions: Sequence[StoreExtension]) -> None:
        self.db = db
        self.dialect: Dialect = db.dialect
        self.extensions = extensions

    # --- reading inside the transaction ----------------------------------------------------

    def _current(self, resource_type: str, resource_id: str) -> Current | None:
        rows = self.db.query(
            "SELECT pk, version_id, deleted FROM resource WHERE resource_type = ? AND id = ?"
            + self.db.lock_clause(),
            [resource_type, resource_id],
        )
        return (int(rows[0][0]), int(rows[0][1]), bool(rows[0][2])) if rows else None

    def read(self, resource_type: str, id: str) -> StoredResource:
        rows = self.db.query(
            f"SELECT {resource_columns(self.db, 'r')} FROM resource r "
            "WHERE r.resource_type = ? AND r.id = ?",
            [resource_type, id],
        )
        if not rows:
            raise NotFound(resource_type, id)
        found = stored(rows[0])
        if found.deleted:
            raise Gone(resource_type, id, found.version_id)
        return found

    def search(self, query: SearchQuery) -> SearchPage:
        return run_search(self.db, query, None)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.query(sql, params)

    # --- the one write path ------------------------------------------------------------------

    def run_hooks(self, version: StoredResource, operation: WriteOperation) -> None:
        """Call every extension's write hook for ``version``, inside this transaction."""
        for extension in self.extensions:
            if extension.on_write is not None:
                extension.on_write(self, version, operation)

    def _write_index(self, pk: int, index: ResourceIndex) -> None:
        for table, rows in index.rows.items():
            if rows:
                columns = INDEX_COLUMNS[table]
                marks = ", ".join("?" for _ in range(len(columns) + 1))
                self.db.executemany(
                    f"INSERT INTO {table} (resource_pk, {', '.join(columns)}) VALUES ({marks})",
                    [(pk, *row) for row in rows],
                )
        if index.compartment:
            self.db.executemany(
                "INSERT INTO patient_compartment (resource_pk, patient_id) VALUES (?, ?)",
                [(pk, patient) for patient in sorted(index.compartment)],
            )
        if index.security:
            self.db.executemany(
                "INSERT INTO resource_security (resource_pk, system, code) VALUES (?, ?, ?)",
                [(pk, system, code) for system, code in index.security],
            )

    def _clear_index(self, pk: int, *, keep_access_rows: bool) -> None:
        tables = (
            INDEX_TABLES
            if keep_access_rows
            else (*INDEX_TABLES, "patient_compartment", "resource_security")
        )
        for table in tables:
            self.db.query(f"DELETE FROM {table} WHERE resource_pk = ?", [pk])

    def _history(self, version: StoredResource, text: str | None) -> None:
        self.db.query(
            "INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, "
            f"source_org, content) VALUES (?, ?, ?, ?, ?, ?, {self.db.json_param()})",
            [
                version.resource_type,
                version.id,
                version.version_id,
                version.last_updated,
                1 if version.deleted else 0,
                version.source_org,
                text,
            ],
        )

    def _put(
        self,
        resource_type: str,
        resource_id: str,
        resource: Resource,
        source_org: str | None,
        current: Current | None,
    ) -> WriteResult:
        now = now_instant()
        version = current[1] + 1 if current else 1
        body = stamped(resource, resource_id, version, now)
        text = orjson.dumps(body).decode()
        index = index_resource(body)
        if current is None:
            rows = self.db.query(
                "INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, "
                f"source_org, content) VALUES (?, ?, ?, ?, 0, ?, {self.db.json_param()}) "
                "ON CONFLICT (resource_type, id) DO NOTHING RETURNING pk",
                [resource_type, resource_id, version, now, source_org, text],
            )
            if not rows:
                # Another transaction created it since we looked: update its committed row.
                raced = self._current(resource_type, resource_id)
                return self._put(resource_type, resource_id, resource, source_org, raced)
            pk = int(rows[0][0])
        else:
            pk = current[0]
            with self.db.batch():
                self.db.query(
                    "UPDATE resource SET version_id = ?, last_updated = ?, deleted = 0, "
                    f"source_org = ?, content = {self.db.json_param()} WHERE pk = ?",
                    [version, now, source_org, text, pk],
                )
                self._clear_index(pk, keep_access_rows=False)
        result = StoredResource(resource_type, resource_id, version, now, False, body, source_org)
        with self.db.batch():
            self._write_index(pk, index)
            self._history(result, text)
        created = current is None or current[2]
        self.run_hooks(result, "create" if created else "update")
        return WriteResult("created" if created else "updated", result)

    # --- Transaction ---------------------------------------------------------------------------

    def create(
        self,
        resource: Resource,
        *,
        id: str | None = None,
        source_org: str | None = None,
        if_none_exist: SearchParams | None = None,
    ) -> WriteResult:
        resource_type = check_type(resource)
        if if_none_exist:
            return self._conditional_create(resource_type, resource, source_org, if_none_exist)
        resource_id = check_id(id) if id is not None else str(uuid.uuid4())
        current = self._current(resource_type, resource_id)
        if current is not None and not current[2]:
            raise IdConflict(resource_type, resource_id)
        return self._put(resource_type, resource_id, resource, source_org, current)

    def _matches(self, resource_type: str, criteria: SearchParams, limit: int) -> SearchPage:
        query = parse_search(resource_type, [*criteria, ("_count", str(limit))], strict=True)
        return run_search(self.db, query, None)

    def _conditional_create(
        self,
        resource_type: str,
        resource: Resource,
        source_org: str | None,
        criteria: SearchParams,
    ) -> WriteResult:
        key = condition_key(criteria)
        for _ in range(_CLAIM_ATTEMPTS):
            page = self._matches(resource_type, criteria, 2)
            if page.total and page.total > 1:
                raise MultipleMatches(resource_type, page.total)
            if page.matches:
                return WriteResult("existing", page.matches[0])
            resource_id = str(uuid.uuid4())
            claimed = self.db.query(
                "INSERT INTO conditional_claim (resource_type, condition_key, resource_id) "
                "VALUES (?, ?, ?) ON CONFLICT (resource_type, condition_key) DO NOTHING "
                "RETURNING resource_id",
                [resource_type, key, resource_id],
            )
            if not claimed:
                # Someone holds the claim. If their resource still matches we return it on the
                # next round; if it no longer does (deleted or changed), take the claim over.
                holder = self.db.query(
                    "SELECT resource_id FROM conditional_claim "
                    "WHERE resource_type = ? AND condition_key = ?",
                    [resource_type, key],
                )
                if not holder or self._matches(resource_type, criteria, 2).matches:
                    continue
                taken = self.db.query(
                    "UPDATE conditional_claim SET resource_id = ? WHERE resource_type = ? "
                    "AND condition_key = ? AND resource_id = ? RETURNING resource_id",
                    [resource_id, resource_type, key, holder[0][0]],
                )
                if not taken:
                    continue
            return self._put(resource_type, resource_id, resource, source_org, None)
        raise FHIRError(
            "the conditional create kept colliding with concurrent writes; retry it",
            status=409,
            code="conflict",
        )

    def update(
        self, resource: Resource, *, if_match: int | None = None, source_org: str | None = None
    ) -> WriteResult:
        resource_type = check_type(resource)
        resource_id = check_id(resource.get("id"))
        current = self._current(resource_type, resource_id)
        if if_match is not None and (current is None or current[2] or current[1] != if_match):
            raise VersionConflict(
                resource_type, resource_id, if_match, None if current is None else current[1]
            )
        return self._put(resource_type, resource_id, resource, source_org, current)

    def delete(self, resource_type: str, id: str, *, if_match: int | None = None) -> WriteResult:
        current = self._current(resource_type, id)
        if current is None or current[2]:
            if if_match is not None:
                raise VersionConflict(resource_type, id, if_match, None)
            return WriteResult("absent", None)
        pk, version, _ = current
        if if_match is not None and version != if_match:
            raise VersionConflict(resource_type, id, if_match, version)
        now = now_instant()
        self.db.query(
            "UPDATE resource SET version_id = ?, last_updated = ?, deleted = 1 WHERE pk = ?",
            [version + 1, now, pk],
        )
        # Search-index rows go; compartment and security rows stay so that an access
        # restriction can still judge who may see the deleted resource's history.
        self._clear_index(pk, keep_access_rows=True)
        result = StoredResource(resource_type, id, version + 1, now, True, None, None)
        self._history(result, None)
        self.run_hooks(result, "delete")
        return WriteResult("deleted", result)

    def conditional_update(
        self,
        resource: Resource,
        criteria: SearchParams,
        *,
        if_match: int | None = None,
        source_org: str | None = None,
    ) -> WriteResult:
        resource_type = check_type(resource)
        page = self._matches(resource_type, criteria, 2)
        if page.total and page.total > 1:
            raise MultipleMatches(resource_type, page.total)
        if not page.matches:
            if resource.get("id"):
                return self.update(resource, if_match=if_match, source_org=source_org)
            return self.create(resource, source_org=source_org)
        match = page.matches[0]
        if resource.get("id") not in (None, match.id):
            raise FHIRError(
                f"the condition matched {resource_type}/{match.id} but the body has id "
                f"{resource.get('id')}; drop the id or make them agree",
                expression="id",
            )
        return self.update({**resource, "id": match.id}, if_match=if_match, source_org=source_org)

    def conditional_delete(
        self, resource_type: str, criteria: SearchParams, *, multiple: bool = False
    ) -> list[WriteResult]:
        results: list[WriteResult] = []
        page = self._matches(resource_type, criteria, 1000)
        if not multiple and page.total and page.total > 1:
            raise MultipleMatches(resource_type, page.total)
        while True:
            for match in page.matches:
                results.append(self.delete(resource_type, match.id))
            if not page.next_cursor or not multiple:
                return results
            # Deleted rows leave the result set, so the first page again holds the rest.
            page = self._matches(resource_type, criteria, 1000)
            if not page.matches:
                return results
