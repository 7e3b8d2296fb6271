"""The DuckDB engine over columnar copies of a source: runs the typed compile path on data
the tests write as NDJSON (used by the conformance suite and the agreement tests)."""

from __future__ import annotations

from typing import Any

from joinedup.views.columnar import write_columnar
from joinedup.views.engines.duckdb import DuckDBEngine
from joinedup.views.model import ViewDefinition
from joinedup.views.sources import Source


class ColumnarDuckDBEngine:
    name = "duckdb-columnar"

    def __init__(self) -> None:
        self.engine = DuckDBEngine()

    def rows(self, view: ViewDefinition, source: Source) -> list[dict[str, Any]]:
        return self.engine.rows(view, columnar_copy(source))


def columnar_copy(source: Source) -> Source:
    """``<folder>/columnar/<Type>.parquet`` from each ``<Type>.ndjson``, written once."""
    target = source.folder / "columnar"
    if not target.is_dir():
        target.mkdir()
        for ndjson in sorted(source.folder.glob("*.ndjson")):
            write_columnar(ndjson, target / f"{ndjson.stem}.parquet")
    return Source(target)
