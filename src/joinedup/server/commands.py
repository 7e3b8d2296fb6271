"""``joinedup serve``: the FHIR API on a socket."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from joinedup.config import get_settings
from joinedup.server.app import FHIR_BASE, create_app
from joinedup.store import open_store


def serve_command(
    db: Annotated[
        str | None,
        typer.Option(help="sqlite:///path.db or postgresql://… (default: the demo record)"),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Serve the record's FHIR R4 API under /fhir (CapabilityStatement at /fhir/metadata).

    The schema is created or migrated on start.

    Example:  joinedup serve --db sqlite:///record.db --port 8000
    """
    settings = get_settings()
    url = db or settings.record_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(url)
    Console(stderr=True).print(
        f"FHIR R4 API at [bold]http://{host}:{port}{FHIR_BASE}[/bold] "
        f"(OpenAPI at http://{host}:{port}/docs); Ctrl+C stops"
    )
    try:
        app = create_app(store, settings)
        # Everything loaded so far lives as long as the server: keeping it out of the cyclic
        # collector's full passes makes each request's garbage cheap to collect (a
        # $everything of 500 resources took twice the CPU with the start-up heap in them).
        gc.freeze()
        # No access log: request lines carry search values (an NHS number, a name).
        uvicorn.run(app, host=host, port=port, access_log=False)
    finally:
        store.close()
