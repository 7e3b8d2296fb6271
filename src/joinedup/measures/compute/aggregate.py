"""Numerators and denominators per breakdown group and period, in DuckDB.

Each measure is one query: its numerator and denominator SQL run once each, the numerator's
units are collapsed to one row per person and period (how many units that person has: the
count Dobson's variance squares), both sides are summed per person cell and age band
(:mod:`.cells`), and one ``GROUPING SETS`` aggregate over the cells counts every breakdown —
and, for standardised measures, every ESP 2013 age band — at the same time. Nothing about a
person leaves DuckDB, except the unit values of a ``mean`` measure, whose t interval needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from joinedup.measures.compute.cells import (
    PERSON_CELL_SQL,
    POPULATION_CELLS_SQL,
    denominator_cells,
    forget_denominators,
    install_cells,
    numerator_cells_sql,
    population_cells,
    unit_cells_sql,
)
from joinedup.measures.compute.periods import Period
from joinedup.measures.definitions import MeasureDefinition, MeasureType

BAND_LABEL_SQL = "age_band({} * 5)"
#: Breakdown -> SQL of its group key over the cell's person columns (``pe``) and the summed
#: units (``u``, whose ``age`` is the age band index).
BREAKDOWN_SQL: dict[str, str] = {
    "ics": "'ICS'",
    "place": "pe.place_id",
    "pcn": "pe.pcn_id",
    "practice": "pe.practice_id",
    "imd_quintile": "pe.imd_quintile",
    "age_band": "u.age",
    "sex": "pe.sex",
    "ethnicity": "pe.ethnic_group",
    # Core20: the most deprived fifth of neighbourhoods nationally (IMD quintile 1) vs the rest.
    "core20": "CASE WHEN pe.imd_quintile = 1 THEN 'Core20' ELSE 'Rest' END",
}
#: Breakdown -> SQL turning its group key ``{}`` into the published group label (VARCHAR).
GROUP_LABEL_SQL: dict[str, str] = {
    "imd_quintile": "CAST({} AS VARCHAR)",
    "age_band": BAND_LABEL_SQL,
}


_POPULATION_SQL = """
    SELECT p.period_start, pe.person_id,
           greatest(0, age_at(pe.birth_date, p.period_start)) AS age,
           (date_diff('day', greatest(p.period_start, pe.birth_date),
                      least(p.period_end, coalesce(pe.death_date, p.period_end))) + 1)
               / 365.25 AS person_years
    FROM periods AS p
    JOIN person AS pe
      ON pe.birth_date <= p.period_end
     AND (pe.death_date IS NULL OR pe.death_date >= p.period_start)
"""
#: The queries over the standard tables that counting runs besides the measures' own.
READS = (_POPULATION_SQL, PERSON_CELL_SQL, POPULATION_CELLS_SQL)
#: What a plain population denominator's condition may be made of (:func:`_plain_population`):
#: columns, constants and operators, nothing that reads another row or table or varies by call.
_PLAIN_CONDITION = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg,
    exp.Not, exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between,
    exp.In, exp.Is, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Cast,
    exp.DataType,
)  # fmt: skip
#: The columns of ``population`` shared by everyone a population cell sums.
_CELL_COLUMNS = frozenset({"period_start", "age"})


class MeasureSQLError(ValueError):
    """A measure's numerator or denominator SQL failed; the message names the measure and side."""


def install_periods(
    connection: duckdb.DuckDBPyConnection,
    periods: Sequence[Period],
    *,
    population: bool = True,
    cells: bool = True,
) -> None:
    """(Re)create ``periods`` and, with ``population``, the ``population`` table the measure
    SQL reads (without it a stale ``population`` is dropped, never left for the wrong periods),
    and with ``cells`` the person cells :func:`aggregate` counts by (:func:`install_cells`).
    The cells depend on ``person`` alone: a run that changes only the periods keeps them."""
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE periods AS
        SELECT CAST(unnest($starts) AS DATE) AS period_start,
               CAST(unnest($ends) AS DATE) AS period_end
        """,
        {"starts": [p.start for p in periods], "ends": [p.end for p in periods]},
    )
    if population:
        install_population(connection)
    else:
        connection.execute("DROP TABLE IF EXISTS population")
    if cells:
        install_cells(connection)
    else:
        forget_denominators(connection)


def install_population(connection: duckdb.DuckDBPyConnection) -> None:
    """(Re)create ``population`` for the installed ``periods``: people x periods, the largest
    table, so a run builds it only for the measures that read it (:func:`reads_population`)."""
    forget_denominators(connection)
    connection.execute(f"CREATE OR REPLACE TEMP TABLE population AS {_POPULATION_SQL}")


@dataclass(frozen=True)
class _PlainPopulation:
    """A denominator that takes from ``population`` everyone meeting ``condition``."""

    condition: str | None
    weighted: bool
    """weighted by ``person_years`` (else one each)"""


def _plain_population(sql: str) -> _PlainPopulation | None:
    """The denominator ``SELECT period_start, person_id[, person_years AS weight] FROM
    population [WHERE condition]``, the condition over ``period_start`` and ``age`` alone, or
    None for any other query. Its sums per cell come from the population cells, without a row
    per person and period (:func:`population_cells`)."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError:
        return None
    if not isinstance(tree, exp.Select):
        return None
    source: exp.Expression | None = None
    where: exp.Expression | None = None
    for key, value in tree.args.items():
        if isinstance(value, exp.From):
            source = value.this
        elif isinstance(value, exp.Where):
            where = value.this
        elif value and key != "expressions":
            return None  # joins, grouping, DISTINCT, LIMIT, WITH ...
    if not isinstance(source, exp.Table) or source.name != "population":
        return None
    if any(value for key, value in source.args.items() if key not in ("this", "alias")):
        return None
    qualifiers = ("", source.alias_or_name)

    def own(node: exp.Expression) -> bool:
        return (
            isinstance(node, exp.Column)
            and node.table in qualifiers
            and not node.args.get("db")
            and not node.args.get("catalog")
        )

    outputs = {}
    for column in tree.expressions:
        read = column.this if isinstance(column, exp.Alias) else column
        if not own(read):
            return None
        outputs[column.alias_or_name] = read.name
    plain = {"period_start": "period_start", "person_id": "person_id"}
    weighted = {**plain, "weight": "person_years"}
    if len(outputs) != len(tree.expressions) or outputs not in (plain, weighted):
        return None
    if where is None:
        return _PlainPopulation(None, outputs == weighted)
    for node in where.walk():
        if not isinstance(node, _PLAIN_CONDITION):
            return None
        if isinstance(node, exp.Column) and not (own(node) and node.name in _CELL_COLUMNS):
            return None
    unqualified = where.transform(
        lambda node: exp.column(node.name) if isinstance(node, exp.Column) else node
    )
    return _PlainPopulation(unqualified.sql(dialect="duckdb"), outputs == weighted)


def reads_population(measure: MeasureDefinition) -> bool:
    """Whether the measure's numerator or denominator SQL reads the ``population`` table row
    by row, so it must be built (a plain population denominator is summed without it)."""
    denominator = measure.denominator
    row_by_row = denominator if denominator and not _plain_population(denominator) else None
    for sql in (measure.numerator, row_by_row):
        if not sql:
            continue
        try:
            tree = sqlglot.parse_one(sql, read="duckdb")
        except SqlglotError:
            return True  # DuckDB reports the error, with population in place
        shadowed = "population" in {cte.alias for cte in tree.find_all(exp.CTE)}
        if not shadowed and any(t.name == "population" for t in tree.find_all(exp.Table)):
            return True
    return False


def _columns(
    connection: duckdb.DuckDBPyConnection, measure: MeasureDefinition, side: str, sql: str
) -> set[str]:
    """The columns one side's SQL returns (binding it, not running it), checked for the ones
    the counts need."""
    try:
        columns = set(connection.sql(sql).columns)
    except duckdb.Error as exc:
        raise MeasureSQLError(f"measure {measure.id}: {side}: {exc}".splitlines()[0]) from None
    needed = {"period_start", "person_id"}
    if side == "numerator" and measure.type in (MeasureType.mean, MeasureType.median_time):
        needed.add("value")
    if needed - columns:
        missing = ", ".join(sorted(needed - columns))
        raise MeasureSQLError(f"measure {measure.id}: {side}: the query must return {missing}")
    return columns


def _numerator_sql(connection: duckdb.DuckDBPyConnection, measure: MeasureDefinition) -> str:
    """One row per (period, person) with their ``n`` numerator units, or for mean/median
    measures one row per unit with its ``value``."""
    _columns(connection, measure, "numerator", measure.numerator)
    if measure.type in (MeasureType.mean, MeasureType.median_time):
        return f"""
            SELECT period_start, person_id, 1 AS n, CAST(value AS DOUBLE) AS value
            FROM ({measure.numerator})
        """  # noqa: S608 - the measure's own SQL, from its definition file
    return f"""
        SELECT period_start, person_id, count(*) AS n
        FROM ({measure.numerator}) GROUP BY period_start, person_id
    """  # noqa: S608 - the measure's own SQL, from its definition file


def _denominator_sql(connection: duckdb.DuckDBPyConnection, measure: MeasureDefinition) -> str:
    """One row per denominator unit with its ``weight`` (1 unless the query gives one)."""
    denominator = measure.denominator or ""
    weighted = "weight" in _columns(connection, measure, "denominator", denominator)
    weight = "coalesce(CAST(weight AS DOUBLE), 1.0)" if weighted else "1.0"
    return f"SELECT period_start, person_id, {weight} AS weight FROM ({denominator})"  # noqa: S608


def _cells_sql(
    connection: duckdb.DuckDBPyConnection, measure: MeasureDefinition, aged: bool
) -> str:
    """Both sides of a counted measure summed per period, age band and cell (``n``,
    ``squares``, ``weight``), or for mean/median measures every unit with its cell."""
    numerator = _numerator_sql(connection, measure)
    if measure.type in (MeasureType.mean, MeasureType.median_time):
        return unit_cells_sql(numerator, aged)
    plain = _plain_population(measure.denominator or "")
    try:
        shared = (
            population_cells(connection, plain.condition, plain.weighted, aged)
            if plain
            else denominator_cells(connection, _denominator_sql(connection, measure), aged)
        )
    except duckdb.Error as exc:
        raise MeasureSQLError(f"measure {measure.id}: denominator: {exc}".splitlines()[0]) from None
    return f"""
        {numerator_cells_sql(numerator, aged)}
        UNION ALL
        SELECT period_start, age, cell, NULL AS n, NULL AS squares, weight FROM "{shared}"
    """  # noqa: S608


def _labelled_sql(cells: str, band: str, wanted: Sequence[str]) -> str:
    """The cells with their age band and one column per breakdown, named after it."""
    groups = ", ".join(f'{BREAKDOWN_SQL[name]} AS "{name}"' for name in wanted)
    return f"""
        SELECT u.*, {band} AS band, {groups}
        FROM ({cells}) AS u JOIN _cell AS pe ON pe.cell = u.cell
    """  # noqa: S608


def _run(
    connection: duckdb.DuckDBPyConnection, measure: MeasureDefinition, sql: str
) -> dict[str, np.ndarray[Any, Any]]:
    try:
        columns = connection.execute(sql).fetchnumpy()
    except duckdb.Error as exc:
        message = f"measure {measure.id}: numerator or denominator: {exc}"
        raise MeasureSQLError(message.splitlines()[0]) from None
    return {name: np.asarray(values) for name, values in columns.items()}


def _label(name: str) -> str:
    """SQL of breakdown ``name``'s published group label, from its key column."""
    return GROUP_LABEL_SQL.get(name, "{}").format(f'"{name}"')


def aggregate(
    connection: duckdb.DuckDBPyConnection,
    measure: MeasureDefinition,
    breakdowns: Sequence[str],
) -> dict[str, np.ndarray[Any, Any]]:
    """One row per (breakdown, group, period[, band]) with the counts the estimators need.

    Columns: ``breakdown``, ``group_id``, ``period_start``, ``period_end``, ``band``
    (standardised measures only, else ''), ``numerator`` (units), ``denominator`` (summed
    weight), ``variance`` (sum over people of their unit count squared: Dobson's
    non-independent events), ``value_quantile`` (median_time); for means also the unit values
    labelled with their cell (``unit_breakdown``, ``unit_group_id``, ``unit_period_start``,
    ``unit_value``). Groups whose key is NULL (a person with no practice) are left out.
    """
    standardised = measure.standardised
    wanted = [b for b in breakdowns if not (standardised and b == "age_band")]
    counted = measure.type in (MeasureType.mean, MeasureType.median_time)
    cells = _cells_sql(connection, measure, aged=standardised or "age_band" in wanted)
    labelled = _labelled_sql(cells, "u.age" if standardised else "0", wanted)
    grouping_sets = ", ".join(f'(period_start, band, "{name}")' for name in wanted)
    # GROUPING(x) is 0 in the rows grouped by x: it tells each result row's breakdown.
    breakdown = " ".join(f"WHEN GROUPING(\"{name}\") = 0 THEN '{name}'" for name in wanted)
    group_id = " ".join(f'WHEN GROUPING("{name}") = 0 THEN {_label(name)}' for name in wanted)
    band = BAND_LABEL_SQL.format("band") if standardised else "''"
    if counted:
        quantile = f"quantile_cont(value, {measure.quantile})"
        denominator, squares = "NULL::DOUBLE", "NULL::DOUBLE"
    else:
        quantile = "NULL::DOUBLE"
        denominator, squares = "sum(weight)", "coalesce(sum(squares), 0)"
    counts = f"""
        SELECT CASE {breakdown} END AS breakdown, CASE {group_id} END AS group_id,
               period_start, {band} AS band, CAST(coalesce(sum(n), 0) AS BIGINT) AS numerator,
               {quantile} AS value_quantile, {denominator} AS denominator,
               CAST({squares} AS DOUBLE) AS variance
        FROM ({labelled})
        GROUP BY GROUPING SETS ({grouping_sets})
    """  # noqa: S608
    ordered = f"""
        SELECT c.*, p.period_end FROM ({counts}) AS c JOIN periods AS p USING (period_start)
        WHERE c.group_id IS NOT NULL
        ORDER BY breakdown, group_id, period_start, band
    """  # noqa: S608
    result = _run(connection, measure, ordered)
    if measure.type is MeasureType.mean:
        result.update(_unit_values(connection, measure, labelled, wanted))
    return result


def _unit_values(
    connection: duckdb.DuckDBPyConnection,
    measure: MeasureDefinition,
    labelled: str,
    wanted: Sequence[str],
) -> dict[str, np.ndarray[Any, Any]]:
    """Every unit's value once per breakdown, labelled with its cell (the t interval needs
    them)."""
    labels = ", ".join(f'{_label(name)} AS "{name}"' for name in wanted)
    units = _run(connection, measure, f"SELECT period_start, value, {labels} FROM ({labelled})")  # noqa: S608
    parts: dict[str, list[np.ndarray[Any, Any]]] = {
        "unit_breakdown": [],
        "unit_group_id": [],
        "unit_period_start": [],
        "unit_value": [],
    }
    for name in wanted:
        groups = units[name]
        present = np.flatnonzero(np.array([g is not None for g in groups], dtype=bool))
        parts["unit_breakdown"].append(np.full(len(present), name, dtype=object))
        parts["unit_group_id"].append(groups[present])
        parts["unit_period_start"].append(units["period_start"][present])
        parts["unit_value"].append(units["value"][present])
    return {key: np.concatenate(values) for key, values in parts.items()}
