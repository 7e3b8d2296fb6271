"""Run a compiled search: one page by keyset cursor, the total, and ``_include``/``_revinclude``.

Keyset paging: the page after a cursor is "rows whose sort key comes after the last row's key",
with the resource's ``pk`` as the final tie-breaker, so writes made between two page requests
never shift a page boundary (no skipped or repeated rows, unlike OFFSET).
"""

# ruff: noqa: S608 — this module composes SQL from fixed fragments, table names and R4
# parameter codes; every value a caller supplies travels as a bound parameter.

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import orjson

from joinedup.fhir.outcome import FHIRError
from joinedup.store.base import Restriction, SearchPage, StoredResource, WideRestriction
from joinedup.store.database import Database
from joinedup.store.rows import resource_columns, stored
from joinedup.store.search.compile import Fragment, SearchCompiler
from joinedup.store.search.query import SYSTEM, Include, ParamCriterion, SearchQuery
from joinedup.store.search.valuesets import ValueSets

_CHUNK = 500
_MAX_ITERATIONS = 8


def encode_cursor(direction: str, key: list[Any]) -> str:
    """An opaque token for the page after (``n``) or before (``p``) the row with ``key``."""
    return base64.urlsafe_b64encode(orjson.dumps({"d": direction, "k": key})).decode().rstrip("=")


def decode_cursor(token: str, width: int) -> tuple[str, list[Any]]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        direction, key = raw["d"], raw["k"]
        if direction not in ("n", "p") or not isinstance(key, list) or len(key) != width:
            raise ValueError(direction)
    except (ValueError, KeyError, TypeError):
        raise FHIRError(
            "search parameter _cursor: not a cursor of this search; follow the Bundle's "
            "next/previous links unchanged",
            expression="_cursor",
        ) from None
    return direction, key


def _keyset(columns: list[tuple[str, bool]], key: list[Any]) -> Fragment:
    """Rows strictly after ``key`` in the order ``columns`` ((expression, descending)…)."""
    alternatives: list[Fragment] = []
    equal: list[Fragment] = []
    for (expression, descending), value in zip(columns, key, strict=True):
        if value is not None:
            op = "<" if descending else ">"
            sql = " AND ".join([*(e[0] for e in equal), f"{expression} {op} ?"])
            alternatives.append((sql, [*(p for e in equal for p in e[1]), value]))
            equal.append((f"{expression} = ?", [value]))
        else:
            equal.append((f"{expression} IS NULL", []))
    if not alternatives:
        return "1=0", []
    return (
        " OR ".join(f"({a[0]})" for a in alternatives),
        [p for a in alternatives for p in a[1]],
    )


def _narrowed(query: SearchQuery) -> bool:
    """Whether the matches are likely a few people or resources — a search for a person, or
    by a reference or ``_id`` value — so a restriction checks them one by one rather than
    building the sets a search across a whole type of records is better served by."""
    return query.resource_type == "Patient" or any(
        isinstance(c, ParamCriterion)
        and c.values
        and (c.param.type == "reference" or c.param.code == "_id")
        for c in query.criteria
    )


def _plan_for_values(db: Database) -> None:
    """Have PostgreSQL plan this transaction's statements for their values. psycopg prepares a
    statement run five times, and PostgreSQL then keeps a generic plan when its estimate is
    below the custom plans': for a restricted whole-type search it is, because the planner
    charges the restriction's exact check at every row — and that plan (guessing a few hundred
    matches, then probing every match by key) measured 37 ms against 12 ms (docs/access.md)."""
    db.query("SET LOCAL plan_cache_mode = force_custom_plan")


def _of_type(query: SearchQuery) -> Fragment:
    """The searched type, or the ``_type`` list of a search across types (none: any type)."""
    if query.resource_type != SYSTEM:
        return "r.resource_type = ?", [query.resource_type]
    if not query.types:
        return "1=1", []
    return f"r.resource_type IN ({', '.join('?' for _ in query.types)})", list(query.types)


def run_search(db: Database, query: SearchQuery, restriction: Restriction | None) -> SearchPage:
    """One page of ``query`` with its total and included resources."""
    compiler = SearchCompiler(db.dialect, restriction, ValueSets(db))
    criteria = compiler.criteria(query.resource_type, query.criteria, "r")
    wide = not _narrowed(query)
    allowed = compiler.restrict("r", wide=wide)
    if wide and isinstance(restriction, WideRestriction) and db.dialect == "postgresql":
        _plan_for_values(db)
    of_type = _of_type(query)
    where = (
        f"{of_type[0]} AND r.deleted = 0 AND ({criteria[0]}) AND ({allowed[0]})",
        [*of_type[1], *criteria[1], *allowed[1]],
    )

    def counted() -> int:
        return int(db.query(f"SELECT COUNT(*) FROM resource r WHERE {where[0]}", where[1])[0][0])

    if query.summary == "count" or query.count == 0:
        wanted = query.summary == "count" or query.total != "none"
        return SearchPage(matches=[], total=counted() if wanted else None)

    sort_sql: list[str] = []
    sort_params: list[Any] = []
    columns: list[tuple[str, bool]] = []
    for i, sort_key in enumerate(query.sort):
        expression, params = compiler.sort_expression(sort_key, "r")
        sort_sql.append(f", {expression} AS s{i}")
        sort_params += params
        columns.append((f"(CASE WHEN q.s{i} IS NULL THEN 1 ELSE 0 END)", False))
        columns.append((f"q.s{i}", sort_key.descending))
    columns.append(("q.pk", False))

    direction, key = "n", None
    if query.cursor:
        direction, key = decode_cursor(query.cursor, len(columns))
    if direction == "p":
        columns = [(expression, not descending) for expression, descending in columns]
    after = _keyset(columns, key) if key is not None else ("1=1", [])
    order = ", ".join(f"{e} {'DESC' if d else 'ASC'}" for e, d in columns)
    sql = (
        f"SELECT * FROM (SELECT {resource_columns(db, 'r')}{''.join(sort_sql)} "
        f"FROM resource r WHERE {where[0]}) q WHERE {after[0]} ORDER BY {order} LIMIT ?"
    )
    rows = db.query(sql, [*sort_params, *where[1], *after[1], query.count + 1])
    more = len(rows) > query.count
    rows = rows[: query.count]
    total = None
    if query.total != "none":
        # A first page that holds every match is its own count (most searches for a person).
        total = len(rows) if key is None and not more else counted()
    if direction == "p":
        rows.reverse()

    def key_of(row: tuple[Any, ...]) -> list[Any]:
        out: list[Any] = []
        for i in range(len(query.sort)):
            value = row[8 + i]
            out += [1 if value is None else 0, value]
        return [*out, row[0]]

    next_cursor = prev_cursor = None
    if rows:
        if direction == "n":
            next_cursor = encode_cursor("n", key_of(rows[-1])) if more else None
            prev_cursor = encode_cursor("p", key_of(rows[0])) if key is not None else None
        else:
            next_cursor = encode_cursor("n", key_of(rows[-1]))
            prev_cursor = encode_cursor("p", key_of(rows[0])) if more else None
    matches = [(row[0], stored(row)) for row in rows]
    included = include(db, matches, query.includes, compiler)
    return SearchPage(
        matches=[m for _, m in matches],
        included=[resource for _, resource in included],
        total=total,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
    )


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _follow(
    db: Database,
    found: list[tuple[int, StoredResource]],
    rule: Include,
    compiler: SearchCompiler,
) -> list[tuple[int, StoredResource]]:
    out: list[tuple[int, StoredResource]] = []
    if not rule.reverse:
        pks = [pk for pk, s in found if s.resource_type == rule.source_type]
        for chunk in _chunks(pks):
            allowed = compiler.restrict("t")
            sql = (
                f"SELECT {resource_columns(db, 't')} FROM idx_reference x "
                "JOIN resource t ON t.resource_type = x.target_type AND t.id = x.target_id "
                f"WHERE x.resource_pk IN ({', '.join('?' for _ in chunk)}) AND t.deleted = 0"
            )
            params: list[Any] = list(chunk)
            if rule.param is not None:
                sql += " AND x.param = ?"
                params.append(rule.param)
            if rule.target_type is not None:
                sql += " AND x.target_type = ?"
                params.append(rule.target_type)
            sql += f" AND ({allowed[0]})"
            out += [(row[0], stored(row)) for row in db.query(sql, [*params, *allowed[1]])]
        return out
    by_type: dict[str, list[str]] = {}
    for _, s in found:
        if rule.target_type is None or s.resource_type == rule.target_type:
            by_type.setdefault(s.resource_type, []).append(s.id)
    for target_type, ids in by_type.items():
        for chunk in _chunks(ids):
            allowed = compiler.restrict("s")
            sql = (
                f"SELECT {resource_columns(db, 's')} FROM idx_reference x "
                "JOIN resource s ON s.pk = x.resource_pk "
                f"WHERE x.target_type = ? AND x.target_id IN ({', '.join('?' for _ in chunk)}) "
                "AND s.resource_type = ? AND s.deleted = 0"
            )
            params = [target_type, *chunk, rule.source_type]
            if rule.param is not None:
                sql += " AND x.param = ?"
                params.append(rule.param)
            sql += f" AND ({allowed[0]})"
            out += [(row[0], stored(row)) for row in db.query(sql, [*params, *allowed[1]])]
    return out


def include(
    db: Database,
    matches: list[tuple[int, StoredResource]],
    rules: tuple[Include, ...],
    compiler: SearchCompiler,
) -> list[tuple[int, StoredResource]]:
    """Resources (with their ``pk``) the ``_include``/``_revinclude`` rules add to ``matches``,
    each once."""
    if not rules or not matches:
        return []
    seen = {pk for pk, _ in matches}
    included: list[tuple[int, StoredResource]] = []
    frontier = matches
    active = list(rules)
    for _ in range(_MAX_ITERATIONS):
        new: list[tuple[int, StoredResource]] = []
        for rule in active:
            for pk, resource in _follow(db, frontier, rule, compiler):
                if pk not in seen:
                    seen.add(pk)
                    new.append((pk, resource))
        included += new
        active = [rule for rule in rules if rule.iterate]
        frontier = new
        if not new or not active:
            break
    return included
