"""The standard ICS views over the synthetic ICS: shapes, invariants, and agreement of the
DuckDB tables with the reference engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from joinedup.measures.compute.aggregate import MeasureSQLError, aggregate, install_periods
from joinedup.measures.compute.periods import Period
from joinedup.measures.definitions import load_library
from joinedup.views.engines import get_engine
from joinedup.views.library import STANDARD_TABLES, VIEW_NAMES, library_view, library_view_json
from joinedup.views.sources import Source


@pytest.fixture(scope="module")
def tables(
    standard_tables: duckdb.DuckDBPyConnection, unsuppressed_results: Path
) -> duckdb.DuckDBPyConnection:
    return standard_tables  # filled by the measures run


def scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return connection.execute(sql).fetchall()[0][0]


def test_every_view_is_shipped_and_valid() -> None:
    assert {"patients", "encounters", "observations", "episodes", "referrals", "consents"} <= set(
        VIEW_NAMES
    )
    for name in VIEW_NAMES:
        view = library_view(name)
        assert view.name == name
        assert all(
            c.get("description") for s in library_view_json(name)["select"] for c in s["column"]
        )


def test_every_standard_table_exists(tables: duckdb.DuckDBPyConnection) -> None:
    present = {
        row[0] for row in tables.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    }
    assert set(STANDARD_TABLES) <= present


def test_person_has_the_hierarchy_and_deprivation(
    tables: duckdb.DuckDBPyConnection, synthetic_ics: Path
) -> None:
    patients = sum(1 for line in (synthetic_ics / "Patient.ndjson").open() if line.strip())
    assert scalar(tables, "SELECT count(*) FROM person") == patients
    assert (
        scalar(tables, "SELECT count(*) FROM person WHERE place_id IS NULL OR pcn_id IS NULL") == 0
    )
    assert (
        scalar(tables, "SELECT min(imd_quintile) || '-' || max(imd_quintile) FROM person") == "1-5"
    )
    assert (
        scalar(tables, "SELECT count(*) FROM person WHERE imd_quintile <> (imd_decile + 1) // 2")
        == 0
    )
    assert scalar(tables, "SELECT count(DISTINCT ethnic_group) FROM person") >= 3
    assert scalar(tables, "SELECT count(*) FROM person WHERE death_date IS NOT NULL") > 0


def test_one_row_per_person_and_condition(tables: duckdb.DuckDBPyConnection) -> None:
    assert scalar(tables, "SELECT count(*) - count(DISTINCT (person_id, ltc)) FROM conditions") == 0
    assert scalar(tables, "SELECT count(DISTINCT ltc) FROM conditions") >= 10


def test_admissions_carry_discharge_destination(tables: duckdb.DuckDBPyConnection) -> None:
    destinations = {
        r[0]
        for r in tables.execute("SELECT DISTINCT discharge_destination FROM admissions").fetchall()
    }
    assert "19" in destinations and None not in destinations
    assert scalar(tables, "SELECT count(*) FROM admissions WHERE length_of_stay < 0") == 0
    assert scalar(tables, "SELECT count(*) FROM admissions WHERE emergency") > 0


def test_latest_observation_per_code(tables: duckdb.DuckDBPyConnection) -> None:
    duplicates = """SELECT count(*) - count(DISTINCT (person_id, code_system, code))
                    FROM observations_latest"""
    assert scalar(tables, duplicates) == 0
    later = """SELECT count(*) FROM observations AS o JOIN observations_latest AS l
               USING (person_id, code_system, code) WHERE o.effective_date > l.effective_date"""
    assert scalar(tables, later) == 0


def test_episodes_referrals_and_consents(tables: duckdb.DuckDBPyConnection) -> None:
    kinds = {r[0] for r in tables.execute("SELECT DISTINCT kind FROM episodes").fetchall()}
    assert {"community-rehabilitation", "reablement", "long-term-care-home"} <= kinds
    assert (
        scalar(tables, "SELECT count(*) FROM referrals WHERE category = 'community-rehabilitation'")
        > 0
    )
    assert (
        scalar(tables, "SELECT count(*) FROM consents WHERE category = 'national-data-opt-out'") > 0
    )


@pytest.mark.parametrize("name", ["patients", "episodes", "consents"])
def test_duckdb_table_matches_reference_engine(
    name: str, tables: duckdb.DuckDBPyConnection, synthetic_ics: Path
) -> None:
    view = library_view(name)
    reference = get_engine("reference").rows(view, Source.open(synthetic_ics))
    key = view.columns[0].name
    ours = {r[0]: r for r in tables.execute(f'SELECT * FROM "{name}"').fetchall()}
    assert len(ours) == len(reference)
    for row in reference:
        mine = ours[row[key]]
        as_text = [None if v is None else str(v)[:10] for v in row.values()]
        assert [None if v is None else str(v)[:10] for v in mine] == as_text


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT period_start, person_id FROM no_such_table", "numerator: Catalog Error"),
        ("SELECT period_start FROM periods", "numerator: the query must return person_id"),
    ],
)
def test_bad_measure_sql_names_the_measure_and_side(
    tables: duckdb.DuckDBPyConnection, sql: str, message: str
) -> None:
    measure = load_library()[0].model_copy(update={"numerator": sql})
    install_periods(tables, [Period(date(2024, 4, 1), date(2024, 4, 30))])
    with pytest.raises(MeasureSQLError, match=f"{measure.id}: {message}"):
        aggregate(tables, measure, ["ics"])
