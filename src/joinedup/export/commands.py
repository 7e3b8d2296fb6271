"""``joinedup snapshot``: a de-identified (or, audited, identifiable) snapshot for analytics."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from joinedup.config import get_settings
from joinedup.export.deidentify import DatePrecision, Deidentification
from joinedup.export.pseudonyms import MissingPseudonymKey, Pseudonymiser
from joinedup.export.snapshot import SnapshotResult, write_snapshot
from joinedup.export.sources import FolderSource, ResourceSource, StoreSource
from joinedup.export.writers import Format
from joinedup.fhir.outcome import FHIRError
from joinedup.store import Store, open_store

DICOM = "http://dicom.nema.org/resources/ontology/DCM"


def snapshot_command(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write (replaced if it holds a snapshot).")
    ],
    db: Annotated[
        str | None,
        typer.Option("--db", help="Record store URL (default: the configured record)."),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option("--folder", help="Read <Type>.ndjson/.parquet files here instead of a store."),
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="parquet or ndjson.")] = "parquet",
    identifiable: Annotated[
        bool,
        typer.Option(
            "--identifiable",
            help="Direct-care cohorts only: no de-identification. Needs "
            "JOINEDUP_ALLOW_IDENTIFIABLE=true and is audited in the record.",
        ),
    ] = False,
    birth_date: Annotated[
        DatePrecision, typer.Option("--birth-date", help="Keep birth dates to the month or year.")
    ] = "month",
) -> None:
    """Write a snapshot of the record for analytics: one file per resource type + manifest.json.

    By default people with a national data opt-out are removed with everything about them,
    direct identifiers are removed, Patient ids become keyed pseudonyms (JOINEDUP_PSEUDONYM_KEY)
    and birth/death dates are cut to the month.

    Example:  joinedup snapshot --out snapshots/2026-11 --format parquet
    """
    settings = get_settings()
    console = Console(stderr=True, soft_wrap=True)
    if db is not None and folder is not None:
        _fail("give either --db or --folder, not both")
    if identifiable and folder is not None:
        _fail("identifiable snapshots come from the record (--db), where they are audited")
    if identifiable and not settings.allow_identifiable:
        _fail(
            "identifiable snapshots are off: set JOINEDUP_ALLOW_IDENTIFIABLE=true for this "
            "deployment if direct-care cohorts need them (every one is audited)"
        )
    deidentification = None
    if not identifiable:
        try:
            pseudonymiser = Pseudonymiser.from_settings(settings)
        except MissingPseudonymKey as exc:
            _fail(str(exc))
        deidentification = Deidentification(pseudonymiser, birth_date=birth_date)

    store: Store | None = None
    try:
        source: ResourceSource
        if folder is not None:
            source = FolderSource(folder)
        else:
            url = db or settings.record_url()
            _check_sqlite_exists(url)
            store = open_store(url)
            source = StoreSource(store)
        result = snapshot_with_progress(console, source, out, format, deidentification)
        if identifiable and store is not None:
            store.create(_audit_event(out, result))
    except FHIRError as exc:
        _fail(exc.diagnostics)
    finally:
        if store is not None:
            store.close()
    total = sum(result.counts.values())
    kind = "identifiable" if identifiable else "de-identified"
    console.print(f"[green]Wrote[/] a {kind} snapshot of {total:,} resources to {out}")
    if result.manifest["optOut"]:
        removed = result.manifest["optOut"]
        console.print(
            f"National data opt-out: {removed['peopleRemoved']:,} people and "
            f"{removed['resourcesRemoved']:,} resources removed"
        )


def snapshot_with_progress(
    console: Console,
    source: ResourceSource,
    out: Path,
    format: Format,
    deidentification: Deidentification | None,
) -> SnapshotResult:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,}"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("reading", total=None)

        def advance(resource_type: str, read: int) -> None:
            progress.update(task, description=f"{resource_type} resources", advance=read)

        return write_snapshot(
            source, out, format=format, deidentification=deidentification, progress=advance
        )


def _audit_event(out: Path, result: SnapshotResult) -> dict[str, Any]:
    """DICOM "Export" (110106) AuditEvent: who took identifiable data out, when, and where to."""
    return {
        "resourceType": "AuditEvent",
        "type": {"system": DICOM, "code": "110106", "display": "Export"},
        "subtype": [
            {
                "system": "https://joinedup.example.org/fhir/CodeSystem/audit",
                "code": "identifiable-snapshot",
            }
        ],
        "action": "R",
        "recorded": datetime.now(UTC).isoformat(),
        "outcome": "0",
        "agent": [{"who": {"display": f"local user {getpass.getuser()}"}, "requestor": True}],
        "source": {"observer": {"display": "joinedup snapshot --identifiable"}},
        "entity": [
            {
                "what": {"display": str(out.resolve())},
                "description": f"{sum(result.counts.values())} resources, "
                f"snapshot {result.manifest['snapshotTime']}",
            }
        ],
    }


def _check_sqlite_exists(url: str) -> None:
    # Opening a SQLite URL creates the file: a mistyped path would snapshot an empty record.
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            _fail(f"there is no record at {path}; give --db of an existing record")


def _fail(message: str) -> NoReturn:
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {message}")
    raise typer.Exit(2)
