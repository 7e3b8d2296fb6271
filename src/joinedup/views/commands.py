"""``joinedup views …``: run ViewDefinitions and the SQL on FHIR conformance suite."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from joinedup.fhir.outcome import FHIRError
from joinedup.views.engines.reference import ViewRunError

views_app = typer.Typer(
    help="SQL on FHIR v2 ViewDefinitions: flatten FHIR into tables (DuckDB, Spark, reference).",
    no_args_is_help=True,
)
_err = Console(stderr=True)


class EngineName(StrEnum):
    reference = "reference"
    duckdb = "duckdb"
    spark = "spark"


def _fail(exc: Exception) -> typer.Exit:
    if isinstance(exc, FHIRError):
        where = f" (at {', '.join(exc.expression)})" if exc.expression else ""
        _err.print(f"[red]error:[/red] {exc.diagnostics}{where}", markup=True, highlight=False)
    else:
        _err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(code=2)


@views_app.command("run")
def run_command(
    view_file: Annotated[
        Path, typer.Argument(metavar="VIEW.json", help="ViewDefinition JSON file.")
    ],
    source: Annotated[
        Path, typer.Option("--source", help="Folder of <Type>.ndjson or <Type>.parquet files.")
    ],
    engine: Annotated[
        EngineName, typer.Option("--engine", help="Where the view runs.")
    ] = EngineName.duckdb,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write rows to FILE.csv, FILE.parquet or FILE.json (default: CSV on stdout).",
        ),
    ] = None,
) -> None:
    """Run one ViewDefinition over a snapshot or synthetic-data folder.

    Example:  joinedup views run patients.json --source snapshot/ --out patients.parquet
    """
    from joinedup.views.api import load_view, to_arrow, write_output

    try:
        view = load_view(view_file)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=_err, transient=True
        ) as bar:
            bar.add_task(f"running {view.name or view_file.name} on {engine.value}")
            if out is not None:
                count = write_output(view, source, out, engine.value)
            else:
                table = to_arrow(view, source, engine.value)
        if out is not None:
            _err.print(f"{count} rows written to {out}")
            return
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, sys.stdout.buffer)
    except (FHIRError, ViewRunError, ValueError) as exc:
        raise _fail(exc) from None
    except Exception as exc:  # engine errors raised by SQL (error()/raise_error()) on bad data
        raise _fail(exc) from None


@views_app.command("conformance")
def conformance_command(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="The suite's tests/ folder (*.json).")
    ],
    engine: Annotated[
        EngineName, typer.Option("--engine", help="Engine to test.")
    ] = EngineName.duckdb,
    report_file: Annotated[
        Path | None, typer.Option("--report", metavar="FILE", help="Write test_report.json here.")
    ] = None,
) -> None:
    """Run the official SQL on FHIR v2 test suite and report passes per file.

    Example:

        joinedup views conformance ../shared/reference/sql-on-fhir-v2/tests --report report.json
    """
    from joinedup.views.conformance import report, run_conformance, suite_files
    from joinedup.views.engines import get_engine

    try:
        chosen = get_engine(engine.value)
        files = suite_files(folder)
        with Progress(console=_err, transient=True) as bar:
            task = bar.add_task(f"conformance on {engine.value}", total=len(files))

            def advance(name: str) -> None:
                bar.update(task, description=f"{engine.value}: {name}", advance=1)

            results = run_conformance(folder, chosen, progress=advance)
    except FHIRError as exc:
        raise _fail(exc) from None
    passed = sum(result.passed for result in results)
    for result in results:
        if not result.passed:
            _err.print(f"FAIL {result.suite} · {result.name}: {result.error}", highlight=False)
    typer.echo(f"{engine.value}: {passed}/{len(results)} passed")
    if report_file is not None:
        report_file.write_text(json.dumps(report(results), indent=2) + "\n", encoding="utf-8")
        typer.echo(f"report written to {report_file}")
    if passed != len(results):
        raise typer.Exit(code=1)
