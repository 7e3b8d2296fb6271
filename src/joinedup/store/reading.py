"""The read path besides search: read, vread, history, ``$everything``, the streaming query.

Every query ANDs the caller's restriction on the resource's current row (``r``), so a denied
resource behaves exactly like a missing one.
"""

# ruff: noqa: S608 — this module composes SQL from fixed fragments, table names and R4
# parameter codes; every value a caller supplies travels as a bound parameter.

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from joinedup.fhir.outcome import FHIRError
from joinedup.store.base import (
    Gone,
    HistoryPage,
    NotFound,
    Restriction,
    SearchPage,
    StoredResource,
)
from joinedup.store.database import Database
from joinedup.store.rows import history_columns, resource_columns, stored
from joinedup.store.search.compile import Fragment
from joinedup.store.search.execute import decode_cursor, encode_cursor

#: Rows fetched at a time by the streaming reads.
STREAM_BATCH = 1000


def restrict(db: Database, restriction: Restriction | None, alias: str) -> Fragment:
    if restriction is None:
        return "1=1", []
    text, params = restriction.sql(db.dialect, alias)
    return text, list(params)


def read(
    db: Database, resource_type: str, resource_id: str, restriction: Restriction | None
) -> StoredResource:
    allowed = restrict(db, restriction, "r")
    rows = db.query(
        f"SELECT {resource_columns(db, 'r')} FROM resource r "
        f"WHERE r.resource_type = ? AND r.id = ? AND ({allowed[0]})",
        [resource_type, resource_id, *allowed[1]],
    )
    if not rows:
        raise NotFound(resource_type, resource_id)
    found = stored(rows[0])
    if found.deleted:
        raise Gone(resource_type, resource_id, found.version_id)
    return found


def vread(
    db: Database,
    resource_type: str,
    resource_id: str,
    version_id: int,
    restriction: Restriction | None,
) -> StoredResource:
    allowed = restrict(db, restriction, "r")
    rows = db.query(
        f"SELECT {history_columns(db, 'h')} FROM resource_history h "
        "JOIN resource r ON r.resource_type = h.resource_type AND r.id = h.id "
        f"WHERE h.resource_type = ? AND h.id = ? AND h.version_id = ? AND ({allowed[0]})",
        [resource_type, resource_id, version_id, *allowed[1]],
    )
    if not rows:
        raise NotFound(resource_type, resource_id, version_id)
    return stored(rows[0])


def history(
    db: Database,
    resource_type: str | None,
    resource_id: str | None,
    since: str | None,
    count: int,
    cursor: str | None,
    restriction: Restriction | None,
) -> HistoryPage:
    allowed = restrict(db, restriction, "r")
    where = [f"({allowed[0]})"]
    params: list[Any] = list(allowed[1])
    if resource_type is not None:
        where.append("h.resource_type = ?")
        params.append(resource_type)
    if resource_id is not None:
        where.append("h.id = ?")
        params.append(resource_id)
    if since is not None:
        where.append("h.last_updated >= ?")
        params.append(since)
    condition = " AND ".join(where)
    join = "JOIN resource r ON r.resource_type = h.resource_type AND r.id = h.id"
    if resource_id is not None and resource_type is not None:
        exists = db.query(
            f"SELECT 1 FROM resource r WHERE r.resource_type = ? AND r.id = ? AND ({allowed[0]})",
            [resource_type, resource_id, *allowed[1]],
        )
        if not exists:
            raise NotFound(resource_type, resource_id)
    total = int(
        db.query(f"SELECT COUNT(*) FROM resource_history h {join} WHERE {condition}", params)[0][0]
    )
    page_condition, page_params = condition, list(params)
    if cursor is not None:
        _, key = decode_cursor(cursor, 1)
        page_condition += " AND h.hpk < ?"
        page_params.append(key[0])
    rows = db.query(
        f"SELECT {history_columns(db, 'h')} FROM resource_history h {join} "
        f"WHERE {page_condition} ORDER BY h.hpk DESC LIMIT ?",
        [*page_params, count + 1],
    )
    more = len(rows) > count
    rows = rows[:count]
    return HistoryPage(
        entries=[stored(row) for row in rows],
        total=total,
        next_cursor=encode_cursor("n", [rows[-1][0]]) if more and rows else None,
    )


def everything(
    db: Database,
    patient_id: str,
    types: Sequence[str] | None,
    since: str | None,
    count: int,
    cursor: str | None,
    restriction: Restriction | None,
) -> SearchPage:
    read(db, "Patient", patient_id, restriction)
    allowed = restrict(db, restriction, "r")
    # The compartment is read through its (patient_id, resource_pk) index in pk order.
    members = (
        "FROM patient_compartment pc JOIN resource r ON r.pk = pc.resource_pk "
        "WHERE pc.patient_id = ? AND r.deleted = 0"
    )
    params: list[Any] = [patient_id]
    if types:
        members += f" AND r.resource_type IN ({', '.join('?' for _ in types)})"
        params += list(types)
    if since is not None:
        members += " AND r.last_updated >= ?"
        params.append(since)
    members += f" AND ({allowed[0]})"
    params += allowed[1]
    total = int(db.query(f"SELECT COUNT(*) {members}", params)[0][0])
    after = 0
    if cursor is not None:
        _, key = decode_cursor(cursor, 1)
        if not isinstance(key[0], int):
            raise FHIRError(
                "_cursor is not a cursor of this $everything; follow the Bundle's next link "
                "unchanged",
                expression="_cursor",
            )
        after = key[0]
    rows = db.query(
        f"SELECT {resource_columns(db, 'r')} {members} AND pc.resource_pk > ? "
        "ORDER BY pc.resource_pk LIMIT ?",
        [*params, after, count + 1],
    )
    more = len(rows) > count
    rows = rows[:count]
    if not rows:
        return SearchPage(matches=[], total=total)
    # R4 $everything also returns what the compartment refers to (the GP practice, the
    # practitioners, medications): each page includes those its own matches point at and that
    # lie outside the compartment (members come as matches on their own page), in one query.
    target = restrict(db, restriction, "t")
    referenced = db.query(
        f"SELECT {resource_columns(db, 't')} FROM resource t JOIN ("
        "SELECT DISTINCT x.target_type, x.target_id FROM idx_reference x WHERE x.resource_pk IN "
        f"(SELECT pc.resource_pk {members} AND pc.resource_pk > ? AND pc.resource_pk <= ?)"
        ") ref ON t.resource_type = ref.target_type AND t.id = ref.target_id "
        "WHERE t.deleted = 0 AND NOT EXISTS (SELECT 1 FROM patient_compartment o "
        f"WHERE o.resource_pk = t.pk AND o.patient_id = ?) AND ({target[0]}) ORDER BY t.pk",
        [*params, after, rows[-1][0], patient_id, *target[1]],
    )
    return SearchPage(
        matches=[stored(row) for row in rows],
        included=[stored(row) for row in referenced],
        total=total,
        next_cursor=encode_cursor("n", [rows[-1][0]]) if more else None,
    )


def current(
    db: Database,
    columns: str,
    types: Sequence[str] | None,
    since: str | None,
    restriction: Restriction | None,
) -> Fragment:
    """A query selecting ``columns`` of every current resource of ``types`` updated at or
    after ``since``, in no particular order (no sort: a type is read in index order)."""
    allowed = restrict(db, restriction, "r")
    where = "r.deleted = 0"
    params: list[Any] = []
    if types:
        where += f" AND r.resource_type IN ({', '.join('?' for _ in types)})"
        params += list(types)
    if since is not None:
        where += " AND r.last_updated >= ?"
        params.append(since)
    return (
        f"SELECT {columns} FROM resource r WHERE {where} AND ({allowed[0]})",
        [*params, *allowed[1]],
    )
