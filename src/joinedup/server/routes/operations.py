"""Operations: ``Patient/{id}/$everything`` (paged; the whole Patient compartment)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from joinedup.fhir.bundle import EntryRequest, Target
from joinedup.server.dispatch import respond
from joinedup.server.negotiation import json_wanted
from joinedup.server.openapi import ResourceId, responses
from joinedup.server.requests import query_params

router = APIRouter(tags=["FHIR operations"], dependencies=[Depends(json_wanted)])


@router.get("/Patient/{id}/$everything", responses=responses(200), summary="Patient $everything")
async def everything(
    request: Request,
    id: ResourceId,
    since: Annotated[str | None, Query(alias="_since")] = None,
    types: Annotated[str | None, Query(alias="_type")] = None,
    count: Annotated[str | None, Query(alias="_count", pattern=r"^[0-9]{1,6}$")] = None,
) -> Response:
    target = Target("Patient", id, operation="$everything", params=query_params(request))
    return await respond(request, EntryRequest("GET", target))
