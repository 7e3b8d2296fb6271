"""The outcomes framework over FHIR: Measure resources and ``Measure/$evaluate-measure``.

The Measures are the definitions the last ``joinedup measures run`` published
(``measures.json`` in ``Settings.outcomes_dir()``), or the starter library before any run;
they are read-only here. ``$evaluate-measure``
(http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure) answers with a summary
MeasureReport built from the published results of one reporting period: every number in it
has passed disclosure control. Nothing is computed per request, so only periods the last run
covered can be reported. The access policy decides who may call it.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from joinedup.config import Settings
from joinedup.fhir.outcome import FHIRError
from joinedup.measures.definitions import MeasureDefinition, load_library
from joinedup.measures.fhir_reports import fhir_measure, measure_report
from joinedup.server.openapi import ResourceId, responses
from joinedup.server.requests import base_url, no_nul, query_params
from joinedup.server.responses import FHIRJSONResponse
from joinedup.server.routes.catalogue import catalogue_bundle
from joinedup.store.ranges import date_range, micros_to_instant

router = APIRouter(tags=["Outcomes"])

EVALUATE_OPERATION = "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure"
_RUN_HINT = (
    "run `joinedup measures run --source <data-dir>/snapshot --out <data-dir>/outcomes` "
    "(or `joinedup demo`)"
)
_FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_GRAIN_WORDS = {
    "month": "month",
    "quarter": "quarter",
    "year": "financial year (April to March)",
    "rolling_12_months": "rolling 12 months",
}
_NOT_SUPPORTED = {
    "subject": "Place, PCN and practice results are the report's stratifiers (place, pcn, "
    "practice); an R4 MeasureReport's subject cannot be an Organization, and reports about "
    "one person are never published",
    "practitioner": "reports are published for areas, not for practitioners",
    "lastReceivedOn": "results are those of the last `joinedup measures run`",
}


def _published(settings: Settings) -> Path | None:
    folder = settings.outcomes_dir()
    return folder if (folder / "measures.json").is_file() else None


def _definitions(settings: Settings) -> list[MeasureDefinition]:
    folder = _published(settings)
    if folder is None:
        return load_library()
    meta = orjson.loads((folder / "measures.json").read_bytes())
    return [MeasureDefinition.model_validate(m) for m in meta["measures"]]


def _definition(settings: Settings, measure_id: str) -> MeasureDefinition:
    for definition in _definitions(settings):
        if definition.id == measure_id:
            return definition
    raise FHIRError(
        f"there is no Measure {measure_id!r}; GET /fhir/Measure lists them",
        status=404,
        code="not-found",
    )


@router.get("/Measure", responses=responses(200), summary="List the outcome measures")
async def search_measures(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    measures = await run_in_threadpool(_definitions, settings)
    return FHIRJSONResponse(
        catalogue_bundle(
            base_url(request),
            str(request.url),
            "Measure",
            (fhir_measure(m) for m in measures),
            query_params(request),
        )
    )


# --- $evaluate-measure ---------------------------------------------------------------------


def _day(value: str, name: str, *, end: bool) -> date:
    """A FHIR date (``2024``, ``2024-04``, ``2024-04-30``) as its first or last day."""
    try:
        if not _FHIR_DATE.match(value):  # a date, not a dateTime
            raise ValueError(value)
        low, high = date_range(value)
    except ValueError:
        raise FHIRError(f"{name} is a date: YYYY, YYYY-MM or YYYY-MM-DD", expression=name) from None
    return date.fromisoformat(micros_to_instant(high if end else low)[:10])


def _period(given: dict[str, str]) -> tuple[str, str]:
    for name in ("periodStart", "periodEnd"):
        if not given.get(name):
            raise FHIRError(
                f"{name} is required (e.g. periodStart=2024-04-01&periodEnd=2024-06-30)",
                code="required",
                expression=name,
            )
    start = _day(given["periodStart"], "periodStart", end=False)
    end = _day(given["periodEnd"], "periodEnd", end=True)
    if end < start:
        raise FHIRError("periodEnd is before periodStart", expression="periodEnd")
    return start.isoformat(), end.isoformat()


def _evaluate_params(request: Request, instance: bool) -> dict[str, str]:
    given: dict[str, str] = {}
    for name, value in no_nul(list(request.query_params.multi_items())):
        if name in _NOT_SUPPORTED:
            raise FHIRError(
                f"{name} is not supported: {_NOT_SUPPORTED[name]}",
                code="not-supported",
                expression=name,
            )
        if name == "measure" and instance:
            raise FHIRError("the URL names the measure; leave out measure", expression=name)
        if name not in ("periodStart", "periodEnd", "reportType", "measure", "_format"):
            raise FHIRError(
                "$evaluate-measure takes periodStart, periodEnd, reportType (population)"
                + ("" if instance else " and measure")
                + f"; not {name!r}",
                code="not-supported",
                expression=name,
            )
        if name in given:
            raise FHIRError(f"give {name} once", expression=name)
        given[name] = value
    report_type = given.get("reportType", "population")
    if report_type != "population":
        raise FHIRError(
            f"reportType {report_type!r} is not supported: only population (summary) reports "
            "are published; reports about one person or a list of people would identify them",
            code="not-supported",
            expression="reportType",
        )
    return given


def _report(settings: Settings, measure_id: str, given: dict[str, str]) -> dict[str, Any]:
    start, end = _period(given)
    definition = _definition(settings, measure_id)
    folder = _published(settings)
    if folder is None:
        raise FHIRError(
            f"no outcomes have been published yet: {_RUN_HINT}", status=409, code="conflict"
        )
    rows: list[dict[str, Any]] = pq.read_table(
        folder / "results.parquet", filters=[("measure_id", "=", measure_id)]
    ).to_pylist()
    periods = sorted(
        {(r["period_start"], r["period_end"]) for r in rows if r["breakdown"] == "ics"}
    )
    if (start, end) not in periods:
        grain = str(rows[0]["grain"]) if rows else definition.grain.value
        raise FHIRError(
            _period_hint(measure_id, grain, periods, start, end), expression="periodStart"
        )
    return measure_report(definition, rows, start)


def _period_hint(
    measure_id: str, grain: str, periods: list[tuple[str, str]], start: str, end: str
) -> str:
    asked = f"{measure_id} has no published result for {start} to {end}"
    if not periods:
        return f"{asked}: the last run published none for it; {_RUN_HINT}"
    first, last = periods[0], periods[-1]
    return (
        f"{asked}; it is published per {_GRAIN_WORDS.get(grain, grain)} from {first[0]} to "
        f"{last[1]}: ask for one of those periods, e.g. "
        f"periodStart={last[0]}&periodEnd={last[1]} (the latest)"
    )


async def _evaluate(request: Request, measure_id: str, given: dict[str, str]) -> Response:
    settings: Settings = request.app.state.settings
    report = await run_in_threadpool(_report, settings, measure_id, given)
    return FHIRJSONResponse(report)


@router.get(
    "/Measure/$evaluate-measure",
    responses=responses(200),
    summary="Population MeasureReport of one published period (measure=<id>)",
)
async def evaluate_measure_by_parameter(request: Request) -> Response:
    given = _evaluate_params(request, instance=False)
    # Measure/<id>, an absolute URL or the canonical url: all end in Measure/<id>.
    measure_id = given.get("measure", "").rpartition("Measure/")[2]
    if not measure_id:
        raise FHIRError("measure is required at this URL (measure=<id>)", expression="measure")
    return await _evaluate(request, measure_id, given)


@router.get("/Measure/{id}", responses=responses(200), summary="Read an outcome measure")
async def read_measure(request: Request, id: ResourceId) -> Response:
    settings: Settings = request.app.state.settings
    definition = await run_in_threadpool(_definition, settings, id)
    return FHIRJSONResponse(fhir_measure(definition))


@router.get(
    "/Measure/{id}/$evaluate-measure",
    responses=responses(200),
    summary="Population MeasureReport of one published period",
)
async def evaluate_measure(request: Request, id: ResourceId) -> Response:
    return await _evaluate(request, id, _evaluate_params(request, instance=True))
