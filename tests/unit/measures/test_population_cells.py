"""A plain population denominator, summed from the population cells, gives what summing
``population`` row by row gives: births, deaths and birthdays inside the periods included."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import numpy as np
import pytest

from joinedup.measures.compute.aggregate import aggregate, install_periods, reads_population
from joinedup.measures.compute.periods import Period
from joinedup.measures.definitions import MeasureDefinition
from joinedup.views.library.tables import MACROS

BREAKDOWNS = ["ics", "practice", "imd_quintile", "age_band", "sex"]
#: Periods of different lengths, starting on the 1st and mid-month.
PERIODS = [
    Period(date(2023, 12, 1), date(2023, 12, 31)),
    Period(date(2024, 1, 1), date(2024, 3, 31)),
    Period(date(2024, 2, 15), date(2024, 3, 14)),
    Period(date(2024, 4, 1), date(2025, 3, 31)),
]


def _measure(type_: str, denominator: str) -> MeasureDefinition:
    return MeasureDefinition.model_validate(
        {
            "id": "a-rate",
            "title": "A test rate",
            "rationale": "exercises population denominators",
            "policy_source": "tests",
            "domain": "tests",
            "polarity": "lower",
            "type": type_,
            "numerator": "SELECT period_start, person_id FROM visits",
            "denominator": denominator,
            "owner": "nobody",
        }
    )


@pytest.fixture(scope="module")
def tables() -> duckdb.DuckDBPyConnection:
    """600 people born from 1925 to 2025 (some inside the periods, some on 29 February), a
    fifth of them dead (some inside the periods, some before or after)."""
    connection = duckdb.connect()
    connection.execute(MACROS)
    connection.execute(
        """
        CREATE TABLE person AS
        SELECT 'p' || i AS person_id,
               CASE WHEN i % 50 = 0 THEN make_date(1928 + i // 50 * 8, 2, 29)
                    ELSE CAST(DATE '1925-02-28' + INTERVAL (i * 61 + i % 2) DAY AS DATE) END
                   AS birth_date,
               CASE WHEN i % 5 = 0
                    THEN CAST(DATE '2023-06-01' + INTERVAL (i * 7 % 700) DAY AS DATE) END
                   AS death_date,
               'practice-' || (i % 4) AS practice_id, 'pcn-' || (i % 4 // 2) AS pcn_id,
               'place-1' AS place_id, i % 5 + 1 AS imd_quintile,
               CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END AS sex,
               'White' AS ethnic_group
        FROM range(600) AS t(i);
        CREATE TABLE visits AS
        SELECT DATE '2024-01-01' AS period_start, 'p' || i AS person_id
        FROM range(0, 600, 7) AS t(i)
        """
    )
    install_periods(connection, PERIODS)
    return connection


def _counts(connection: duckdb.DuckDBPyConnection, type_: str, denominator: str) -> dict[str, Any]:
    measure = _measure(type_, denominator)
    return aggregate(connection, measure, BREAKDOWNS)


@pytest.mark.parametrize("type_", ["crude_rate", "dsr"])
@pytest.mark.parametrize(
    ("plain", "row_by_row"),
    [
        (
            "SELECT period_start, person_id, person_years AS weight FROM population",
            # reading person_id in the condition makes the query one the cells cannot answer
            "SELECT period_start, person_id, person_years AS weight FROM population "
            "WHERE person_id IS NOT NULL",
        ),
        (
            "SELECT p.period_start, p.person_id FROM population AS p "
            "WHERE p.age BETWEEN 18 AND 64 AND period_start >= DATE '2024-01-01'",
            "SELECT period_start, person_id FROM population "
            "WHERE age BETWEEN 18 AND 64 AND period_start >= DATE '2024-01-01' "
            "AND person_id IS NOT NULL",
        ),
        (
            "SELECT period_start, person_id, person_years AS weight FROM population "
            "WHERE age >= 65 OR age < 1",
            "SELECT period_start, person_id, person_years AS weight FROM population "
            "WHERE (age >= 65 OR age < 1) AND person_id IS NOT NULL",
        ),
    ],
)
def test_a_plain_population_denominator_sums_to_the_rows(
    tables: duckdb.DuckDBPyConnection, type_: str, plain: str, row_by_row: str
) -> None:
    assert not reads_population(_measure(type_, plain))
    assert reads_population(_measure(type_, row_by_row))
    summed = _counts(tables, type_, plain)
    expected = _counts(tables, type_, row_by_row)
    assert len(expected["denominator"]) > 50
    for column in ("breakdown", "group_id", "period_start", "band", "numerator"):
        assert list(summed[column]) == list(expected[column]), column
    np.testing.assert_allclose(summed["denominator"], expected["denominator"], rtol=1e-12)


@pytest.mark.parametrize(
    "denominator",
    [
        "SELECT * FROM population",
        "SELECT DISTINCT period_start, person_id FROM population",
        "SELECT period_start, person_id, person_years * 2 AS weight FROM population",
        "SELECT period_start, person_id, 1 AS weight FROM population",
        "SELECT period_start, person_id FROM population WHERE person_years > 0.05",
        "SELECT period_start, person_id FROM population WHERE age >= (SELECT 65)",
        "SELECT period_start, person_id FROM population WHERE age >= random() * 100",
        "SELECT period_start, person_id FROM population AS p JOIN person USING (person_id)",
        "SELECT period_start, person_id FROM population LIMIT 10",
        "SELECT period_start, person_id FROM other.population",
        "SELECT period_start, person_id, person_id FROM population",
    ],
)
def test_any_other_population_denominator_reads_the_rows(denominator: str) -> None:
    assert reads_population(_measure("crude_rate", denominator))
