"""The read path besides search: read, vread, history, ``$everything``, streaming iteration.

Every query ANDs the caller's restriction on the resource's current row (``r``), so a denied
resource behaves exactly like a missing one.
"""

# ruff: noqa: S608 — this module composes SQL from fixed fragments, table names and R4
# parameter codes; every value a caller supplies travels as a bound parameter.

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
from joinedup.store.search.compile import Fragment, SearchCompiler
from joinedup.store.search.execute import decode_cursor, encode_cursor, include
from joinedup.store.search.query import Include

ITER_BATCH = 1000


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
    where = (
        "r.deleted = 0 AND r.pk IN "
        "(SELECT pc.resource_pk FROM patient_compartment pc WHERE pc.patient_id = ?)"
    )
    params: list[Any] = [patient_id]
    if types:
        where += f" AND r.resource_type IN ({', '.join('?' for _ in types)})"
        params += list(types)
    if since is not None:
        where += " AND r.last_updated >= ?"
        params.append(since)
    where += f" AND ({allowed[0]})"
    params += allowed[1]
    total = int(db.query(f"SELECT COUNT(*) FROM resource r WHERE {where}", params)[0][0])
    after, after_params = "", []
    if cursor is not None:
        _, key = decode_cursor(cursor, 1)
        after, after_params = " AND r.pk > ?", [key[0]]
    rows = db.query(
        f"SELECT {resource_columns(db, 'r')} FROM resource r WHERE {where}{after} "
        "ORDER BY r.pk LIMIT ?",
        [*params, *after_params, count + 1],
    )
    more = len(rows) > count
    rows = rows[:count]
    matches = [(int(row[0]), stored(row)) for row in rows]
    # R4 $everything also returns what the compartment refers to (the GP practice, the
    # practitioners, medications): each page includes those its own matches point at.
    rules = tuple(
        Include(resource_type, None, None, iterate=False, reverse=False)
        for resource_type in sorted({m.resource_type for _, m in matches})
    )
    compiler = SearchCompiler(db.dialect, restriction)
    referenced = include(db, matches, rules, compiler)
    # Compartment members come as matches on their own page; include only what lies outside.
    members: set[int] = set()
    for start in range(0, len(referenced), 500):
        chunk = [pk for pk, _ in referenced[start : start + 500]]
        members.update(
            int(row[0])
            for row in db.query(
                "SELECT resource_pk FROM patient_compartment WHERE patient_id = ? "
                f"AND resource_pk IN ({', '.join('?' for _ in chunk)})",
                [patient_id, *chunk],
            )
        )
    return SearchPage(
        matches=[m for _, m in matches],
        included=[resource for pk, resource in referenced if pk not in members],
        total=total,
        next_cursor=encode_cursor("n", [rows[-1][0]]) if more and rows else None,
    )


def iter_batch(
    db: Database,
    types: Sequence[str] | None,
    since: str | None,
    after_pk: int,
    restriction: Restriction | None,
) -> list[tuple[int, StoredResource]]:
    """The next :data:`ITER_BATCH` current resources after ``after_pk``."""
    allowed = restrict(db, restriction, "r")
    where = "r.deleted = 0 AND r.pk > ?"
    params: list[Any] = [after_pk]
    if types:
        where += f" AND r.resource_type IN ({', '.join('?' for _ in types)})"
        params += list(types)
    if since is not None:
        where += " AND r.last_updated >= ?"
        params.append(since)
    rows = db.query(
        f"SELECT {resource_columns(db, 'r')} FROM resource r WHERE {where} AND ({allowed[0]}) "
        "ORDER BY r.pk LIMIT ?",
        [*params, *allowed[1], ITER_BATCH],
    )
    return [(int(row[0]), stored(row)) for row in rows]
