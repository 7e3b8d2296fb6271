"""Bulk Data $export over HTTP, the async request pattern of the HL7 FHIR Bulk Data Access IG
v2.0.0 (https://hl7.org/fhir/uv/bulkdata/export.html):

- kick-off ``GET /fhir/$export``, ``/fhir/Patient/$export``, ``/fhir/Group/{id}/$export`` with
  ``Prefer: respond-async`` → 202 and ``Content-Location`` of the status URL; or ``POST`` to
  the same URLs with the parameters in a FHIR Parameters body (the only way to send
  ``patient``);
- ``GET`` status → 202 with ``X-Progress`` while running, then 200 with the manifest
  (500 with an OperationOutcome if the job failed);
- ``DELETE`` status → 202: the job is cancelled and its files removed;
- each manifest ``url`` downloads one NDJSON file, streamed from disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute

from joinedup.export.bulk.jobs import Job
from joinedup.export.bulk.request import NDJSON, Level, kickoff_parameters, parse_kickoff
from joinedup.export.bulk.service import BulkExportService
from joinedup.fhir.outcome import FHIRError
from joinedup.server.requests import base_url, resource_body
from joinedup.server.responses import FHIRJSONResponse

router = APIRouter(tags=["bulk export"])
STATUS = "$export-status"
FILES = "$export-file"
#: Seconds a client is asked to wait between polls.
RETRY_AFTER = "2"
#: Where ``create_app`` serves FHIR (``joinedup.server.requests.base_url`` assumes it too).
FHIR_BASE = "/fhir"


def mount_bulk_export(app: FastAPI, root: Path) -> BulkExportService:
    """Add the $export routes to a server built by ``create_app`` and start the job service
    (resuming jobs a previous run left unfinished). The routes go first, ahead of the
    ``/{type}/{id}`` read route that would otherwise take ``/Patient/$export``."""
    service = BulkExportService(app.state.store, root, app.state.settings.export_file_resources)
    app.state.bulk_export = service
    before = list(app.router.routes)
    app.include_router(router, prefix=FHIR_BASE)
    added: list[BaseRoute] = [r for r in app.router.routes if r not in before]
    app.router.routes[:] = added + before

    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with previous(application) as state:
            try:
                yield state
            finally:
                service.close()

    app.router.lifespan_context = lifespan
    return service


def _service(request: Request) -> BulkExportService:
    service: BulkExportService = request.app.state.bulk_export
    return service


async def _kick_off(request: Request, level: Level, group_id: str | None = None) -> Response:
    if "respond-async" not in request.headers.get("prefer", ""):
        raise FHIRError(
            "Bulk Data export is asynchronous: send the header Prefer: respond-async",
            expression="Prefer",
        )
    accept = request.headers.get("accept", "application/fhir+json")
    if not any(t in accept for t in ("application/fhir+json", "application/json", "*/*")):
        raise FHIRError(
            "the kick-off answers errors as application/fhir+json; "
            "send Accept: application/fhir+json",
            status=406,
            code="not-supported",
        )
    if request.method == "POST":
        if request.query_params:
            raise FHIRError(
                "a POST kick-off takes its parameters in the Parameters body, not in the URL",
                expression=next(iter(request.query_params)),
            )
        params, patients = kickoff_parameters(await resource_body(request))
    else:
        params, patients = list(request.query_params.multi_items()), []
    export = parse_kickoff(level, group_id, params, patients)
    job = _service(request).kick_off(
        export,
        str(request.url),
        getattr(request.state, "principal", None),
        getattr(request.state, "restriction", None),
    )
    location = f"{base_url(request)}/{STATUS}/{job.id}"
    return Response(status_code=202, headers={"Content-Location": location})


Endpoint = Callable[..., Awaitable[Response]]


def _kick_off_route(path: str, summary: str) -> Callable[[Endpoint], Endpoint]:
    """Register a kick-off for GET (query string) and POST (Parameters body), as two routes
    so each has its own OpenAPI operation."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.get(path, status_code=202, summary=summary)(endpoint)
        router.post(path, status_code=202, summary=f"{summary} (FHIR Parameters body)")(endpoint)
        return endpoint

    return register


@_kick_off_route("/$export", "System-level Bulk Data export kick-off")
async def export_system(request: Request) -> Response:
    return await _kick_off(request, "system")


@_kick_off_route("/Patient/$export", "Patient-level Bulk Data export kick-off")
async def export_patients(request: Request) -> Response:
    return await _kick_off(request, "patient")


@_kick_off_route("/Group/{id}/$export", "Group-level Bulk Data export kick-off")
async def export_group(request: Request, id: str) -> Response:
    return await _kick_off(request, "group", id)


@router.get(f"/{STATUS}/{{job_id}}", summary="Bulk Data export status and manifest")
async def export_status(request: Request, job_id: str) -> Response:
    job = _service(request).job_for(job_id, getattr(request.state, "principal", None))
    if job.status in ("accepted", "in-progress"):
        return Response(
            status_code=202,
            headers={"X-Progress": job.progress or "queued", "Retry-After": RETRY_AFTER},
        )
    if job.status == "failed":
        failure = FHIRError(job.error or "the export failed", status=500, code="exception")
        return FHIRJSONResponse(failure.to_resource(), status_code=500)
    return FHIRJSONResponse(_manifest(request, job))


@router.delete(f"/{STATUS}/{{job_id}}", status_code=202, summary="Cancel a Bulk Data export")
async def export_cancel(request: Request, job_id: str) -> Response:
    service = _service(request)
    service.cancel(service.job_for(job_id, getattr(request.state, "principal", None)))
    return Response(status_code=202)


@router.get(f"/{FILES}/{{job_id}}/{{name}}", summary="Download one Bulk Data export file")
async def export_file(request: Request, job_id: str, name: str) -> Response:
    service = _service(request)
    job = service.job_for(job_id, getattr(request.state, "principal", None))
    return NDJSONFile(service.file_path(job, name), media_type=NDJSON)


class NDJSONFile(FileResponse):
    # Starlette reads 64 KiB per thread hop and ASGI message; export files run to hundreds of
    # megabytes, and bigger reads cut the per-chunk overhead that bounds download speed.
    chunk_size = 1024 * 1024


def _manifest(request: Request, job: Job) -> dict[str, Any]:
    base = base_url(request)
    return {
        "transactionTime": job.transaction_time,
        "request": job.request_url,
        "requiresAccessToken": job.requester is not None,
        "output": [
            {"type": o["type"], "url": f"{base}/{FILES}/{job.id}/{o['file']}", "count": o["count"]}
            for o in job.output or []
        ],
        "error": [],
    }
