"""``POST /fhir`` with a batch or transaction Bundle."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from joinedup.fhir.bundle import parse_bundle, process
from joinedup.record.shown import shown_in
from joinedup.server.negotiation import json_wanted
from joinedup.server.openapi import RESOURCE_BODY, PreferHeader, responses
from joinedup.server.requests import record_for, resource_body
from joinedup.server.responses import FHIRJSONResponse

router = APIRouter(tags=["FHIR system"], dependencies=[Depends(json_wanted)])


@router.post(
    "",
    responses=responses(200),
    openapi_extra=RESOURCE_BODY,
    summary="batch or transaction Bundle",
)
async def batch_or_transaction(request: Request, prefer_header: PreferHeader = None) -> Response:
    parsed = parse_bundle(await resource_body(request))
    result = await run_in_threadpool(process, parsed, record_for(request))
    request.state.shown = shown_in(result)  # for the audit, instead of parsing the body
    return FHIRJSONResponse(result, status_code=200)
