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
from joinedup.store.database import Database, Row
from joinedup.store.rows import history_columns, resource_columns, stored
from joinedup.store.search.compile import Fragment
from joinedup.store.search.execute import decode_cursor, encode_cursor

#: Rows fetched at a time by the streaming reads.
STREAM_BATCH = 1000
#: Referenced resources looked up in one ``$everything`` query (two bound values each).
TARGETS_PER_QUERY = 500


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
    if cursor is not None:  # a later page: the Patient came on the first
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
    on_page = {(row[1], row[2]) for row in rows}
    # The Patient is a member of its own compartment: found on the first page under the same
    # restriction, it needs no look-up of its own to tell the caller it exists.
    if cursor is None and ("Patient", patient_id) not in on_page:
        read(db, "Patient", patient_id, restriction)
    # A first page that holds the whole compartment is its own count.
    total = (
        len(rows)
        if cursor is None and not more
        else int(db.query(f"SELECT COUNT(*) {members}", params)[0][0])
    )
    if not rows:
        return SearchPage(matches=[], total=total)
    # R4 $everything also returns what the compartment refers to (the GP practice, the
    # practitioners, medications): each page includes those its own matches point at and that
    # lie outside the compartment (members come as matches on their own page).
    targets = db.query(
        "SELECT DISTINCT x.target_type, x.target_id FROM idx_reference x WHERE x.resource_pk IN "
        f"(SELECT pc.resource_pk {members} AND pc.resource_pk > ? AND pc.resource_pk <= ?)",
        [*params, after, rows[-1][0]],
    )
    # Most targets are members of this very page (its encounters, the Patient): dropping them
    # here spares the database a lookup of each (half the time of the page's queries).
    outside = sorted({(kind, rid) for kind, rid in targets if rid is not None} - on_page)
    referenced = [
        row
        for start in range(0, len(outside), TARGETS_PER_QUERY)
        for row in _outside_compartment(
            db, outside[start : start + TARGETS_PER_QUERY], patient_id, restriction
        )
    ]
    referenced.sort(key=lambda row: int(row[0]))
    return SearchPage(
        matches=[stored(row) for row in rows],
        included=[stored(row) for row in referenced],
        total=total,
        next_cursor=encode_cursor("n", [rows[-1][0]]) if more else None,
    )


def _outside_compartment(
    db: Database,
    targets: list[tuple[str, str]],
    patient_id: str,
    restriction: Restriction | None,
) -> list[Row]:
    """The current resources among ``targets`` (type, id) that are not in ``patient_id``'s
    compartment and that ``restriction`` allows."""
    allowed = restrict(db, restriction, "t")
    pairs = ", ".join("(?, ?)" for _ in targets)
    # A join to VALUES (columns column1, column2 on both dialects) probes the (type, id)
    # index per target; a row-value IN over the same list made SQLite scan every resource.
    return db.query(
        f"SELECT {resource_columns(db, 't')} FROM (VALUES {pairs}) v "
        "JOIN resource t ON t.resource_type = v.column1 AND t.id = v.column2 "
        "WHERE t.deleted = 0 AND NOT EXISTS (SELECT 1 FROM patient_compartment o "
        f"WHERE o.resource_pk = t.pk AND o.patient_id = ?) AND ({allowed[0]})",
        [*(value for target in targets for value in target), patient_id, *allowed[1]],
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
