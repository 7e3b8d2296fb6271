"""``joinedup demo``: the one command a newcomer runs.

It walks the platform's whole data flow on a synthetic ICS: generate it, load it into the
shared care record, take a de-identified snapshot, compute the outcomes framework, and
serve the record, the clinician and citizen pages and the dashboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from joinedup.access.install import EXTENSIONS
from joinedup.config import get_settings
from joinedup.export.commands import snapshot_with_progress
from joinedup.export.deidentify import Deidentification
from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.export.sources import StoreSource
from joinedup.measures.commands import compute_with_progress
from joinedup.measures.definitions import load_library
from joinedup.measures.definitions.loader import STARTER_LIBRARY
from joinedup.record.commands import load_files
from joinedup.record.load import source_files
from joinedup.server.app import create_app
from joinedup.store import open_store
from joinedup.synth.commands import fail, run_with_progress, summary_table
from joinedup.synth.errors import SynthInputError
from joinedup.synth.generator import SynthOptions, SynthSummary, validate_settings

DEMO_PEOPLE = 3_000
DEMO_SEED = 2021


def structure_table(summary: SynthSummary) -> Table:
    table = Table(
        title=f"{summary.people:,} people, {summary.pcns} PCNs, {summary.practices} GP practices"
    )
    table.add_column("Place")
    table.add_column("Registered people", justify="right")
    table.add_column("PCNs", justify="right")
    table.add_column("GP practices", justify="right")
    table.add_column("LSOAs in Core20", justify="right")
    for place in summary.places:
        table.add_row(
            place.name,
            f"{place.people:,}",
            str(place.pcns),
            str(place.practices),
            f"{place.deprived_lsoas:.0%}",
        )
    return table


def demo_command(
    people: Annotated[
        int, typer.Option("--people", help="How many people in the synthetic ICS.")
    ] = DEMO_PEOPLE,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Where to keep the demo's data (default: JOINEDUP_DATA_DIR)."
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8000,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Build everything, then exit instead of serving.")
    ] = False,
) -> None:
    """Build a synthetic ICS, load it into the record, compute outcomes and serve it all.

    Steps: synthetic ICS -> shared care record (SQLite) -> de-identified snapshot ->
    outcomes framework -> http://127.0.0.1:PORT/web/ (sign in as a persona) and /dashboard/.
    Everything lives in --data-dir and is rebuilt on each run.

    Example:  joinedup demo --people 2000 --data-dir /tmp/joinedup --port 8000
    """
    base = get_settings()
    settings = base.model_copy(update={"data_dir": data_dir or base.data_dir, "db_url": None})
    directory = settings.data_dir
    console = Console()
    progress_console = Console(stderr=True)

    console.rule("1/4  synthetic Integrated Care System")
    options = SynthOptions(people=people, seed=DEMO_SEED, out=directory / "synthetic", force=True)
    try:
        validate_settings(options)
        directory.mkdir(parents=True, exist_ok=True)
        summary = run_with_progress(options, progress_console)
    except SynthInputError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(
            f"--data-dir {directory}: {exc.strerror}; choose a folder you can write to"
        ) from None
    console.print(structure_table(summary))
    console.print(summary_table(summary))

    console.rule("2/4  shared care record")
    # The demo owns its record: a re-run starts from an empty one.
    record = Path(settings.record_url().removeprefix("sqlite:///"))
    for stale in (record, *(record.with_name(record.name + s) for s in ("-wal", "-shm"))):
        stale.unlink(missing_ok=True)
    store = open_store(settings.record_url(), extensions=EXTENSIONS)
    try:
        loaded, _ = load_files(
            store, source_files([options.out]), progress_console, org=None, strict=False
        )
        if loaded.problems:
            raise fail(
                f"{len(loaded.problems)} resources did not load; first: {loaded.problems[0]}"
            )
        console.print(f"{loaded.resources:,} resources in the record at {record}")

        console.rule("3/4  de-identified snapshot for analytics")
        deidentification = Deidentification(Pseudonymiser.for_demo(directory))
        snapshot = snapshot_with_progress(
            progress_console,
            StoreSource(store),
            settings.snapshot_dir(),
            "parquet",
            deidentification,
        )
        removed = snapshot.manifest["optOut"]
        console.print(
            f"{sum(snapshot.counts.values()):,} resources in {settings.snapshot_dir()}; "
            f"national data opt-out removed {removed['peopleRemoved']:,} people"
        )

        console.rule("4/4  outcomes framework")
        outcomes = compute_with_progress(
            settings.snapshot_dir(),
            settings.outcomes_dir(),
            STARTER_LIBRARY,
            None,
            measures_count=len(load_library(STARTER_LIBRARY)),
            console=progress_console,
        )
        console.print(
            f"{outcomes.measures} measures, {outcomes.result_rows:,} published rows "
            f"in {settings.outcomes_dir()}"
        )
        if no_serve:
            return
        app = create_app(store, settings)
        console.rule("serving")
        console.print(
            f"Sign in as a GP, physio, social worker, Place leader, analyst or patient:\n"
            f"  http://127.0.0.1:{port}/web/sign-in\n"
            f"Outcomes dashboard: http://127.0.0.1:{port}/dashboard/\n"
            f"FHIR API: http://127.0.0.1:{port}/fhir/metadata "
            f"(tokens: joinedup token --role clinician --help)\nCtrl+C stops."
        )
        # No access log: request lines carry search values (an NHS number, a name).
        uvicorn.run(app, host="127.0.0.1", port=port, access_log=False)
    finally:
        store.close()
