"""Where a view runs: ``reference`` (pure Python), ``duckdb`` (embedded), ``spark`` (scale-out).

All engines take a validated :class:`~joinedup.views.model.ViewDefinition` and a
:class:`~joinedup.views.sources.Source` and return the same rows; the SQL engines share one
compiler and differ only in dialect and in how they execute.
"""

from __future__ import annotations

from typing import Any, Protocol

from joinedup.views.model import ViewDefinition
from joinedup.views.sources import Source

ENGINES = ("reference", "duckdb", "spark")


class Engine(Protocol):
    name: str

    def rows(self, view: ViewDefinition, source: Source) -> list[dict[str, Any]]:
        """All rows of the view over the source, as dicts in column order."""
        ...


class ReferenceEngine:
    name = "reference"

    def rows(self, view: ViewDefinition, source: Source) -> list[dict[str, Any]]:
        from joinedup.views.engines.reference import run_reference

        return list(run_reference(view, source.read(view.resource)))


def run_many(
    engine: Engine, views: list[ViewDefinition], source: Source
) -> list[list[dict[str, Any]] | Exception]:
    """Rows of each view, or the error it raised. Engines with a per-query start-up cost
    (Spark schedules a job per query) run the views as one batch when they can."""
    batch = getattr(engine, "rows_batch", None)
    if batch is not None:
        result: list[list[dict[str, Any]] | Exception] = batch(views, source)
        return result
    outcomes: list[list[dict[str, Any]] | Exception] = []
    for view in views:
        try:
            outcomes.append(engine.rows(view, source))
        except Exception as exc:  # each engine raises its own error types for bad data
            outcomes.append(exc)
    return outcomes


def get_engine(name: str) -> Engine:
    """An engine by name; pyspark is imported only when ``spark`` is asked for."""
    if name == "reference":
        return ReferenceEngine()
    if name == "duckdb":
        from joinedup.views.engines.duckdb import DuckDBEngine

        return DuckDBEngine()
    if name == "spark":
        from joinedup.views.engines.spark import SparkEngine

        return SparkEngine()
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
