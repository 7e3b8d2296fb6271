"""The one-pass GROUPING SETS counts give exactly what counting each breakdown on its own gives.

The oracle here is the plain way, one query per breakdown and side: join the measure's units to
``person``, label each with its group (and ESP 2013 band for standardised measures), and count;
Dobson's variance from each person's own unit count in the cell. Every starter measure, every
breakdown, every monthly period of the synthetic ICS.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from joinedup.measures.compute.aggregate import aggregate, install_periods
from joinedup.measures.compute.periods import periods
from joinedup.measures.definitions import Grain, MeasureDefinition, MeasureType, load_library

MEASURES = load_library()
BAND = "age_band(greatest(0, age_at(pe.birth_date, u.period_start)))"
LABELS = {
    "ics": "'ICS'",
    "place": "pe.place_id",
    "pcn": "pe.pcn_id",
    "practice": "pe.practice_id",
    "imd_quintile": "CAST(pe.imd_quintile AS VARCHAR)",
    "age_band": BAND,
    "sex": "pe.sex",
    "ethnicity": "pe.ethnic_group",
    "core20": "CASE WHEN pe.imd_quintile = 1 THEN 'Core20' ELSE 'Rest' END",
}
Cell = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def monthly(
    standard_tables: duckdb.DuckDBPyConnection, unsuppressed_results: Path
) -> duckdb.DuckDBPyConnection:
    """Its own cursor on the measured tables (so ``periods`` here touches no other test), with
    every month of recorded activity."""
    cursor = standard_tables.cursor()
    first, last = _rows(cursor, "SELECT min(start_date), max(start_date) FROM encounters")[0]
    install_periods(cursor, periods(Grain.month, first, last))
    return cursor


def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return connection.execute(sql).fetchall()


def plain_counts(
    connection: duckdb.DuckDBPyConnection, measure: MeasureDefinition, breakdown: str
) -> dict[Cell, dict[str, float]]:
    label = LABELS[breakdown]
    band = BAND if measure.standardised else "''"
    cells: dict[Cell, dict[str, float]] = {}

    def cell(group: Any, period: Any, band_label: Any) -> dict[str, float]:
        key = (breakdown, str(group), str(period)[:10], str(band_label))
        return cells.setdefault(key, {})

    counted = measure.type in (MeasureType.mean, MeasureType.median_time)
    labelled = f"""
        SELECT {label} AS grp, u.period_start, {band} AS band, u.person_id
               {", CAST(u.value AS DOUBLE) AS value" if counted else ""}
        FROM ({measure.numerator}) AS u JOIN person AS pe ON pe.person_id = u.person_id
    """
    if counted:
        for group, period, band_label, n, quantile in _rows(
            connection,
            f"""SELECT grp, period_start, band, count(*),
                       quantile_cont(value, {measure.quantile})
                FROM ({labelled}) WHERE grp IS NOT NULL GROUP BY ALL""",
        ):
            cell(group, period, band_label).update(numerator=n, quantile=quantile)
        return cells
    for group, period, band_label, n, variance in _rows(
        connection,
        f"""SELECT grp, period_start, band, sum(f), sum(f * f) FROM (
                SELECT grp, period_start, band, person_id, count(*) AS f
                FROM ({labelled}) WHERE grp IS NOT NULL GROUP BY ALL)
            GROUP BY ALL""",
    ):
        cell(group, period, band_label).update(numerator=n, variance=variance)
    den = connection.sql(measure.denominator or "")
    weight = "coalesce(CAST(u.weight AS DOUBLE), 1.0)" if "weight" in den.columns else "1.0"
    for group, period, band_label, total in _rows(
        connection,
        f"""SELECT {label} AS grp, u.period_start, {band} AS band, sum({weight})
            FROM ({measure.denominator}) AS u JOIN person AS pe ON pe.person_id = u.person_id
            WHERE grp IS NOT NULL GROUP BY ALL""",
    ):
        cell(group, period, band_label)["denominator"] = total
    return cells


@pytest.mark.parametrize("measure", MEASURES, ids=[m.id for m in MEASURES])
def test_counts_match_one_query_per_breakdown(
    measure: MeasureDefinition, monthly: duckdb.DuckDBPyConnection
) -> None:
    breakdowns = [
        b for b in (*measure.breakdowns, "core20") if not (measure.standardised and b == "age_band")
    ]
    counts = aggregate(monthly, measure, breakdowns)
    expected: dict[Cell, dict[str, float]] = {}
    for breakdown in breakdowns:
        expected |= plain_counts(monthly, measure, breakdown)
    got = {
        (str(b), str(g), str(p)[:10], str(band)): i
        for i, (b, g, p, band) in enumerate(
            zip(
                counts["breakdown"],
                counts["group_id"],
                counts["period_start"],
                counts["band"],
                strict=True,
            )
        )
    }
    assert len(got) == len(counts["breakdown"]), "one row per cell"
    assert set(got) == set(expected)
    assert expected, "the synthetic ICS gives every measure some counts"
    for key, want in expected.items():
        i = got[key]
        assert counts["numerator"][i] == want.get("numerator", 0), key
        if measure.type is MeasureType.median_time:
            assert counts["value_quantile"][i] == pytest.approx(want["quantile"]), key
        elif measure.type is not MeasureType.mean:
            assert counts["variance"][i] == want.get("variance", 0), key
            if "denominator" in want:
                assert counts["denominator"][i] == pytest.approx(want["denominator"], rel=1e-12)
            else:
                assert np.isnan(counts["denominator"][i]), key
    ends = dict(_rows(monthly, "SELECT period_start, period_end FROM periods"))
    for start, end in zip(counts["period_start"], counts["period_end"], strict=True):
        assert np.datetime64(end, "D") == np.datetime64(ends[_day(start)], "D")


def _day(value: Any) -> date:
    return date.fromisoformat(str(np.datetime64(value, "D")))


def test_mean_unit_values_are_labelled_once_per_breakdown(
    monthly: duckdb.DuckDBPyConnection,
) -> None:
    measure = next(m for m in MEASURES if m.type is MeasureType.mean)
    counts = aggregate(monthly, measure, ["ics", "place", "age_band"])
    got = Counter(
        zip(
            counts["unit_breakdown"].astype(str),
            counts["unit_group_id"].astype(str),
            [_day(p) for p in counts["unit_period_start"]],
            np.round(counts["unit_value"].astype(float), 9),
            strict=True,
        )
    )
    expected: Counter[tuple[str, str, date, float]] = Counter()
    for breakdown in ("ics", "place", "age_band"):
        for group, period, value in _rows(
            monthly,
            f"""SELECT {LABELS[breakdown]} AS grp, u.period_start, CAST(u.value AS DOUBLE)
                FROM ({measure.numerator}) AS u JOIN person AS pe ON pe.person_id = u.person_id
                WHERE grp IS NOT NULL""",
        ):
            expected[(breakdown, str(group), _day(period), round(float(value), 9))] += 1
    assert got == expected
