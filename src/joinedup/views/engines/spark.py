"""The Spark engine: the same compiled view, spelled in Spark SQL, run by PySpark.

PySpark is an optional extra (``pip install 'joinedup[spark]'``) and is imported only here.
Resources are Spark ``VARIANT`` values parsed from the NDJSON lines or the Parquet
``resource`` column. Locally the engine starts one ``local[2]`` session; pass a session to
run on a cluster.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from joinedup.fhir.outcome import FHIRError
from joinedup.views.compile.view_sql import RESOURCE_COLUMN, CompiledView, compile_view
from joinedup.views.dialects import DIALECTS, call
from joinedup.views.model import ViewDefinition
from joinedup.views.sources import Source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def local_session(cores: int = 2) -> SparkSession:
    """A quiet local Spark session (no UI, few shuffle partitions: sized for one machine)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise FHIRError(
            "the spark engine needs PySpark and Java 17: pip install 'joinedup[spark]'",
            code="not-supported",
            status=501,
        ) from exc
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("joinedup-views")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("OFF")
    # PySpark logs every failed query's context itself; errors still reach the caller.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL + 1)
    return session


def source_relation(source: Source, resource_type: str) -> exp.Expression:
    """A subquery with one ``resource`` column holding the type's resources as JSON text."""
    found = source.file(resource_type)
    if found is None:
        empty = exp.select(exp.alias_(exp.cast(exp.Null(), "STRING"), RESOURCE_COLUMN))
        return empty.where(exp.false()).subquery("resources")
    path = found.path.resolve().as_posix()
    if "`" in path:
        raise FHIRError(f"the spark engine cannot read paths containing a backtick: {path}")
    reader = "text" if found.format == "ndjson" else "parquet"
    table = exp.Table(this=exp.to_identifier(path, quoted=True), db=exp.to_identifier(reader))
    column = exp.column("value") if reader == "text" else exp.column(RESOURCE_COLUMN)
    return exp.select(exp.alias_(column, RESOURCE_COLUMN)).from_(table).subquery("resources")


class SparkEngine:
    name = "spark"

    def __init__(self, session: SparkSession | None = None) -> None:
        self._session = session

    @property
    def session(self) -> SparkSession:
        if self._session is None:
            self._session = local_session()
        return self._session

    def compile(self, view: ViewDefinition, source: Source) -> CompiledView:
        return compile_view(view, DIALECTS["spark"], source_relation(source, view.resource))

    def dataframe(self, view: ViewDefinition, source: Source) -> DataFrame:
        return self.session.sql(self.compile(view, source).sql())

    def rows(self, view: ViewDefinition, source: Source) -> list[dict[str, Any]]:
        return [row.asDict(recursive=True) for row in self.dataframe(view, source).collect()]

    def rows_batch(
        self, views: list[ViewDefinition], source: Source
    ) -> list[list[dict[str, Any]] | Exception]:
        """Several views in one Spark job (each row as JSON, tagged with its view); if any
        view fails, they run one by one so the error is pinned on the right view."""
        if not views:
            return []
        parts = []
        for index, view in enumerate(views):
            compiled = self.compile(view, source)
            row = DIALECTS["spark"].struct(
                [(name, exp.column(name, quoted=True)) for name in compiled.columns]
            )
            parts.append(
                exp.select(
                    exp.alias_(exp.Literal.number(index), "view_index"),
                    exp.alias_(call("to_json", row), "row_json"),
                ).from_(
                    exp.Subquery(
                        this=compiled.query,
                        alias=exp.TableAlias(this=exp.to_identifier(f"view{index}")),
                    )
                )
            )
        union: exp.Expression = parts[0]
        for part in parts[1:]:
            union = exp.union(union, part, distinct=False)
        try:
            collected = self.session.sql(union.sql(dialect="spark")).collect()
        except Exception:
            return [self._rows_or_error(view, source) for view in views]
        out: list[list[dict[str, Any]] | Exception] = [[] for _ in views]
        for record in collected:
            values = json.loads(record["row_json"])
            names = views[record["view_index"]].column_names
            rows = out[record["view_index"]]
            assert isinstance(rows, list)
            rows.append({name: values.get(name) for name in names})
        return out

    def _rows_or_error(
        self, view: ViewDefinition, source: Source
    ) -> list[dict[str, Any]] | Exception:
        try:
            return self.rows(view, source)
        except Exception as exc:  # Spark raises its own types for raise_error() and analysis
            return exc
