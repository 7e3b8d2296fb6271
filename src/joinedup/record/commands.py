"""``joinedup load``: NDJSON files/folders and Bundle JSON files into the record."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from joinedup.access.install import EXTENSIONS
from joinedup.config import get_settings
from joinedup.record.load import Loader, LoadProblem, LoadSummary, StopLoading, source_files
from joinedup.store import open_store
from joinedup.store.base import Store

#: Problems listed in full in the summary; the rest are counted.
SHOWN_PROBLEMS = 20


def load_command(
    sources: Annotated[
        list[Path], typer.Argument(help="NDJSON files, Bundle JSON files, or folders of them")
    ],
    db: Annotated[
        str | None,
        typer.Option(help="sqlite:///path.db or postgresql://… (default: the demo record)"),
    ] = None,
    org: Annotated[
        str | None,
        typer.Option(help="ODS code of the contributing organisation, recorded on every write"),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first bad line or Bundle")
    ] = False,
) -> None:
    """Load FHIR data into the record, with a progress bar and a summary.

    Bundle files are processed like POST /fhir: a transaction is all or nothing.

    NDJSON lines carry their ids; a bad line is reported with its file and line and skipped.

    --strict stops at the first problem. The exit code is 1 if anything was not loaded.

    Example:  joinedup load ../shared/reference/synthea-r4 --db sqlite:///record.db
    """
    console = Console(stderr=True)
    try:
        files = source_files(sources)
    except FileNotFoundError as error:
        console.print(f"[red]{error}[/red]: name existing files or folders")
        raise typer.Exit(2) from None
    if not files:
        console.print("[red]No .ndjson or .json files found[/red] in the sources given")
        raise typer.Exit(2)
    url = db or get_settings().record_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # The access extensions materialise relationships and consent on every write.
    store = open_store(url, extensions=EXTENSIONS)
    started = time.perf_counter()
    try:
        summary, stopped = load_files(store, files, console, org=org, strict=strict)
    finally:
        store.close()
    elapsed = time.perf_counter() - started
    table = Table(title="joinedup load", show_header=False)
    table.add_row("files read", f"{summary.files:,} of {len(files):,}")
    table.add_row("resources written", f"{summary.resources:,}")
    table.add_row("problems", f"{len(summary.problems):,}")
    table.add_row("time", f"{elapsed:.1f} s ({summary.resources / max(elapsed, 1e-9):,.0f}/s)")
    Console().print(table)
    if stopped is not None:
        console.print(f"[red]Stopped (--strict) at[/red] {stopped}")
        raise typer.Exit(1)
    if summary.problems:
        raise typer.Exit(1)


def load_files(
    store: Store, files: list[Path], console: Console, *, org: str | None, strict: bool
) -> tuple[LoadSummary, LoadProblem | None]:
    """Load ``files`` into ``store`` under a progress bar; the problem ``--strict`` stopped at."""
    total_bytes = sum(path.stat().st_size for path in files)
    stopped: LoadProblem | None = None
    with Progress(
        TextColumn("[bold]loading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("load", total=total_bytes)
        loader = Loader(
            store,
            writer_org=org,
            strict=strict,
            on_progress=lambda size: progress.advance(task, size),
            on_problem=lambda problem: progress.console.print(f"[yellow]{problem}[/yellow]"),
        )
        try:
            summary = loader.load(files)
        except StopLoading as stop:
            summary = loader.summary
            stopped = stop.problem
    return summary, stopped
