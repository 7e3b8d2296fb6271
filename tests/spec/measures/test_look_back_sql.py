"""The look-back measures' SQL gives exactly the rows of their straightforward definitions.

The starter library computes "as of each period's end" measures (latest reading, second
long-term condition, first care plan) by joining each record's span of validity to the periods
once, rather than joining every record to every period and ranking. The straightforward
definitions below are the earlier, plainer SQL of the same measures; both must return the same
(period, person) rows — on the synthetic ICS and on generated records full of the cases that
break a rewrite: readings on the same day, missing dates, deaths, leap-day birthdays and
birthdays at period ends.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from joinedup.measures.compute.aggregate import install_periods
from joinedup.measures.compute.cells import CELL_COLUMNS
from joinedup.measures.compute.periods import periods
from joinedup.measures.definitions import Grain, MeasureDefinition, load_library
from joinedup.views.library.tables import MACROS

_LATEST_BP = """
    SELECT p.period_start, b.person_id, b.systolic, b.diastolic
    FROM blood_pressures AS b
    JOIN periods AS p ON b.effective_date BETWEEN p.period_end - INTERVAL 12 MONTH AND p.period_end
    QUALIFY row_number() OVER (PARTITION BY p.period_start, b.person_id
                               ORDER BY b.effective_date DESC, b.observation_id DESC) = 1"""
_HYPERTENSION = """
    SELECT p.period_start, c.person_id
    FROM conditions AS c
    JOIN periods AS p ON c.onset_date <= p.period_end
    JOIN person AS pe ON pe.person_id = c.person_id
    WHERE c.ltc = 'hypertension' AND (pe.death_date IS NULL OR pe.death_date > p.period_end)"""
_MULTIMORBID = """
    SELECT p.period_start, p.period_end, c.person_id
    FROM conditions AS c
    JOIN periods AS p ON c.onset_date <= p.period_end
    JOIN person AS pe ON pe.person_id = c.person_id
    WHERE pe.death_date IS NULL OR pe.death_date > p.period_end
    GROUP BY p.period_start, p.period_end, c.person_id
    HAVING count(*) >= 2"""


def _latest(code: str) -> str:
    return f"""
    SELECT p.period_start, p.period_end, o.person_id, o.value_code
    FROM observations AS o
    JOIN periods AS p ON o.effective_date <= p.period_end
    WHERE o.code = '{code}'
    QUALIFY row_number() OVER (PARTITION BY p.period_start, o.person_id
                               ORDER BY o.effective_date DESC, o.observation_id DESC) = 1"""


_ADULT_ALIVE = """
    FROM latest AS l JOIN person AS pe ON pe.person_id = l.person_id
    WHERE age_at(pe.birth_date, l.period_end) >= 18
      AND (pe.death_date IS NULL OR pe.death_date > l.period_end)"""
_WORKING_AGE_WITH_LTC = """
    FROM latest AS l JOIN person AS pe ON pe.person_id = l.person_id
    WHERE age_at(pe.birth_date, l.period_end) BETWEEN 16 AND 64
      AND (pe.death_date IS NULL OR pe.death_date > l.period_end)
      AND EXISTS (SELECT 1 FROM conditions AS c
                  WHERE c.person_id = l.person_id AND c.onset_date <= l.period_end)"""

#: measure id -> (numerator, denominator) as first written: one row per record and period.
STRAIGHTFORWARD: dict[str, tuple[str, str]] = {
    "hypertension-controlled": (
        f"""WITH latest AS ({_LATEST_BP})
        SELECT l.period_start, l.person_id
        FROM latest AS l
        JOIN periods AS p USING (period_start)
        JOIN conditions AS c ON c.person_id = l.person_id AND c.ltc = 'hypertension'
                            AND c.onset_date <= p.period_end
        JOIN person AS pe ON pe.person_id = l.person_id
        WHERE (pe.death_date IS NULL OR pe.death_date > p.period_end)
          AND l.diastolic < 90
          AND l.systolic < CASE WHEN age_at(pe.birth_date, p.period_end) >= 80
                                THEN 150 ELSE 140 END""",
        _HYPERTENSION,
    ),
    "hypertension-bp-recorded": (
        f"""{_HYPERTENSION}
          AND EXISTS (SELECT 1 FROM blood_pressures AS b
                      WHERE b.person_id = c.person_id
                        AND b.effective_date BETWEEN p.period_end - INTERVAL 12 MONTH
                                                 AND p.period_end)""",
        _HYPERTENSION,
    ),
    "multiple-ltc-care-plan": (
        f"""WITH eligible AS ({_MULTIMORBID})
        SELECT e.period_start, e.person_id
        FROM eligible AS e
        WHERE EXISTS (SELECT 1 FROM care_plans AS cp
                      WHERE cp.person_id = e.person_id
                        AND cp.category = 'personalised-care-plan'
                        AND cp.created_date <= e.period_end)""",
        f"SELECT period_start, person_id FROM ({_MULTIMORBID})",
    ),
    "physically-active-adults": (
        f"""WITH latest AS ({_latest("physical-activity")})
        SELECT l.period_start, l.person_id {_ADULT_ALIVE} AND l.value_code = 'active'""",
        f"WITH latest AS ({_latest('physical-activity')}) "
        f"SELECT l.period_start, l.person_id {_ADULT_ALIVE}",
    ),
    "working-age-ltc-in-work": (
        f"""WITH latest AS ({_latest("67875-5")})
        SELECT l.period_start, l.person_id {_WORKING_AGE_WITH_LTC}
          AND l.value_code = 'employed'""",
        f"WITH latest AS ({_latest('67875-5')}) "
        f"SELECT l.period_start, l.person_id {_WORKING_AGE_WITH_LTC}",
    ),
}
MEASURES = {m.id: m for m in load_library() if m.id in STRAIGHTFORWARD}
GRAINS = (Grain.month, Grain.quarter, Grain.rolling_12_months)


def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> Counter[tuple[Any, ...]]:
    return Counter(connection.execute(f"SELECT period_start, person_id FROM ({sql})").fetchall())


def _assert_same_rows(
    connection: duckdb.DuckDBPyConnection, measure: MeasureDefinition, grain: Grain
) -> int:
    """Install ``grain``'s periods over the activity years and compare both sides; the number
    of rows compared."""
    install_periods(
        connection, periods(grain, date(2021, 4, 1), date(2025, 3, 31)), population=False
    )
    numerator, denominator = STRAIGHTFORWARD[measure.id]
    compared = 0
    for side, plain, rewritten in (
        ("numerator", numerator, measure.numerator),
        ("denominator", denominator, measure.denominator or ""),
    ):
        expected = _rows(connection, plain)
        assert _rows(connection, rewritten) == expected, f"{measure.id} {grain} {side}"
        compared += sum(expected.values())
    return compared


def test_every_rewritten_measure_has_its_straightforward_definition() -> None:
    assert set(MEASURES) == set(STRAIGHTFORWARD)


@pytest.mark.parametrize("grain", GRAINS, ids=[g.value for g in GRAINS])
@pytest.mark.parametrize("measure_id", sorted(STRAIGHTFORWARD))
def test_same_rows_on_the_synthetic_ics(
    measure_id: str,
    grain: Grain,
    standard_tables: duckdb.DuckDBPyConnection,
    unsuppressed_results: Path,
) -> None:
    cursor = standard_tables.cursor()  # its own periods, touching no other test's
    assert _assert_same_rows(cursor, MEASURES[measure_id], grain) > 0


def _days(rng: np.random.Generator, first: date, last: date, size: int) -> list[date]:
    offsets = rng.integers(0, (last - first).days + 1, size)
    return [first + timedelta(days=int(d)) for d in offsets]


def _with_nulls(rng: np.random.Generator, values: list[Any], share: float) -> list[Any]:
    return [None if rng.random() < share else v for v in values]


@pytest.fixture(scope="module")
def awkward_records() -> duckdb.DuckDBPyConnection:
    """Generated standard tables (only the columns these measures read) for 600 people with
    few dates to choose from, so that same-day records, deaths at period ends and birthdays on
    them are common; leap-day births included."""
    rng = np.random.default_rng(20250331)
    people = 600
    ids = [f"pat-{i}" for i in range(people)]
    births = _days(rng, date(1940, 1, 1), date(2012, 12, 31), people)
    births[:40] = [date(1944 + 4 * (i % 17), 2, 29) for i in range(40)]
    # Turning 16, 18, 65 or 80 on a period's last day.
    births[40:80] = [date(2024 - age, 1, 31) for age in (16, 18, 65, 80) for _ in range(10)]
    deaths = [
        d if rng.random() < 0.2 else None
        for d in _days(rng, date(2021, 4, 1), date(2025, 3, 31), people)
    ]
    deaths[80:90] = [date(2023, 6, 30)] * 10  # on a period's last day

    def month_end_or_any(size: int) -> list[date]:
        days = _days(rng, date(2019, 1, 1), date(2025, 3, 31), size)
        ends = [date(d.year, d.month, 1) - timedelta(days=1) for d in days]
        return [e if rng.random() < 0.3 else d for d, e in zip(days, ends, strict=True)]

    def who(size: int) -> list[str]:
        return [ids[int(i)] for i in rng.integers(0, people, size)]

    readings = 4000
    # Few distinct days per person: same-day readings, with ids deciding the latest.
    bp_days = _with_nulls(rng, month_end_or_any(readings), 0.02)
    conditions = 1500
    answers = 3000
    tables = {
        # The breakdown columns too, empty: installing periods builds the person cells.
        "person": {"person_id": ids, "birth_date": births, "death_date": deaths}
        | {column: [None] * people for column in CELL_COLUMNS},
        "conditions": {
            "person_id": who(conditions),
            "ltc": [
                str(v) for v in rng.choice(["hypertension", "copd", "diabetes", "smi"], conditions)
            ],
            "onset_date": _with_nulls(rng, month_end_or_any(conditions), 0.05),
        },
        "care_plans": {
            "person_id": who(800),
            "category": [
                str(v) for v in rng.choice(["personalised-care-plan", "other"], 800, p=[0.7, 0.3])
            ],
            "created_date": _with_nulls(rng, month_end_or_any(800), 0.05),
        },
        "blood_pressures": {
            "person_id": who(readings),
            "observation_id": [f"bp-{i:05d}" for i in rng.permutation(readings)],
            "effective_date": bp_days,
            "systolic": rng.integers(110, 170, readings).astype(float).tolist(),
            "diastolic": rng.integers(70, 100, readings).astype(float).tolist(),
        },
        "observations": {
            "person_id": who(answers),
            "observation_id": [f"obs-{i:05d}" for i in rng.permutation(answers)],
            "code": [str(v) for v in rng.choice(["physical-activity", "67875-5"], answers)],
            "value_code": [
                str(v)
                for v in rng.choice(["active", "inactive", "employed", "unemployed"], answers)
            ],
            "effective_date": _with_nulls(rng, month_end_or_any(answers), 0.02),
        },
    }
    connection = duckdb.connect()
    connection.execute(MACROS)
    for name, columns in tables.items():
        connection.register("generated", pa.table(columns))
        connection.execute(f"CREATE TABLE {name} AS SELECT * FROM generated")
        connection.unregister("generated")
    return connection


@pytest.mark.parametrize("grain", GRAINS, ids=[g.value for g in GRAINS])
@pytest.mark.parametrize("measure_id", sorted(STRAIGHTFORWARD))
def test_same_rows_on_awkward_records(
    measure_id: str, grain: Grain, awkward_records: duckdb.DuckDBPyConnection
) -> None:
    cursor = awkward_records.cursor()
    assert _assert_same_rows(cursor, MEASURES[measure_id], grain) > 0
