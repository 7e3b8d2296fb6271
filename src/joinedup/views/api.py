"""Running views from Python (notebooks, measures) and writing their results.

>>> from joinedup.views import load_view, to_arrow
>>> table = to_arrow(load_view("patients.json"), "snapshot/")      # doctest: +SKIP

The view is validated when loaded, so errors name their place in the ViewDefinition before
any data is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from joinedup.fhir.outcome import FHIRError
from joinedup.views.engines import get_engine
from joinedup.views.engines.duckdb import DuckDBEngine
from joinedup.views.model import ViewDefinition, parse_view
from joinedup.views.sources import Source

if TYPE_CHECKING:
    import pandas
    import pyarrow

OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".ndjson": "ndjson"}


def load_view(view: str | Path | dict[str, Any]) -> ViewDefinition:
    """A validated view from a ViewDefinition JSON file or an already decoded dict."""
    if isinstance(view, dict):
        return parse_view(view)
    path = Path(view)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FHIRError(f"no ViewDefinition file at {path}", code="not-found", status=404) from exc
    except json.JSONDecodeError as exc:
        raise FHIRError(f"{path} is not valid JSON: {exc}", expression="ViewDefinition") from exc
    return parse_view(data)


def to_relation(
    view: ViewDefinition,
    source: str | Path | Source,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyRelation:
    """The view as a lazy DuckDB relation over the source folder."""
    return DuckDBEngine(connection).relation(view, _source(source))


def to_arrow(
    view: ViewDefinition, source: str | Path | Source, engine: str = "duckdb"
) -> pyarrow.Table:
    """The view's rows as an Arrow table (columns in view order)."""
    found = _source(source)
    if engine == "duckdb":
        return DuckDBEngine().arrow(view, found)
    if engine == "spark":
        from joinedup.views.engines.spark import SparkEngine

        return SparkEngine().dataframe(view, found).toArrow()
    import pyarrow as pa

    rows = get_engine(engine).rows(view, found)
    return (
        pa.Table.from_pylist(rows).select(list(view.column_names)) if rows else _empty_table(view)
    )


def to_pandas(
    view: ViewDefinition, source: str | Path | Source, engine: str = "duckdb"
) -> pandas.DataFrame:
    """The view's rows as a pandas DataFrame (needs pandas installed)."""
    try:
        import pandas  # noqa: F401
    except ImportError as exc:
        raise FHIRError("to_pandas needs pandas: pip install pandas", code="not-supported") from exc
    return to_arrow(view, source, engine).to_pandas()


def write_output(
    view: ViewDefinition,
    source: str | Path | Source,
    out: Path,
    engine: str = "duckdb",
    *,
    limit: int | None = None,
    header: bool = True,
) -> int:
    """Write the rows to ``out`` (.csv, .parquet, .json: an array of row objects, or .ndjson:
    one object per line); returns the number of rows written. ``limit`` caps the rows;
    ``header=False`` leaves the header line out of a CSV."""
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise FHIRError(
            f"cannot write {out.name}: use a .csv, .parquet, .json or .ndjson file name"
        )
    options = {
        "csv": f"FORMAT csv, HEADER {'true' if header else 'false'}",
        "parquet": "FORMAT parquet",
        "json": "FORMAT json, ARRAY true",
        "ndjson": "FORMAT json",
    }[fmt]
    connection = duckdb.connect()
    target = out.as_posix().replace("'", "''")
    if engine == "duckdb":
        query = DuckDBEngine(connection).compile(view, _source(source)).sql()
    else:
        table = to_arrow(view, source, engine)
        connection.register("view_rows", table)
        query = "SELECT * FROM view_rows"
    if limit is not None:
        query = f"SELECT * FROM ({query}) LIMIT {int(limit)}"  # noqa: S608
    written = connection.execute(f"COPY ({query}) TO '{target}' ({options})").fetchall()
    return int(written[0][0])


def _source(source: str | Path | Source) -> Source:
    return source if isinstance(source, Source) else Source.open(source)


def _empty_table(view: ViewDefinition) -> pyarrow.Table:
    import pyarrow as pa

    return pa.table({name: pa.array([], pa.string()) for name in view.column_names})
