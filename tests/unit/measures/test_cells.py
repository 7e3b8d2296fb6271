"""Person cells: the age band read from yyyymmdd numbers, and denominators summed once."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from joinedup.measures.compute.aggregate import aggregate, install_periods
from joinedup.measures.compute.cells import BAND_INDEX_SQL
from joinedup.measures.compute.periods import Period
from joinedup.measures.definitions import MeasureDefinition
from joinedup.views.library.tables import MACROS


def test_band_index_is_the_age_at_band_for_every_birthday() -> None:
    """Every day of birth from 1900 to 2026 (leap days included) against the first and last
    day of every month of 2020-2026."""
    connection = duckdb.connect()
    connection.execute(MACROS)
    different = connection.execute(
        f"""
        WITH births AS (
            SELECT CAST(d AS DATE) AS birth_date,
                   year(d) * 10000 + month(d) * 100 + day(d) AS birth_key
            FROM range(DATE '1900-01-01', DATE '2027-01-01', INTERVAL 1 DAY) AS t(d)),
        starts AS (
            SELECT CAST(d AS DATE) AS period_start
            FROM range(DATE '2020-01-01', DATE '2027-01-01', INTERVAL 1 MONTH) AS t(d)
            UNION ALL
            SELECT CAST(d - INTERVAL 1 DAY AS DATE)
            FROM range(DATE '2020-02-01', DATE '2027-01-01', INTERVAL 1 MONTH) AS t(d))
        SELECT count(*), count(*) FILTER (WHERE {BAND_INDEX_SQL}
                          IS DISTINCT FROM least(greatest(0, age_at(pc.birth_date,
                                                                    u.period_start)) // 5, 18))
        FROM births AS pc CROSS JOIN starts AS u
        """
    ).fetchall()[0]
    assert different[0] > 3_000_000
    assert different[1] == 0


def _measure(id_: str, denominator: str) -> MeasureDefinition:
    return MeasureDefinition.model_validate(
        {
            "id": id_,
            "title": "A test rate",
            "rationale": "exercises shared denominators",
            "policy_source": "tests",
            "domain": "tests",
            "polarity": "lower",
            "type": "crude_rate",
            "numerator": "SELECT period_start, person_id FROM visits",
            "denominator": denominator,
            "owner": "nobody",
        }
    )


@pytest.fixture
def tables() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(MACROS)
    connection.execute(
        """
        CREATE TABLE person AS
        SELECT 'p' || i AS person_id, DATE '1950-01-01' + INTERVAL (i * 97) DAY AS birth_date,
               NULL::DATE AS death_date, 'practice-' || (i % 3) AS practice_id,
               'pcn-' || (i % 3 // 2) AS pcn_id, 'place-1' AS place_id,
               i % 5 + 1 AS imd_quintile, CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END AS sex,
               'White' AS ethnic_group
        FROM range(200) AS t(i);
        CREATE TABLE visits AS
        SELECT DATE '2024-01-01' AS period_start, 'p' || i AS person_id
        FROM range(0, 200, 3) AS t(i)
        """
    )
    return connection


def _denominators(counts: dict[str, object]) -> list[float]:
    return [float(v) for v in counts["denominator"]]  # type: ignore[attr-defined]


def test_the_same_denominator_is_summed_once_per_set_of_periods(
    tables: duckdb.DuckDBPyConnection,
) -> None:
    shared = "SELECT period_start, person_id, person_years AS weight FROM population"
    install_periods(tables, [Period(date(2024, 1, 1), date(2024, 1, 31))])
    first = aggregate(tables, _measure("first-rate", shared), ["ics", "practice"])
    second = aggregate(tables, _measure("second-rate", shared), ["ics", "practice"])
    assert _denominators(first) == _denominators(second)
    assert _denominators(first)[0] == pytest.approx(200 * 31 / 365.25)  # ICS: everyone alive
    summed = tables.execute("SELECT count(*) FROM _denominator_cells").fetchall()[0][0]
    assert summed == 1
    # New periods: the population changes, and so does the denominator summed from it.
    install_periods(tables, [Period(date(2024, 1, 1), date(2024, 3, 31))])
    quarter = aggregate(tables, _measure("first-rate", shared), ["ics", "practice"])
    assert _denominators(quarter)[0] == pytest.approx(200 * 91 / 365.25)


def test_a_different_denominator_is_not_shared(tables: duckdb.DuckDBPyConnection) -> None:
    install_periods(tables, [Period(date(2024, 1, 1), date(2024, 1, 31))])
    everyone = aggregate(
        tables,
        _measure("everyone", "SELECT period_start, person_id FROM population"),
        ["ics"],
    )
    older = aggregate(
        tables,
        _measure("older", "SELECT period_start, person_id FROM population WHERE age >= 50"),
        ["ics"],
    )
    assert _denominators(everyone) == [200.0]
    assert 0 < _denominators(older)[0] < 200
