"""The compiled query: one SQL statement, spelled per dialect, same rows from NDJSON and Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from views_sample import PATIENTS, VIEW

from joinedup.views.compile.view_sql import REPEAT_DEPTH, compile_view
from joinedup.views.dialects import DIALECTS
from joinedup.views.engines import ReferenceEngine
from joinedup.views.engines.duckdb import DuckDBEngine, source_relation
from joinedup.views.model import parse_view
from joinedup.views.sources import Source, dump_json


def _sql(view: dict[str, Any], dialect: str) -> str:
    relation = sqlglot.exp.to_table("resources")
    return compile_view(parse_view(view), DIALECTS[dialect], relation).sql()


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_one_statement_per_view(dialect: str) -> None:
    statements = sqlglot.parse(_sql(VIEW, dialect), read=dialect)
    assert len(statements) == 1
    assert isinstance(statements[0], sqlglot.exp.Select)


def test_dialects_spell_the_same_tree_differently() -> None:
    duck, spark = _sql(VIEW, "duckdb"), _sql(VIEW, "spark")
    assert "JSON_EXTRACT" in duck.upper() and "UNNEST" in duck.upper()
    assert "TRY_VARIANT_GET" in spark.upper() and "INLINE" in spark.upper()
    assert "JSON_EXTRACT" not in spark.upper()


def test_deep_paths_grow_linearly() -> None:
    def size(depth: int) -> int:
        path = ".".join(["a"] * depth) + ".first()"
        view = {
            "resource": "Patient",
            "select": [{"column": [{"name": "x", "path": f"a[0].{path}"}]}],
        }
        return len(_sql(view, "duckdb"))

    assert size(12) < 3 * size(4)


def test_parquet_and_ndjson_sources_give_the_same_rows(source: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    lines = [dump_json(p) for p in PATIENTS]
    duckdb.sql("SELECT unnest($lines) AS resource", params={"lines": lines}).write_parquet(
        str(parquet / "Patient.parquet")
    )
    view = parse_view(VIEW)
    from_ndjson = DuckDBEngine().rows(view, Source(source))
    from_parquet = DuckDBEngine().rows(view, Source(parquet))
    assert sorted(map(str, from_ndjson)) == sorted(map(str, from_parquet))
    assert sorted(map(str, ReferenceEngine().rows(view, Source(parquet)))) == sorted(
        map(str, from_ndjson)
    )
    assert len(from_ndjson) == 4  # p1 two names, p2 one, p3 the forEachOrNull row


def test_missing_resource_type_gives_no_rows(source: Path) -> None:
    view = parse_view({**VIEW, "resource": "Observation"})
    assert DuckDBEngine().rows(view, Source(source)) == []
    assert "WHERE FALSE" in source_relation(Source(source), "Observation").sql().upper()


def test_repeat_deeper_than_the_limit_is_an_error(tmp_path: Path) -> None:
    item: dict[str, Any] = {"linkId": "leaf"}
    for level in range(REPEAT_DEPTH + 2):
        item = {"linkId": str(level), "item": [item]}
    folder = tmp_path / "deep"
    from joinedup.views.sources import write_ndjson

    write_ndjson(folder, [{"resourceType": "QuestionnaireResponse", "id": "q", "item": [item]}])
    view = parse_view(
        {
            "resource": "QuestionnaireResponse",
            "select": [{"repeat": ["item"], "column": [{"name": "link", "path": "linkId"}]}],
        }
    )
    assert len(ReferenceEngine().rows(view, Source(folder))) == REPEAT_DEPTH + 3
    with pytest.raises(duckdb.Error, match="deeper than"):
        DuckDBEngine().rows(view, Source(folder))
