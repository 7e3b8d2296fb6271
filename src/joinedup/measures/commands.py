"""``joinedup measures``: compute the outcomes framework over a snapshot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from joinedup.fhir.outcome import FHIRError
from joinedup.measures.compute import compute_measures
from joinedup.measures.compute.aggregate import MeasureSQLError
from joinedup.measures.compute.run import RunSummary
from joinedup.measures.definitions import Grain, MeasureDefinitionError, load_library
from joinedup.measures.definitions.loader import STARTER_LIBRARY

measures_app = typer.Typer(
    help="The shared outcomes framework: compute measures for the dashboard.", no_args_is_help=True
)


@measures_app.command("run")
def run_command(
    source: Annotated[
        Path,
        typer.Option(
            "--source", help="Snapshot or synthetic-data folder (<Type>.ndjson / .parquet)."
        ),
    ],
    library: Annotated[
        Path, typer.Option("--library", help="Folder of measure YAML files.")
    ] = STARTER_LIBRARY,
    out: Annotated[Path, typer.Option("--out", help="Where to write the result tables.")] = Path(
        "measures-out"
    ),
    grain: Annotated[
        Grain | None, typer.Option("--grain", help="Override every measure's period grain.")
    ] = None,
) -> None:
    """Compute every measure (statistics, SPC, funnels, disclosure control) into --out.

    Example:  joinedup measures run --source synthetic-ics --out measures-out
    """
    console = Console(stderr=True)
    try:
        measures = load_library(library)
        summary = compute_with_progress(
            source, out, library, grain, measures_count=len(measures), console=console
        )
    except (MeasureDefinitionError, MeasureSQLError, FHIRError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    Console().print(
        f"{summary.measures} measures, {summary.result_rows:,} result rows "
        f"({summary.first_period} to {summary.last_period}) written to {summary.out}"
    )


def compute_with_progress(
    source: Path,
    out: Path,
    library: Path,
    grain: Grain | None,
    *,
    measures_count: int,
    console: Console,
) -> RunSummary:
    """:func:`compute_measures` under a progress bar (one step per measure)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Building views", total=measures_count + 2)

        def step(name: str) -> None:
            label = {"views": "Building views", "writing": "Writing results"}.get(
                name, f"Measure {name}"
            )
            progress.update(task, description=label)
            progress.advance(task)

        return compute_measures(source, out, library=library, grain=grain, on_step=step)
