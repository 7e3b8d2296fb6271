"""The Spark engine: the same compiled view, spelled in Spark SQL, run by PySpark.

PySpark is an optional extra (``pip install 'joinedup[spark]'``) and is imported only here.
Resources are Spark ``VARIANT`` values parsed from the NDJSON lines or the Parquet
``resource`` column. Locally the engine starts one ``local[2]`` session; pass a session to
run on a cluster.

Columnar snapshot files (:mod:`joinedup.views.columnar`) are not read column by column here:
their ``JSON`` columns reach Spark as strings, so rebuilding the resource in Spark would turn
a decimal ``1.5`` into the string ``"1.5"``. DuckDB, which wrote the file and knows those
types, copies each columnar file once per engine into the JSON-text layout (absent elements
dropped, as in the source NDJSON) and Spark parses that, exactly as for an older snapshot.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from joinedup.fhir.outcome import FHIRError
from joinedup.views.columnar import is_columnar, write_json_text
from joinedup.views.compile.view_sql import RESOURCE_COLUMN, CompiledView, compile_view
from joinedup.views.dialects import DIALECTS, call
from joinedup.views.model import ViewDefinition
from joinedup.views.sources import Source, SourceFile

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


def source_relation(found: SourceFile | None) -> exp.Expression:
    """A subquery with one ``resource`` column holding the file's resources as JSON text
    (an NDJSON file or a JSON-text Parquet file; see :class:`JsonTextCopies` for columnar)."""
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


class JsonTextCopies:
    """JSON-text copies of columnar files, made once per file version, in a temporary folder
    (inside ``staging`` if given) removed with this object."""

    def __init__(self, staging: Path | None = None) -> None:
        self._staging = staging
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._copies: dict[tuple[str, int, int, int], Path] = {}

    def readable(self, found: SourceFile | None) -> SourceFile | None:
        """``found`` itself, or for a columnar file its JSON-text copy."""
        if found is None or found.format != "parquet" or not is_columnar(found.path):
            return found
        stat = found.path.stat()
        version = (found.path.resolve().as_posix(), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        copy = self._copies.get(version)
        if copy is None:
            copy = self._target() / f"{len(self._copies)}-{found.resource_type}.parquet"
            write_json_text(found.path, copy)
            self._copies[version] = copy
        return SourceFile(found.resource_type, copy, "parquet")

    def _target(self) -> Path:
        if self._folder is None:
            if self._staging is not None:
                self._staging.mkdir(parents=True, exist_ok=True)
            self._folder = tempfile.TemporaryDirectory(prefix="joinedup-spark-", dir=self._staging)
        return Path(self._folder.name)


class SparkEngine:
    """Runs views in Spark. ``staging`` is where columnar files' JSON-text copies go: on a
    cluster, a folder every executor can read; by default a local temporary folder that lives
    as long as the engine (so collect a lazy :meth:`dataframe` before dropping the engine)."""

    name = "spark"

    def __init__(self, session: SparkSession | None = None, staging: Path | None = None) -> None:
        self._session = session
        self._copies = JsonTextCopies(staging)

    @property
    def session(self) -> SparkSession:
        if self._session is None:
            self._session = local_session()
        return self._session

    def compile(self, view: ViewDefinition, source: Source) -> CompiledView:
        found = self._copies.readable(source.file(view.resource))
        return compile_view(view, DIALECTS["spark"], source_relation(found))

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
