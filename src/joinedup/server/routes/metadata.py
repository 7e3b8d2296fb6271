"""``GET /fhir/metadata``: the CapabilityStatement."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from joinedup.server.capability import capability_statement
from joinedup.server.negotiation import json_wanted
from joinedup.server.openapi import responses
from joinedup.server.requests import base_url
from joinedup.server.responses import FHIRJSONResponse

router = APIRouter(tags=["FHIR system"], dependencies=[Depends(json_wanted)])


@router.get("/metadata", responses=responses(200), summary="CapabilityStatement")
async def metadata(request: Request) -> Response:
    return FHIRJSONResponse(capability_statement(base_url(request)))
