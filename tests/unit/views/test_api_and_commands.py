"""Python API (relation / Arrow / pandas) and the ``joinedup views`` commands."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner
from views_sample import VIEW

from joinedup.cli import app
from joinedup.fhir.outcome import FHIRError
from joinedup.views import load_view, to_arrow, to_relation
from joinedup.views.model import ViewError

runner = CliRunner()


@pytest.fixture
def view_file(tmp_path: Path) -> Path:
    path = tmp_path / "view.json"
    path.write_text(json.dumps(VIEW))
    return path


def test_relation_and_arrow(source: Path) -> None:
    view = load_view(VIEW)
    relation = to_relation(view, source)
    assert isinstance(relation, duckdb.DuckDBPyRelation)
    assert relation.columns == ["id", "family", "given", "n"]
    table = to_arrow(view, source)
    assert table.column_names == ["id", "family", "given", "n"]
    rows = sorted(table.to_pylist(), key=lambda r: (r["id"], r["n"]))
    assert rows[0] == {"id": "p1", "family": "Ng", "given": "Ana B", "n": 0}
    assert rows[1] == {"id": "p1", "family": "Old", "given": "", "n": 1}
    # forEachOrNull's row evaluates its own columns over nothing: paths are null, join() is ''
    assert rows[-1] == {"id": "p3", "family": None, "given": "", "n": 0}
    reference = to_arrow(view, source, engine="reference").to_pylist()
    assert sorted(map(str, reference)) == sorted(map(str, table.to_pylist()))


def test_pandas_when_installed(source: Path) -> None:
    pytest.importorskip("pandas")
    from joinedup.views import to_pandas

    frame = to_pandas(load_view(VIEW), source)
    assert list(frame.columns) == ["id", "family", "given", "n"]
    assert len(frame) == 4


def test_bad_view_file_errors_name_the_place(tmp_path: Path) -> None:
    with pytest.raises(FHIRError, match="no ViewDefinition file"):
        load_view(tmp_path / "absent.json")
    with pytest.raises(ViewError) as caught:
        load_view(
            {**VIEW, "select": [{"forEach": "name.nope()", "column": [{"name": "a", "path": "a"}]}]}
        )
    assert caught.value.expression == ["ViewDefinition.select[0].forEach"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_run_writes_each_format(view_file: Path, source: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"rows{suffix}"
    result = runner.invoke(
        app, ["views", "run", str(view_file), "--source", str(source), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "4 rows written" in result.output
    if suffix == ".csv":
        rows = list(csv.DictReader(out.open()))
    elif suffix == ".json":
        rows = json.loads(out.read_text())
    else:
        rows = duckdb.sql(f"SELECT * FROM '{out}'").fetchall()
    assert len(rows) == 4


def test_run_prints_csv_and_uses_the_chosen_engine(view_file: Path, source: Path) -> None:
    result = runner.invoke(
        app, ["views", "run", str(view_file), "--source", str(source), "--engine", "reference"]
    )
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(result.stdout)))
    assert lines[0] == ["id", "family", "given", "n"]
    assert len(lines) == 5


def test_run_reports_view_errors_before_reading_data(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**VIEW, "where": [{"path": "name.family.bogus()"}]}))
    result = runner.invoke(app, ["views", "run", str(bad), "--source", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "ViewDefinition.where[0].path" in result.output
    assert "bogus" in result.output


def test_conformance_command_writes_the_report(reference_dir: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("basic.json", "union.json"):
        (suite / name).write_bytes((reference_dir / "sql-on-fhir-v2" / "tests" / name).read_bytes())
    report = tmp_path / "test_report.json"
    result = runner.invoke(
        app, ["views", "conformance", str(suite), "--engine", "duckdb", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "duckdb: 21/21 passed" in result.output
    assert set(json.loads(report.read_text())) == {"basic.json", "union.json"}
