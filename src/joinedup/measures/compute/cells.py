"""Units summed per cell: the grain every breakdown count is a sum of.

A person's *cell* is their combination of the attributes the breakdowns read (practice, PCN,
Place, IMD quintile, sex, ethnic group); with the period and the ESP 2013 age band at its
start it fixes every breakdown group a unit falls in. Summing units per (period, age band,
cell) first turns millions of unit rows (population denominators are people x periods) into
thousands of cells keyed by small integers, and every breakdown is then a sum of whole cells,
so the counts are exact.

Denominators are often shared (every crude rate and ratio over the whole population reads the
same person-years), so each distinct denominator query is summed once per set of periods and
kept in a temporary table until the periods change. The population itself is summed per
(period, age in years, cell) straight from the people and the periods (:func:`population_cells`),
so a denominator that only filters ``population`` by period and age never needs its row per
person and period.
"""

from __future__ import annotations

import duckdb

#: The person columns the breakdowns other than age band read; one cell per combination.
CELL_COLUMNS = ("practice_id", "pcn_id", "place_id", "imd_quintile", "sex", "ethnic_group")
#: The ESP 2013 five-year band of the age at the period start, as its index 0 (0-4) .. 18 (90+),
#: from the unit (``u``) and its person's cell row (``pc``). The age in whole years is the
#: difference of the two days written as yyyymmdd numbers, integer-divided by 10,000 — what
#: ``age_at`` computes, with the birthday part read once per person rather than per unit.
BAND_INDEX_SQL = (
    "least(greatest(0, (year(u.period_start) * 10000 + month(u.period_start) * 100"
    " + day(u.period_start) - pc.birth_key) // 10000) // 5, 18)"
)
_REGISTRY = "_denominator_cells"


_COLUMNS = ", ".join(CELL_COLUMNS)
#: Each person's cell and birthday as yyyymmdd.
PERSON_CELL_SQL = f"""
    SELECT person_id, year(birth_date) * 10000 + month(birth_date) * 100 + day(birth_date)
               AS birth_key,
           {_COLUMNS}, dense_rank() OVER (ORDER BY {_COLUMNS}) AS cell
    FROM person
"""  # noqa: S608 - column names from CELL_COLUMNS


_POPULATION_CELLS = "_population_cells"
#: ``population`` summed per period, age in whole years and cell: ``people`` and their
#: ``person_years``, the numbers its rows sum to. Days are numbered from 1970 (integers
#: are cheaper than dates over people x periods) and the age read from the yyyymmdd numbers
#: as :data:`BAND_INDEX_SQL` does; a missing death date counts as one after every period.
POPULATION_CELLS_SQL = """
    WITH people AS (
        SELECT pc.cell, pc.birth_key, date_diff('day', DATE '1970-01-01', pe.birth_date) AS born,
               coalesce(date_diff('day', DATE '1970-01-01', pe.death_date), 2147483647) AS died
        FROM person AS pe JOIN _person_cell AS pc ON pc.person_id = pe.person_id),
    days AS (
        SELECT period_start,
               year(period_start) * 10000 + month(period_start) * 100 + day(period_start)
                   AS start_key,
               date_diff('day', DATE '1970-01-01', period_start) AS first_day,
               date_diff('day', DATE '1970-01-01', period_end) AS last_day
        FROM periods)
    SELECT d.period_start, greatest(0, (d.start_key - pe.birth_key) // 10000) AS age, pe.cell,
           count(*) AS people,
           sum(least(d.last_day, pe.died) - greatest(d.first_day, pe.born) + 1) / 365.25
               AS person_years
    FROM days AS d JOIN people AS pe ON pe.born <= d.last_day AND pe.died >= d.first_day
    GROUP BY d.period_start, age, pe.cell
"""


def install_cells(connection: duckdb.DuckDBPyConnection) -> None:
    """(Re)create ``_person_cell`` (:data:`PERSON_CELL_SQL`) and ``_cell`` (each cell's person
    columns) from ``person``, and forget the summed denominators."""
    connection.execute(f"CREATE OR REPLACE TEMP TABLE _person_cell AS {PERSON_CELL_SQL}")
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE _cell AS SELECT DISTINCT cell, {_COLUMNS} FROM _person_cell"  # noqa: S608
    )
    forget_denominators(connection)


def _has_temp_table(connection: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = $name",
        {"name": name},
    ).fetchall()
    return bool(found[0][0])


def forget_denominators(connection: duckdb.DuckDBPyConnection) -> None:
    """Drop every summed denominator: the periods or the tables they were read from changed."""
    if _has_temp_table(connection, _REGISTRY):
        for (table,) in connection.execute(f"SELECT name FROM {_REGISTRY}").fetchall():  # noqa: S608
            connection.execute(f'DROP TABLE IF EXISTS "{table}"')
    connection.execute(f"DROP TABLE IF EXISTS {_POPULATION_CELLS}")
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {_REGISTRY} (sql VARCHAR, name VARCHAR)")


def unit_cells_sql(units: str, aged: bool) -> str:
    """Every unit (``period_start``, ``person_id``, ...) of a person in ``person`` with its
    ``cell`` and ``age``: the age band index at the period start if ``aged``, else 0."""
    age = BAND_INDEX_SQL if aged else "0"
    return f"""
        SELECT u.*, pc.cell, {age} AS age
        FROM ({units}) AS u JOIN _person_cell AS pc ON pc.person_id = u.person_id
    """  # noqa: S608


def numerator_cells_sql(units: str, aged: bool) -> str:
    """Numerator units (one row per period and person with their count ``n``) summed per cell;
    ``squares`` keeps Dobson's sum over people of their unit count squared."""
    return f"""
        SELECT period_start, age, cell, sum(n) AS n, sum(n * n) AS squares,
               NULL::DOUBLE AS weight
        FROM ({unit_cells_sql(units, aged)})
        GROUP BY period_start, age, cell
    """  # noqa: S608


def denominator_cells(connection: duckdb.DuckDBPyConnection, units: str, aged: bool) -> str:
    """The name of a temporary table of the denominator units (``period_start``,
    ``person_id``, ``weight``) summed per cell, shared by every measure with the same
    denominator query until :func:`forget_denominators`."""
    return _shared(
        connection,
        f"""
        SELECT period_start, age, cell, sum(weight) AS weight
        FROM ({unit_cells_sql(units, aged)})
        GROUP BY period_start, age, cell
        """,  # noqa: S608
    )


def population_cells(
    connection: duckdb.DuckDBPyConnection, condition: str | None, weighted: bool, aged: bool
) -> str:
    """Like :func:`denominator_cells` for the denominator that takes everyone in
    ``population`` meeting ``condition`` (SQL over its ``period_start`` and ``age``), weighted
    by their ``person_years`` or by one each: summed from :data:`POPULATION_CELLS_SQL`, whose
    rows each hold people of one period and age, so the condition holds for all of a row or
    none of it."""
    if not _has_temp_table(connection, _POPULATION_CELLS):
        connection.execute(f"CREATE TEMP TABLE {_POPULATION_CELLS} AS {POPULATION_CELLS_SQL}")
    # The band is named apart from ``age`` until the condition has read the age in years.
    return _shared(
        connection,
        f"""
        SELECT period_start, band AS age, cell, weight
        FROM (SELECT period_start, {"least(age // 5, 18)" if aged else "0"} AS band, cell,
                     CAST(sum({"person_years" if weighted else "people"}) AS DOUBLE) AS weight
              FROM {_POPULATION_CELLS}
              WHERE {condition or "true"}
              GROUP BY period_start, band, cell)
        """,  # noqa: S608
    )


def _shared(connection: duckdb.DuckDBPyConnection, summed: str) -> str:
    """The name of a temporary table holding ``summed`` (a denominator per period, age band
    and cell), created by the first caller since :func:`forget_denominators`."""
    found = connection.execute(
        f"SELECT name FROM {_REGISTRY} WHERE sql = $sql",  # noqa: S608
        {"sql": summed},
    ).fetchall()
    if found:
        return str(found[0][0])
    count = connection.execute(f"SELECT count(*) FROM {_REGISTRY}").fetchall()[0][0]  # noqa: S608
    name = f"{_REGISTRY}_{count + 1}"
    connection.execute(f'CREATE TEMP TABLE "{name}" AS {summed}')
    connection.execute(
        f"INSERT INTO {_REGISTRY} VALUES ($sql, $name)",  # noqa: S608
        {"sql": summed, "name": name},
    )
    return name
