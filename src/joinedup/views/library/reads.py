"""Which standard tables, and which of their columns, some SQL can read.

Building a standard table costs what its columns cost (a reference key or a coding filter per
row), so a caller that knows every query it will run (a measure library) has only those
tables and columns built. The answer errs towards reading more: a column counts as read when
its name appears anywhere in a query that names the table (as a column, an alias, a function
argument); a ``*`` other than ``count(*)``, ``COLUMNS(...)``, or a table used as a whole row
value reads every column; a query that does not parse reads everything. A derived table read
brings in the SQL it is built from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

#: Table -> the column names read, or None for every column.
Reads = dict[str, frozenset[str] | None]


def columns_read(
    queries: Iterable[str], tables: Collection[str], derived: Mapping[str, str]
) -> Reads | None:
    """The ``tables`` the ``queries`` read, each with the columns they may read; None when
    that cannot be told (a query that does not parse), so every table is needed whole.

    ``derived`` maps the derived tables to the SQL they are built from, itself read in turn.
    """
    reads: Reads = {}
    pending = list(queries)
    added: set[str] = set()
    while pending:
        try:
            tree = sqlglot.parse_one(pending.pop(), read="duckdb")
        except SqlglotError:
            return None
        named = _tables(tree) & set(tables)
        names = None if _reads_whole_rows(tree) else _names(tree)
        for table in named:
            known = reads.get(table, frozenset())
            reads[table] = None if known is None or names is None else known | names
            if table in derived and table not in added:
                added.add(table)
                pending.append(derived[table])
    return reads


def _tables(tree: exp.Expr) -> set[str]:
    """Tables the query names, other than its own CTEs."""
    ctes = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
    return {t.name.lower() for t in tree.find_all(exp.Table) if t.name.lower() not in ctes}


def _names(tree: exp.Expr) -> frozenset[str]:
    return frozenset(i.name.lower() for i in tree.find_all(exp.Identifier))


def _reads_whole_rows(tree: exp.Expr) -> bool:
    if any(not isinstance(star.parent, exp.Count) for star in tree.find_all(exp.Star)):
        return True
    if any(True for _ in tree.find_all(exp.Columns)):
        return True
    # ``SELECT e FROM encounters AS e``: the row as one struct value.
    relations = {t.alias_or_name.lower() for t in tree.find_all(exp.Table)}
    return any(not c.table and c.name.lower() in relations for c in tree.find_all(exp.Column))
