"""Numerators and denominators per breakdown group and period, in DuckDB.

The measure's SQL runs once per side; each row is joined to ``person`` for its breakdown
attributes, then counted per (breakdown, group, period) — and per ESP 2013 age band for
standardised measures — in one ``UNION ALL`` query. Nothing about a person leaves DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import duckdb
import numpy as np

from joinedup.measures.compute.periods import Period
from joinedup.measures.definitions import MeasureDefinition, MeasureType

#: Breakdown -> SQL over the joined ``person`` row (``pe``) and the unit's ``period_start``.
BREAKDOWN_SQL: dict[str, str] = {
    "ics": "'ICS'",
    "place": "pe.place_id",
    "pcn": "pe.pcn_id",
    "practice": "pe.practice_id",
    "imd_quintile": "CAST(pe.imd_quintile AS VARCHAR)",
    "age_band": "age_band(greatest(0, age_at(pe.birth_date, u.period_start)))",
    "sex": "pe.sex",
    "ethnicity": "pe.ethnic_group",
    # Core20: the most deprived fifth of neighbourhoods nationally (IMD quintile 1) vs the rest.
    "core20": "CASE WHEN pe.imd_quintile = 1 THEN 'Core20' ELSE 'Rest' END",
}
STANDARD_BAND_SQL = "age_band(greatest(0, age_at(pe.birth_date, u.period_start)))"


class MeasureSQLError(ValueError):
    """A measure's numerator or denominator SQL failed; the message names the measure and side."""


def install_periods(connection: duckdb.DuckDBPyConnection, periods: Sequence[Period]) -> None:
    """(Re)create ``periods`` and the ``population`` view the measure SQL reads."""
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE periods AS
        SELECT CAST(unnest($starts) AS DATE) AS period_start,
               CAST(unnest($ends) AS DATE) AS period_end
        """,
        {"starts": [p.start for p in periods], "ends": [p.end for p in periods]},
    )
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE population AS
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
    )


def _units(
    connection: duckdb.DuckDBPyConnection, measure: MeasureDefinition, side: str, sql: str
) -> str:
    """Materialise one side's units (with person attributes) as a temp table; returns its name."""
    table = f"units_{side}"
    counted = measure.type in (MeasureType.mean, MeasureType.median_time)
    try:
        connection.execute(f"CREATE OR REPLACE TEMP TABLE raw_{side} AS {sql}")
    except duckdb.Error as exc:
        raise MeasureSQLError(f"measure {measure.id}: {side}: {exc}".splitlines()[0]) from None
    columns = {row[0] for row in connection.execute(f"DESCRIBE raw_{side}").fetchall()}
    needed = {"period_start", "person_id"} | (
        {"value"} if counted and side == "numerator" else set()
    )
    if needed - columns:
        missing = ", ".join(sorted(needed - columns))
        raise MeasureSQLError(f"measure {measure.id}: {side}: the query must return {missing}")
    weight = "coalesce(CAST(u.weight AS DOUBLE), 1.0)" if "weight" in columns else "1.0"
    value = ", CAST(u.value AS DOUBLE) AS value" if "value" in needed else ""
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT u.period_start, u.person_id, {weight} AS weight{value}, pe.* EXCLUDE (person_id)
        FROM raw_{side} AS u
        JOIN person AS pe ON pe.person_id = u.person_id
        """  # noqa: S608 - the measure's own SQL, from its definition file
    )
    return table


def _rename_pe(expression: str) -> str:
    return expression.replace("pe.", "u.")


def aggregate(
    connection: duckdb.DuckDBPyConnection,
    measure: MeasureDefinition,
    breakdowns: Sequence[str],
) -> dict[str, np.ndarray[Any, Any]]:
    """One row per (breakdown, group, period[, band]) with the counts the estimators need.

    Columns: ``breakdown``, ``group_id``, ``period_start``, ``band`` (standardised measures
    only, else ''), ``numerator`` (units), ``denominator`` (summed weight), ``variance``
    (sum over people of their event count squared: Dobson's non-independent events), and for
    mean/median measures ``value_sum``/``value_quantile``.
    """
    band = STANDARD_BAND_SQL if measure.standardised else "''"
    wanted = [b for b in breakdowns if not (measure.standardised and b == "age_band")]
    num_table = _units(connection, measure, "numerator", measure.numerator)
    counted = measure.type in (MeasureType.mean, MeasureType.median_time)
    quantile = f"quantile_cont(value, {measure.quantile})" if counted else "NULL"
    parts = []
    for name in wanted:
        group = _rename_pe(BREAKDOWN_SQL[name])
        parts.append(
            f"""
            SELECT '{name}' AS breakdown, CAST({group} AS VARCHAR) AS group_id, period_start,
                   {_rename_pe(band)} AS band, count(*) AS numerator,
                   {"sum(value)" if counted else "NULL"} AS value_sum,
                   {quantile} AS value_quantile
            FROM {num_table} AS u GROUP BY ALL
            """  # noqa: S608
        )
    numerators = " UNION ALL ".join(parts)
    # Dobson's variance needs each person's event count within the group's cell.
    variance_parts = [
        f"""
        SELECT breakdown, group_id, period_start, band, sum(f * f) AS variance FROM (
            SELECT '{name}' AS breakdown,
                   CAST({_rename_pe(BREAKDOWN_SQL[name])} AS VARCHAR) AS group_id,
                   period_start, {_rename_pe(band)} AS band, u.person_id, count(*) AS f
            FROM {num_table} AS u GROUP BY ALL)
        GROUP BY ALL
        """  # noqa: S608
        for name in wanted
    ]
    if counted:
        sql = f"SELECT *, NULL::DOUBLE AS denominator, NULL::DOUBLE AS variance FROM ({numerators})"  # noqa: S608
    else:
        den_table = _units(connection, measure, "denominator", measure.denominator or "")
        den_parts = [
            f"""
            SELECT '{name}' AS breakdown,
                   CAST({_rename_pe(BREAKDOWN_SQL[name])} AS VARCHAR) AS group_id,
                   period_start, {_rename_pe(band)} AS band, sum(weight) AS denominator
            FROM {den_table} AS u GROUP BY ALL
            """  # noqa: S608
            for name in wanted
        ]
        sql = f"""
            SELECT breakdown, group_id, period_start, band,
                   coalesce(n.numerator, 0) AS numerator, n.value_sum, n.value_quantile,
                   d.denominator, coalesce(v.variance, 0) AS variance
            FROM ({" UNION ALL ".join(den_parts)}) AS d
            FULL JOIN ({numerators}) AS n USING (breakdown, group_id, period_start, band)
            LEFT JOIN ({" UNION ALL ".join(variance_parts)}) AS v
              USING (breakdown, group_id, period_start, band)
        """  # noqa: S608
    ordered = f"""
        SELECT a.*, p.period_end FROM ({sql}) AS a JOIN periods AS p USING (period_start)
        WHERE a.group_id IS NOT NULL
        ORDER BY breakdown, group_id, period_start, band
    """  # noqa: S608
    columns = connection.execute(ordered).fetchnumpy()
    result = {name: np.asarray(values) for name, values in columns.items()}
    if measure.type is MeasureType.mean:
        # The t interval needs every unit's value, labelled with its cell.
        unit_parts = [
            f"""SELECT '{name}' AS breakdown,
                   CAST({_rename_pe(BREAKDOWN_SQL[name])} AS VARCHAR) AS group_id,
                      period_start, value FROM {num_table} AS u"""  # noqa: S608
            for name in wanted
        ]
        units = connection.execute(
            f"SELECT * FROM ({' UNION ALL '.join(unit_parts)}) WHERE group_id IS NOT NULL"  # noqa: S608
        ).fetchnumpy()
        result.update({f"unit_{name}": np.asarray(values) for name, values in units.items()})
    return result


def as_date(value: Any) -> date:
    """A DuckDB DATE from ``fetchnumpy`` (numpy datetime64) as a Python date."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(np.datetime_as_string(np.datetime64(value, "D"))))
