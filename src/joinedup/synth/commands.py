"""``joinedup synth``: the command-line face of the generator."""

from __future__ import annotations

import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer._click import core as click_core  # Typer 0.29 vendors Click: its own classes
from typer._click import exceptions as click_errors
from typer.core import TyperCommand

from joinedup.synth.errors import SynthInputError
from joinedup.synth.generator import SynthOptions, SynthSummary, generate, validate
from joinedup.synth.runner import Chunk, default_workers


class OneLineErrors(TyperCommand):
    """Usage errors (unknown options, bad values) as one line on stderr and exit code 2."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click_core.Context | None = None,
        **extra: Any,
    ) -> click_core.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click_errors.UsageError as exc:
            command = f"{parent.info_name} {info_name}" if parent is not None else info_name
            print(f"Error: {exc.format_message()} (see: {command} --help)", file=sys.stderr)
            raise SystemExit(2) from None


class OutputFormat(StrEnum):
    ndjson = "ndjson"
    bundles = "bundles"


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SynthInputError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


def run_with_progress(options: SynthOptions, console: Console) -> SynthSummary:
    validate(options)  # fail before the progress bar draws anything
    with Progress(
        TextColumn("[bold]Generating people"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("people", total=options.people)

        def advance(chunk: Chunk) -> None:
            progress.advance(task, chunk.stop - chunk.first)

        return generate(options, on_chunk=advance)


def summary_table(summary: SynthSummary) -> Table:
    table = Table(title=f"Synthetic ICS in {summary.out}", show_header=True)
    table.add_column("File")
    table.add_column("Lines", justify="right")
    for kind, count in summary.counts.items():
        table.add_row(f"{kind}.ndjson", f"{count:,}")
    return table


def fail(message: str) -> typer.Exit:
    print(f"Error: {message}", file=sys.stderr)
    return typer.Exit(2)


def synth_command(
    people: Annotated[
        int, typer.Option("--people", help="How many people to generate (at most 900,000).")
    ],
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: same seed and options, same bytes.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory (must be new or empty).")],
    places: Annotated[
        int, typer.Option("--places", help="Number of Places (local-authority footprints).")
    ] = 3,
    start: Annotated[
        str, typer.Option("--start", help="First day of activity (YYYY-MM-DD).")
    ] = "2021-04-01",
    end: Annotated[
        str, typer.Option("--end", help="Last day of activity (YYYY-MM-DD).")
    ] = "2025-03-31",
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="ndjson: a file per resource type; bundles: a transaction Bundle per person.",
        ),
    ] = OutputFormat.ndjson,
    imd: Annotated[
        Path | None,
        typer.Option("--imd", help="The English IMD 2019 LSOA CSV: use real LSOAs and deciles."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a non-empty output directory.")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes to use (default: all cores).")
    ] = 0,
) -> None:
    """Generate a synthetic Integrated Care System as FHIR R4.

    Example:  joinedup synth --people 3000 --seed 7 --out synthetic-ics
    """
    console = Console(stderr=True)
    try:
        options = SynthOptions(
            people=people,
            seed=seed,
            out=out,
            places=places,
            start=parse_date(start, "--start"),
            end=parse_date(end, "--end"),
            output_format=output_format.value,
            imd=imd,
            force=force,
            workers=workers or default_workers(),
        )
        summary = run_with_progress(options, console)
    except SynthInputError as exc:
        raise fail(str(exc)) from None
    Console().print(summary_table(summary))
