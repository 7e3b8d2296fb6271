"""The official SQL on FHIR v2 suite (22 files, 134 cases) on every engine.

One test per engine and suite file, so a failure names the file and lists every failing case.
``duckdb`` reads each file's NDJSON typed by the R4 definitions (the JSON path where a view
uses the resource whole); ``duckdb-columnar`` runs DuckDB over columnar Parquet copies of each
file's resources (typed by their schema). The Spark cases run on the one shared session
(``spark`` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from columnar_duckdb import ColumnarDuckDBEngine
from joinedup.views.conformance import report, run_suite_file
from joinedup.views.engines import Engine, ReferenceEngine
from joinedup.views.engines.duckdb import DuckDBEngine

SUITE_FILES = [
    "basic", "collection", "combinations", "constant", "constant_types", "fhirpath",
    "fhirpath_numbers", "fn_boundary", "fn_empty", "fn_extension", "fn_first", "fn_join",
    "fn_oftype", "fn_reference_keys", "foreach", "logic", "repeat", "row_index", "union",
    "validate", "view_resource", "where",
]  # fmt: skip


@pytest.fixture(scope="module")
def suite_dir(reference_dir: Path) -> Path:
    return reference_dir / "sql-on-fhir-v2" / "tests"


def _check(engine: Engine, path: Path, scratch: Path) -> None:
    results = run_suite_file(path, engine, scratch)
    failures = [f"{r.name}: {r.error}" for r in results if not r.passed]
    assert not failures, "\n".join(failures)
    assert results


def test_suite_has_134_cases(suite_dir: Path) -> None:
    files = sorted(p.stem for p in suite_dir.glob("*.json"))
    assert files == sorted(SUITE_FILES)
    cases = sum(len(json.loads(p.read_text())["tests"]) for p in suite_dir.glob("*.json"))
    assert cases == 134


@pytest.mark.parametrize("name", SUITE_FILES)
def test_reference(name: str, suite_dir: Path, tmp_path: Path) -> None:
    _check(ReferenceEngine(), suite_dir / f"{name}.json", tmp_path)


@pytest.mark.parametrize("name", SUITE_FILES)
def test_duckdb(name: str, suite_dir: Path, tmp_path: Path) -> None:
    _check(DuckDBEngine(), suite_dir / f"{name}.json", tmp_path)


@pytest.mark.parametrize("name", SUITE_FILES)
def test_duckdb_columnar(name: str, suite_dir: Path, tmp_path: Path) -> None:
    _check(ColumnarDuckDBEngine(), suite_dir / f"{name}.json", tmp_path)


@pytest.mark.spark
@pytest.mark.parametrize("name", SUITE_FILES)
def test_spark(name: str, suite_dir: Path, tmp_path: Path, spark: Any) -> None:
    from joinedup.views.engines.spark import SparkEngine

    _check(SparkEngine(spark), suite_dir / f"{name}.json", tmp_path)


def test_report_follows_the_official_schema(suite_dir: Path, tmp_path: Path) -> None:
    schema = json.loads((suite_dir.parent / "test-report.schema.json").read_text())
    results = run_suite_file(suite_dir / "basic.json", DuckDBEngine(), tmp_path)
    results += run_suite_file(suite_dir / "validate.json", DuckDBEngine(), tmp_path)
    document = report(results)
    jsonschema.validate(document, schema)
    assert set(document) == {"basic.json", "validate.json"}
    assert len(document["basic.json"]["tests"]) == 11


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The comparison really compares: a suite whose expectation is wrong is reported failed."""
    suite: dict[str, Any] = {
        "title": "wrong",
        "resources": [{"resourceType": "Patient", "id": "p1"}],
        "tests": [
            {
                "title": "wrong id",
                "view": {
                    "resource": "Patient",
                    "select": [{"column": [{"name": "id", "path": "id"}]}],
                },
                "expect": [{"id": "p2"}],
            },
            {
                "title": "error expected but none",
                "view": {
                    "resource": "Patient",
                    "select": [{"column": [{"name": "id", "path": "id"}]}],
                },
                "expectError": True,
            },
        ],
    }
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(suite))
    for engine in (ReferenceEngine(), DuckDBEngine()):
        results = run_suite_file(path, engine, tmp_path / engine.name)
        assert [r.passed for r in results] == [False, False]
