"""SQL on FHIR v2 over HTTP: ``ViewDefinition/$run`` for stored and inline views, and the
standard view library as read-only ViewDefinition resources.

Operation: http://sql-on-fhir.org/OperationDefinition/$run (type level with ``viewResource``
or ``viewReference``; instance level on a stored view). Views run with the DuckDB engine on
the de-identified analytics snapshot (``Settings.snapshot_dir()``) and nothing else: never the
live record, never an identifiable snapshot, never resources sent in the request. The access
policy decides who may call these routes (analysts and system tokens).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import duckdb
import orjson
from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from joinedup.config import Settings
from joinedup.export.snapshot import MANIFEST
from joinedup.fhir.outcome import FHIRError
from joinedup.server.openapi import responses
from joinedup.server.requests import base_url, no_nul, query_params, resource_body
from joinedup.server.responses import FHIRJSONResponse
from joinedup.server.routes.catalogue import catalogue_bundle
from joinedup.views.api import load_view, write_output
from joinedup.views.library import VIEW_NAMES, library_view, library_view_json
from joinedup.views.model import ViewDefinition
from joinedup.views.sources import Source

router = APIRouter(tags=["SQL on FHIR"])

RUN_OPERATION = "http://sql-on-fhir.org/OperationDefinition/$run"

#: A stored view's id, or its name (the library's names hold underscores, ids may not).
ViewId = Annotated[
    str,
    PathParam(
        pattern=r"^[A-Za-z0-9\-\._]{1,64}$",
        description="A stored ViewDefinition's id (or name), e.g. patients",
        examples=["patients"],
    ),
]


@dataclass(frozen=True)
class OutputFormat:
    code: str
    suffix: str
    media_type: str


_FORMATS = {
    f.code: f
    for f in (
        OutputFormat("ndjson", ".ndjson", "application/x-ndjson"),
        OutputFormat("json", ".json", "application/json"),
        OutputFormat("csv", ".csv", "text/csv"),
        OutputFormat("parquet", ".parquet", "application/vnd.apache.parquet"),
    )
}
_MEDIA_TYPES = {f.media_type: f for f in _FORMATS.values()} | {
    "application/ndjson": _FORMATS["ndjson"],
    "application/fhir+ndjson": _FORMATS["ndjson"],
}
#: The spec's default when neither ``_format`` nor ``Accept`` names a format.
_DEFAULT_FORMAT = _FORMATS["ndjson"]

_SUPPORTED = ("_format", "header", "_limit", "viewReference", "viewResource")
_NOT_SUPPORTED = {
    "resource": "views run on the de-identified analytics snapshot, not on resources sent in "
    "the request",
    "source": "the only source is the de-identified analytics snapshot",
    "patient": "the snapshot is de-identified; there are no patients to filter by",
    "group": "the snapshot is de-identified; there are no groups to filter by",
    "_since": "the snapshot is taken at one time; run `joinedup snapshot` again for newer data",
    "_count": "use _limit to cap the rows",
    "_page": "results are not paged; use _limit to cap the rows",
}


# --- the stored views ----------------------------------------------------------------------


def _view_id(name: str) -> str:
    return name.replace("_", "-")


def _stored_name(id_or_name: str) -> str:
    for name in VIEW_NAMES:
        if id_or_name in (name, _view_id(name)):
            return name
    raise FHIRError(
        f"there is no stored ViewDefinition {id_or_name!r}; GET /fhir/ViewDefinition lists them",
        status=404,
        code="not-found",
    )


def _stored_resource(name: str) -> dict[str, Any]:
    definition = library_view_json(name)
    return {"resourceType": "ViewDefinition", "id": _view_id(name), **definition}


def _referenced_name(reference: Any) -> str:
    """The stored view a ``viewReference`` names: its canonical url, ``ViewDefinition/{id}``
    or an absolute URL ending so."""
    if not isinstance(reference, str):
        raise FHIRError(
            "viewReference is a Reference (ViewDefinition/<id>) or a url",
            expression="viewReference",
        )
    for name in VIEW_NAMES:
        if reference.split("|")[0] == library_view_json(name).get("url"):
            return name
    _, found, view_id = reference.rpartition("ViewDefinition/")
    if not found or "/" in view_id:
        raise FHIRError(
            f"viewReference {reference!r} is not ViewDefinition/<id> nor a stored view's url",
            expression="viewReference",
        )
    return _stored_name(view_id)


@router.get("/ViewDefinition", responses=responses(200), summary="List the stored views")
async def search_views(request: Request) -> Response:
    return FHIRJSONResponse(
        catalogue_bundle(
            base_url(request),
            str(request.url),
            "ViewDefinition",
            (_stored_resource(name) for name in VIEW_NAMES),
            query_params(request),
            extra={"resource": "resource"},
        )
    )


# --- $run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    view: ViewDefinition
    stored: str | None
    output: OutputFormat
    header: bool
    limit: int | None


def _parameter_value(parameter: dict[str, Any], index: int) -> Any:
    for key, value in parameter.items():
        if key == "resource" or key.startswith("value"):
            if key == "valueReference":
                return value.get("reference") if isinstance(value, dict) else None
            return value
    raise FHIRError(
        "a parameter needs a value[x] or a resource",
        expression=f"Parameters.parameter[{index}]",
    )


async def _body_parameters(request: Request) -> list[tuple[str, Any]]:
    if request.method != "POST" or not await request.body():
        return []
    body = await resource_body(request)
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FHIRError(
            "POST a Parameters resource (viewResource, viewReference, _format, header, _limit)",
            expression="Parameters",
        )
    found = []
    for index, parameter in enumerate(body.get("parameter") or []):
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise FHIRError(
                "each parameter needs a name", expression=f"Parameters.parameter[{index}]"
            )
        found.append((parameter["name"], _parameter_value(parameter, index)))
    return found


def _one_each(parameters: list[tuple[str, Any]]) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for name, value in parameters:
        if name in _NOT_SUPPORTED:
            raise FHIRError(
                f"{name} is not supported: {_NOT_SUPPORTED[name]}",
                code="not-supported",
                expression=name,
            )
        if name not in _SUPPORTED:
            raise FHIRError(
                f"$run takes {', '.join(_SUPPORTED)}; not {name!r}",
                code="not-supported",
                expression=name,
            )
        if name in given:
            raise FHIRError(f"give {name} once", expression=name)
        given[name] = value
    return given


def _output(request: Request, requested: Any) -> OutputFormat:
    if requested is not None:
        text = str(requested).strip().lower()
        found = _FORMATS.get(text) or _MEDIA_TYPES.get(text)
        if found is None:
            raise FHIRError(
                f"_format {requested!r} is not offered; use one of {', '.join(_FORMATS)}",
                code="not-supported",
                expression="_format",
            )
        return found
    for accepted in request.headers.get("accept", "").split(","):
        found = _MEDIA_TYPES.get(accepted.split(";")[0].strip().lower())
        if found is not None:
            return found
    return _DEFAULT_FORMAT


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise FHIRError("header is true or false", expression="header")


def _limit(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).isdigit() or len(str(value)) > 9:
        raise FHIRError("_limit is a whole number of rows (0 or more)", expression="_limit")
    return int(value)


def _inline_view(value: Any) -> ViewDefinition:
    if not isinstance(value, dict) or value.get("resourceType") != "ViewDefinition":
        raise FHIRError(
            "viewResource must carry a ViewDefinition resource", expression="viewResource"
        )
    return load_view(value)


async def _run_request(request: Request, stored_id: str | None) -> RunRequest:
    # With _format, which query_params leaves out (searches always answer FHIR JSON).
    query = no_nul(list(request.query_params.multi_items()))
    given = _one_each(query + await _body_parameters(request))
    inline, reference = given.get("viewResource"), given.get("viewReference")
    if stored_id is not None and (inline is not None or reference is not None):
        raise FHIRError(
            "the URL names the view; leave out viewResource and viewReference",
            expression="viewReference" if reference is not None else "viewResource",
        )
    if stored_id is None and (inline is None) == (reference is None):
        raise FHIRError(
            "give exactly one of viewResource (POST) or viewReference",
            code="required",
            expression="viewResource",
        )
    if inline is not None:
        view, stored = _inline_view(inline), None
    else:
        stored = _stored_name(stored_id) if stored_id is not None else _referenced_name(reference)
        view = library_view(stored)
    return RunRequest(
        view=view,
        stored=stored,
        output=_output(request, given.get("_format")),
        header=_flag(given.get("header", True)),
        limit=_limit(given.get("_limit")),
    )


def deidentified_snapshot(settings: Settings) -> Source:
    """The analytics snapshot, checked to be de-identified by its manifest."""
    folder = settings.snapshot_dir()
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise FHIRError(
            "there is no analytics snapshot yet: run `joinedup snapshot --out "
            "<data-dir>/snapshot` (de-identified by default), then run the view again",
            status=409,
            code="conflict",
        )
    try:
        identifiable = orjson.loads(manifest.read_bytes()).get("identifiable")
    except (orjson.JSONDecodeError, AttributeError):
        identifiable = None
    if identifiable is not False:
        raise FHIRError(
            "the snapshot in <data-dir>/snapshot is not marked de-identified; views run only on "
            "a de-identified snapshot: run `joinedup snapshot --out <data-dir>/snapshot` "
            "without --identifiable",
            status=409,
            code="security",
        )
    return Source.open(folder)


async def _run(request: Request, run: RunRequest) -> Response:
    settings: Settings = request.app.state.settings
    source = deidentified_snapshot(settings)
    if run.stored is not None:
        request.state.audit_entities = [f"ViewDefinition/{_view_id(run.stored)}"]
    folder = Path(tempfile.mkdtemp(prefix="joinedup-view-run-"))
    out = folder / f"rows{run.output.suffix}"
    try:
        await run_in_threadpool(
            write_output, run.view, source, out, limit=run.limit, header=run.header
        )
    except duckdb.Error as error:
        shutil.rmtree(folder, ignore_errors=True)
        # The messages are the view's own rule texts (compiled in) or DuckDB's on bad data.
        raise FHIRError(
            f"the view failed on the snapshot's data: {error}", code="processing"
        ) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        out,
        media_type=run.output.media_type,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


_RUN_SUMMARY = "Run an inline (viewResource) or stored (viewReference) view on the snapshot"


@router.get("/ViewDefinition/$run", responses=responses(200), summary=_RUN_SUMMARY)
@router.post(
    "/ViewDefinition/$run",
    responses=responses(200),
    summary=_RUN_SUMMARY,
    operation_id="run_view_post",
)
async def run_view(request: Request) -> Response:
    return await _run(request, await _run_request(request, None))


@router.get("/ViewDefinition/{id}", responses=responses(200), summary="Read a stored view")
async def read_view(id: ViewId) -> Response:
    return FHIRJSONResponse(_stored_resource(_stored_name(id)))


_STORED_SUMMARY = "Run a stored view on the de-identified snapshot"


@router.get("/ViewDefinition/{id}/$run", responses=responses(200), summary=_STORED_SUMMARY)
@router.post(
    "/ViewDefinition/{id}/$run",
    responses=responses(200),
    summary=_STORED_SUMMARY,
    operation_id="run_stored_view_post",
)
async def run_stored_view(request: Request, id: ViewId) -> Response:
    return await _run(request, await _run_request(request, id))
