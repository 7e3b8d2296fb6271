"""One small synthetic ICS, generated and measured once per session for every measures spec."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from joinedup.export.disclosure import DisclosureRule
from joinedup.measures.compute import compute_measures
from joinedup.synth.generator import SynthOptions, generate


@pytest.fixture(scope="session")
def synthetic_ics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ics") / "source"
    out.mkdir()
    generate(SynthOptions(people=2000, seed=11, out=out, workers=1))
    return out


@pytest.fixture(scope="session")
def standard_tables(synthetic_ics: Path) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection the measures ran in, holding the standard tables."""
    return duckdb.connect()


@pytest.fixture(scope="session")
def unsuppressed_results(
    synthetic_ics: Path,
    standard_tables: duckdb.DuckDBPyConnection,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """Measures without suppression (suppress_below=1, round_to=1) so every estimate can be
    checked; publication with suppression is covered by the disclosure specs."""
    out = tmp_path_factory.mktemp("measures")
    rule = DisclosureRule(suppress_below=1, round_to=1)
    compute_measures(synthetic_ics, out, rule=rule, connection=standard_tables)
    return out


@pytest.fixture(scope="session")
def result_rows(unsuppressed_results: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = pq.read_table(
        unsuppressed_results / "results.parquet"
    ).to_pylist()
    return rows
